package antientropy

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// naiveRoot computes a root hash by recursion over leaf spans, an oracle
// independent of the level-by-level construction: a node covers span
// leaves (a power of Fanout), a leaf covers one, and an inner node hashes
// its Fanout sub-spans that hold any leaves.
func naiveRoot(leaves []uint64) uint64 {
	span := 1
	for span < len(leaves) {
		span *= Fanout
	}
	return naiveNode(leaves, span)
}

func naiveNode(leaves []uint64, span int) uint64 {
	if span == 1 {
		return leaves[0]
	}
	var b []byte
	for lo := 0; lo < len(leaves); lo += span / Fanout {
		kid := leaves[lo:min(lo+span/Fanout, len(leaves))]
		b = binary.BigEndian.AppendUint64(b, naiveNode(kid, span/Fanout))
	}
	return xxhash.Sum64(b)
}

func TestTreeShape(t *testing.T) {
	tests := []struct {
		leaves int
		sizes  []int // level sizes, root first
	}{
		{0, []int{1}},
		{1, []int{1}},
		{2, []int{1, 2}},
		{16, []int{1, 16}},
		{17, []int{1, 2, 17}},
		{256, []int{1, 16, 256}},
		{257, []int{1, 2, 17, 257}},
		{Buckets, []int{1, 16, 256, 4096, Buckets}},
		{MaxLeaves, []int{1, 2, 17, 257, 4097, MaxLeaves}},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range tests {
		hs := make([]uint64, tc.leaves)
		for i := range hs {
			hs[i] = rng.Uint64()
		}
		tr := NewTree(hs)
		if tr.Depth() != len(tc.sizes) {
			t.Fatalf("%d leaves: depth %d, want %d", tc.leaves, tr.Depth(), len(tc.sizes))
		}
		for l, n := range tc.sizes {
			if len(tr.Level(l)) != n {
				t.Fatalf("%d leaves: level %d has %d nodes, want %d", tc.leaves, l, len(tr.Level(l)), n)
			}
		}
		if tc.leaves > 0 && tr.Root() != naiveRoot(hs) {
			t.Fatalf("%d leaves: root %#x, naive %#x", tc.leaves, tr.Root(), naiveRoot(hs))
		}
		checkChildren(t, tr)
	}
}

// checkChildren checks that the children of each level's nodes are the
// next level, each node once, in order, and that every inner hash is the
// hash of its children.
func checkChildren(t *testing.T, tr *Tree) {
	t.Helper()
	for l := 0; l+1 < tr.Depth(); l++ {
		next := 0
		for i, h := range tr.Level(l) {
			first, n := tr.Children(l, i)
			if first != next || n < 1 || n > Fanout {
				t.Fatalf("level %d node %d: children [%d, +%d), want from %d", l, i, first, n, next)
			}
			var b []byte
			for _, c := range tr.Level(l + 1)[first : first+n] {
				b = binary.BigEndian.AppendUint64(b, c)
			}
			if xxhash.Sum64(b) != h {
				t.Fatalf("level %d node %d: hash is not its children's", l, i)
			}
			next = first + n
		}
		if next != len(tr.Level(l+1)) {
			t.Fatalf("level %d covers %d of %d children", l, next, len(tr.Level(l+1)))
		}
	}
	last := tr.Depth() - 1
	if _, n := tr.Children(last, 0); n != 0 {
		t.Fatalf("a leaf has %d children", n)
	}
	if tr.Leaves() != len(tr.Level(last)) {
		t.Fatalf("Leaves() = %d, last level has %d", tr.Leaves(), len(tr.Level(last)))
	}
}

// TestMaxLevel keeps the decoder's level bound in step with the deepest
// tree a range can have.
func TestMaxLevel(t *testing.T) {
	if d := NewTree(make([]uint64, MaxLeaves)).Depth(); d != maxLevel+1 {
		t.Fatalf("a tree of MaxLeaves leaves has %d levels; maxLevel is %d", d, maxLevel)
	}
}

// TestTreePositionMatters checks that moving a leaf hash to another
// position changes the root even though the multiset of hashes is equal.
func TestTreePositionMatters(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{2, 17, 300, 5000} {
		hs := make([]uint64, n)
		for i := range hs {
			hs[i] = rng.Uint64()
		}
		root := NewTree(append([]uint64(nil), hs...)).Root()
		i, j := rng.IntN(n), rng.IntN(n)
		if i == j {
			j = (i + 1) % n
		}
		hs[i], hs[j] = hs[j], hs[i]
		if NewTree(hs).Root() == root {
			t.Fatalf("%d leaves: swapping leaves %d and %d kept the root", n, i, j)
		}
	}
}

func TestTreeHashes(t *testing.T) {
	tr := NewTree([]uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17})
	got, err := tr.Hashes(2, []int{16, 0, 3})
	if err != nil || len(got) != 3 || got[0] != 17 || got[1] != 1 || got[2] != 4 {
		t.Fatalf("Hashes = %v, %v", got, err)
	}
	if got, err := tr.Hashes(0, []int{0}); err != nil || got[0] != tr.Root() {
		t.Fatalf("root Hashes = %v, %v", got, err)
	}
	for _, bad := range []struct {
		level int
		idx   []int
	}{{-1, nil}, {3, nil}, {1, []int{2}}, {2, []int{-1}}, {2, []int{17}}} {
		if _, err := tr.Hashes(bad.level, bad.idx); !errors.Is(err, ErrBadRequest) {
			t.Errorf("Hashes(%d, %v) error %v, want ErrBadRequest", bad.level, bad.idx, err)
		}
	}
}

func BenchmarkNewTreeWholeRing(b *testing.B) {
	hs := make([]uint64, Buckets)
	for i := range hs {
		hs[i] = uint64(i) * 0x9e3779b97f4a7c15
	}
	b.ReportAllocs()
	for b.Loop() {
		NewTree(hs)
	}
}

func BenchmarkDiffOneLeaf(b *testing.B) {
	hs := make([]uint64, Buckets)
	local := NewTree(hs)
	other := make([]uint64, Buckets)
	other[12345] = 1
	remote := NewTree(other)
	b.ReportAllocs()
	for b.Loop() {
		if leaves, _, err := Diff(local, remote.Root(), remote.Hashes); err != nil || len(leaves) != 1 {
			b.Fatalf("Diff = %v, %v", leaves, err)
		}
	}
}
