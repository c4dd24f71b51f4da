package antientropy

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/ringcache/ringcache/engine"
)

// Sentinel errors; errors returned by this package wrap one of them with
// %w, so callers compare with errors.Is.
var (
	// ErrBadRequest is returned when a request names a level, node or leaf
	// that the range's tree does not have: the peers disagree about the
	// range, or the request is corrupt.
	ErrBadRequest = errors.New("antientropy: bad request")
	// ErrBadAnswer is returned by Diff when the remote side answers a
	// different number of hashes than it was asked for.
	ErrBadAnswer = errors.New("antientropy: answer does not match the request")
	// ErrMalformed is returned by every decoder for input that is not a
	// well-formed message: truncated, oversized, non-canonical or with
	// trailing bytes.
	ErrMalformed = errors.New("antientropy: malformed message")
)

// Diff walks local and the remote tree of the same range top-down,
// descending only into nodes whose hashes differ, and returns the indices
// of the differing leaves in ascending (ring) order. remoteRoot is the
// remote tree's root; remote answers the hashes of the nodes idx (in
// ascending order) of one level, in the same order, and is called once per
// level below the root, so the caller turns each call into one network
// round trip. fetched is the number of remote hashes requested: 0 when the
// roots agree, at most Fanout per differing node per level otherwise.
//
// Both trees must have the same shape, which holds when both were built
// from the leaves of the same range. Diff stops early, with no leaves, if
// the remote tree changed between calls so that no differing node is left
// to descend into; the next round catches up.
func Diff(local *Tree, remoteRoot uint64, remote func(level int, idx []int) ([]uint64, error)) (leaves []int, fetched int, err error) {
	if local.Root() == remoteRoot {
		return nil, 0, nil
	}
	differ := []int{0} // differing nodes of level l, ascending
	for l := 0; l+1 < local.Depth(); l++ {
		idx := childrenOf(local, l, differ)
		hashes, err := remote(l+1, idx)
		fetched += len(idx)
		if err != nil {
			return nil, fetched, fmt.Errorf("antientropy: fetching level %d: %w", l+1, err)
		}
		if len(hashes) != len(idx) {
			return nil, fetched, fmt.Errorf("%w: asked %d hashes of level %d, got %d",
				ErrBadAnswer, len(idx), l+1, len(hashes))
		}
		below := local.Level(l + 1)
		differ = differ[:0]
		for k, i := range idx {
			if below[i] != hashes[k] {
				differ = append(differ, i)
			}
		}
		if len(differ) == 0 {
			return nil, fetched, nil
		}
	}
	return differ, fetched, nil
}

// childrenOf lists the children at level l+1 of the nodes of level l, in
// order. Nodes ascend, so children do too.
func childrenOf(t *Tree, l int, nodes []int) []int {
	out := make([]int, 0, len(nodes)*Fanout)
	for _, i := range nodes {
		first, n := t.Children(l, i)
		for c := first; c < first+n; c++ {
			out = append(out, c)
		}
	}
	return out
}

// Entry is what a replica reports for one stored record of a differing
// leaf: enough to decide which side holds the newer write, without the
// value.
type Entry struct {
	// Key is the user key.
	Key []byte
	// Version is the version of the write that produced the record.
	Version engine.Version
	// ExpireAt is the absolute expiry in Unix milliseconds; 0 means none.
	ExpireAt int64
	// Tombstone marks a delete, which is replicated like any write.
	Tombstone bool
	// Size is the key's and the value's bytes together, the measure of
	// Limits.MaxRecordBytes; repair batches are sized by it. 0: not known
	// (a peer that does not report it).
	Size int
}

// CompareKeys orders user keys as the engine scans them: by token
// (engine.Token), then bytewise.
func CompareKeys(a, b []byte) int {
	return compareScan(engine.Token(a), a, engine.Token(b), b)
}

func compareScan(ta uint64, a []byte, tb uint64, b []byte) int {
	if c := cmp.Compare(ta, tb); c != 0 {
		return c
	}
	return bytes.Compare(a, b)
}

// Reconcile compares the entries both sides hold for the same leaves and
// returns the keys this side must push (local newer, or missing remotely)
// and pull (remote newer, or missing locally), each in scan order. Equal
// versions transfer nothing: both sides already hold that write, and
// last-write-wins makes applying it again a no-op. The returned keys alias
// the entries' keys.
//
// The entries are expected in leaf order then scan order, as a replica
// reports them, but any order is accepted: entries are put into scan
// order first, and if a side lists a key twice only its newest version
// counts.
func Reconcile(local, remote []Entry) (push, pull [][]byte) {
	pe, le := reconcile(local, remote)
	for _, e := range pe {
		push = append(push, e.Key)
	}
	for _, e := range le {
		pull = append(pull, e.Key)
	}
	return push, pull
}

// reconcile is Reconcile returning the entries: the local ones to push
// and the remote ones to pull, with their sizes.
func reconcile(local, remote []Entry) (push, pull []*Entry) {
	ls, rs := scanOrder(local), scanOrder(remote)
	for i, j := 0, 0; i < len(ls) || j < len(rs); {
		c := 0
		switch {
		case i == len(ls):
			c = 1
		case j == len(rs):
			c = -1
		default:
			c = compareScan(ls[i].tok, ls[i].Key, rs[j].tok, rs[j].Key)
			if c == 0 {
				c = ls[i].Version.Compare(rs[j].Version)
				i, j = i+1, j+1
				switch {
				case c > 0:
					push = append(push, ls[i-1].Entry)
				case c < 0:
					pull = append(pull, rs[j-1].Entry)
				}
				continue
			}
		}
		if c < 0 {
			push = append(push, ls[i].Entry)
			i++
		} else {
			pull = append(pull, rs[j].Entry)
			j++
		}
	}
	return push, pull
}

// scanned is an entry with its token computed once.
type scanned struct {
	*Entry
	tok uint64
}

// scanOrder returns es in scan order with one entry per key, the newest.
func scanOrder(es []Entry) []scanned {
	out := make([]scanned, len(es))
	for i := range es {
		out[i] = scanned{Entry: &es[i], tok: engine.Token(es[i].Key)}
	}
	slices.SortFunc(out, func(a, b scanned) int {
		return compareScan(a.tok, a.Key, b.tok, b.Key)
	})
	return slices.CompactFunc(keepNewest(out), func(a, b scanned) bool {
		return a.tok == b.tok && bytes.Equal(a.Key, b.Key)
	})
}

// keepNewest moves the newest version of each run of equal keys to the
// run's head, where slices.CompactFunc keeps it.
func keepNewest(s []scanned) []scanned {
	head := 0
	for i := 1; i < len(s); i++ {
		if s[i].tok != s[head].tok || !bytes.Equal(s[i].Key, s[head].Key) {
			head = i
			continue
		}
		if s[i].Version.Compare(s[head].Version) > 0 {
			s[head], s[i] = s[i], s[head]
		}
	}
	return s
}
