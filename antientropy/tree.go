package antientropy

import (
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"
)

// Fanout is the number of children of every inner node (the last node of
// a level may have fewer). With 16, the 65536 leaves of a whole ring make a
// tree of 5 levels, and a diff that finds one differing leaf fetches 16
// hashes per level below the root.
const Fanout = 16

// Tree is a Merkle tree over the leaf hashes of one range. Level 0 is the
// root; the last level is the leaves themselves. Level l+1 groups into
// runs of Fanout consecutive nodes, run i being the children of node i of
// level l, and an inner node's hash is xxhash64 of its children's hashes
// (8 bytes big-endian each, in order), so a hash covers positions as well
// as values. The shape depends only on the number of leaves, which both
// replicas derive from the same range.
//
// A Tree is immutable once built and safe for concurrent reads.
type Tree struct {
	// levels[0] holds the root alone; levels[len-1] the leaf hashes.
	levels [][]uint64
}

// NewTree builds the tree over leafHashes, which it keeps (the caller
// must not modify them afterwards). An empty list is treated as a single
// leaf of hash 0, the hash of a leaf without records.
func NewTree(leafHashes []uint64) *Tree {
	if len(leafHashes) == 0 {
		leafHashes = []uint64{0}
	}
	levels := [][]uint64{leafHashes}
	for below := leafHashes; len(below) > 1; {
		above := make([]uint64, (len(below)+Fanout-1)/Fanout)
		var buf [Fanout * 8]byte
		for i := range above {
			kids := below[i*Fanout : min((i+1)*Fanout, len(below))]
			above[i] = innerHash(&buf, kids)
		}
		levels = append(levels, above)
		below = above
	}
	// Built bottom-up; store top-down so that level 0 is the root.
	for i, j := 0, len(levels)-1; i < j; i, j = i+1, j-1 {
		levels[i], levels[j] = levels[j], levels[i]
	}
	return &Tree{levels: levels}
}

// innerHash hashes the concatenated big-endian child hashes without
// allocating.
func innerHash(buf *[Fanout * 8]byte, kids []uint64) uint64 {
	for k, h := range kids {
		binary.BigEndian.PutUint64(buf[k*8:], h)
	}
	return xxhash.Sum64(buf[:len(kids)*8])
}

// Root returns the root hash, which summarizes the whole range.
func (t *Tree) Root() uint64 { return t.levels[0][0] }

// Depth returns the number of levels, the root's and the leaves' included.
func (t *Tree) Depth() int { return len(t.levels) }

// Leaves returns the number of leaves.
func (t *Tree) Leaves() int { return len(t.levels[len(t.levels)-1]) }

// Level returns the hashes of level l, 0 being the root. The slice is the
// tree's own and must not be modified. It panics if l is out of range.
func (t *Tree) Level(l int) []uint64 { return t.levels[l] }

// Children returns the indices [first, first+n) at level l+1 of the
// children of node i of level l; n is 0 for a leaf.
func (t *Tree) Children(l, i int) (first, n int) {
	if l+1 >= len(t.levels) {
		return 0, 0
	}
	first = i * Fanout
	return first, max(0, min(Fanout, len(t.levels[l+1])-first))
}

// Hashes returns the hashes of the nodes idx of level l, as a replica
// answers a NodesRequest. It fails with ErrBadRequest if the level or an
// index is out of range.
func (t *Tree) Hashes(l int, idx []int) ([]uint64, error) {
	if l < 0 || l >= len(t.levels) {
		return nil, fmt.Errorf("%w: level %d of a %d-level tree", ErrBadRequest, l, len(t.levels))
	}
	level := t.levels[l]
	out := make([]uint64, len(idx))
	for k, i := range idx {
		if i < 0 || i >= len(level) {
			return nil, fmt.Errorf("%w: node %d of level %d with %d nodes", ErrBadRequest, i, l, len(level))
		}
		out[k] = level[i]
	}
	return out, nil
}
