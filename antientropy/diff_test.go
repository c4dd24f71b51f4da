package antientropy

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/ringcache/ringcache/engine"
)

// replicaPair draws replica A's records around range r, with many keys in
// the buckets at r's edges (inside and outside r), and a replica B that
// differs from A in a random mix of ways, or not at all.
func replicaPair(rng *rand.Rand, r Range) (a, b replica) {
	p := testPool()
	var ids []int32
	for _, tok := range []uint64{r.Start, r.Start + 1, r.End, r.End + 1} {
		ids = append(ids, p.byBucket[BucketOf(tok)]...)
	}
	for range 40 + rng.IntN(200) {
		ids = append(ids, int32(rng.IntN(poolSize)))
	}
	a, b = replica{}, replica{}
	change := rng.Float64() * 0.3 // per-key chance that B differs; 0 in some trials
	if rng.IntN(4) == 0 {
		change = 0
	}
	for _, id := range ids {
		k := string(p.keys[id])
		x := rec{v: ver(1000+rng.Int64N(100), rng.Uint32N(3), rng.Uint64N(4)+1), tomb: rng.IntN(5) == 0}
		a[k], b[k] = x, x
		if rng.Float64() >= change {
			continue
		}
		newer := x
		newer.v.Wall += 1 + rng.Int64N(10)
		newer.tomb = rng.IntN(3) == 0
		switch rng.IntN(5) {
		case 0:
			delete(a, k)
		case 1:
			delete(b, k)
		case 2:
			a[k] = newer
		case 3:
			b[k] = newer
		default: // same wall clock, tie broken by the logical clock
			newer.v = x.v
			newer.v.Logical++
			b[k] = newer
		}
	}
	return a, b
}

// differingLeaves is the oracle for Diff: the leaves of r in which a and
// b hold different records, found by comparing records, not hashes.
func differingLeaves(r Range, a, b replica) []int {
	set := map[int]bool{}
	for _, rs := range [][2]replica{{a, b}, {b, a}} {
		for k, x := range rs[0] {
			if y, ok := rs[1][k]; ok && x == y {
				continue
			}
			if i := LeafOf(r, engine.Token([]byte(k))); i >= 0 {
				set[i] = true
			}
		}
	}
	out := make([]int, 0, len(set))
	for i := range set {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

// transfers is the oracle for Reconcile over the whole range: the keys A
// must push to B and pull from B.
func transfers(r Range, a, b replica) (push, pull []string) {
	for k, x := range a {
		if !r.Contains(engine.Token([]byte(k))) {
			continue
		}
		if y, ok := b[k]; !ok || x.v.Compare(y.v) > 0 {
			push = append(push, k)
		}
	}
	for k, y := range b {
		if !r.Contains(engine.Token([]byte(k))) {
			continue
		}
		if x, ok := a[k]; !ok || y.v.Compare(x.v) > 0 {
			pull = append(pull, k)
		}
	}
	slices.Sort(push)
	slices.Sort(pull)
	return push, pull
}

// TestDiffAndReconcile is the end-to-end property: for random replicas
// over random ranges of every kind, leaf hashes built from bucket digests
// and partial scans agree with hashes built record by record, Diff finds
// exactly the leaves where the replicas differ, fetching nothing when they
// agree and at most Fanout hashes per differing leaf per level otherwise,
// and Reconcile of those leaves' entries yields exactly the keys that
// differ, each in the right direction.
func TestDiffAndReconcile(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	trials := 20 * len(rangeKinds)
	if testing.Short() {
		trials = 60
	}
	for trial := range trials {
		kind := rangeKinds[trial%len(rangeKinds)]
		r := randRange(rng, kind)
		a, b := replicaPair(rng, r)

		leaves := Leaves(r)
		ha, hb := leafHashesByBuckets(leaves, a), leafHashesByBuckets(leaves, b)
		if !slices.Equal(ha, leafHashesByLeafOf(t, r, len(leaves), a)) {
			t.Fatalf("%s %v: bucket-built and record-built leaf hashes differ", kind, r)
		}
		ta, tb := NewTree(ha), NewTree(hb)
		got, fetched, err := Diff(ta, tb.Root(), remoteOf(t, tb))
		if err != nil {
			t.Fatalf("%s %v: Diff: %v", kind, r, err)
		}
		want := differingLeaves(r, a, b)
		if !slices.Equal(got, want) {
			t.Fatalf("%s %v: Diff = %v, want %v", kind, r, got, want)
		}
		if len(want) == 0 && fetched != 0 {
			t.Fatalf("%s %v: equal trees fetched %d hashes", kind, r, fetched)
		}
		if limit := (ta.Depth() - 1) * Fanout * len(want); fetched > limit {
			t.Fatalf("%s %v: fetched %d hashes for %d leaves, limit %d", kind, r, fetched, len(want), limit)
		}

		push, pull := Reconcile(entriesOf(r, a, got), entriesOf(r, b, got))
		wantPush, wantPull := transfers(r, a, b)
		if gp, gl := sortedStrings(push), sortedStrings(pull); !slices.Equal(gp, wantPush) || !slices.Equal(gl, wantPull) {
			t.Fatalf("%s %v: Reconcile push %q pull %q, want %q and %q", kind, r, gp, gl, wantPush, wantPull)
		}
	}
}

func sortedStrings(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	slices.Sort(out)
	return out
}

func TestDiffErrors(t *testing.T) {
	local := NewTree(make([]uint64, 300))
	boom := errors.New("link down")
	if _, _, err := Diff(local, 1, func(int, []int) ([]uint64, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("remote error: got %v", err)
	}
	short := func(_ int, idx []int) ([]uint64, error) { return make([]uint64, len(idx)-1), nil }
	if _, _, err := Diff(local, 1, short); !errors.Is(err, ErrBadAnswer) {
		t.Fatalf("short answer: got %v, want ErrBadAnswer", err)
	}
}

// TestDiffRemoteChanged covers a remote tree that changed between the
// root and the next level: its children match ours, so there is nothing
// to descend into and Diff reports no leaves rather than guessing.
func TestDiffRemoteChanged(t *testing.T) {
	local := NewTree(make([]uint64, 300))
	leaves, fetched, err := Diff(local, local.Root()+1, remoteOf(t, local))
	if err != nil || len(leaves) != 0 || fetched != 2 {
		t.Fatalf("Diff = %v, %d, %v; want no leaves after fetching the 2 children of the root", leaves, fetched, err)
	}
}

// TestDiffSingleLeaf covers a one-level tree, whose root is its leaf.
func TestDiffSingleLeaf(t *testing.T) {
	never := func(int, []int) ([]uint64, error) {
		t.Fatal("a one-level tree needs no fetch")
		return nil, nil
	}
	tr := NewTree([]uint64{42})
	if leaves, fetched, err := Diff(tr, 43, never); err != nil || !slices.Equal(leaves, []int{0}) || fetched != 0 {
		t.Fatalf("Diff = %v, %d, %v", leaves, fetched, err)
	}
	if leaves, _, err := Diff(tr, 42, never); err != nil || leaves != nil {
		t.Fatalf("equal Diff = %v, %v", leaves, err)
	}
}

func TestReconcileTable(t *testing.T) {
	e := func(key string, wall int64, node uint64) Entry {
		return Entry{Key: []byte(key), Version: ver(wall, 0, node)}
	}
	tomb := func(x Entry) Entry { x.Tombstone = true; return x }
	tests := []struct {
		name          string
		local, remote []Entry
		push, pull    string // keys joined by spaces, sorted
	}{
		{"both empty", nil, nil, "", ""},
		{"local only", []Entry{e("a", 1, 1), e("b", 1, 1)}, nil, "a b", ""},
		{"remote only", nil, []Entry{e("a", 1, 1)}, "", "a"},
		{"equal", []Entry{e("a", 5, 1)}, []Entry{e("a", 5, 1)}, "", ""},
		{"local newer", []Entry{e("a", 6, 1)}, []Entry{e("a", 5, 1)}, "a", ""},
		{"remote newer", []Entry{e("a", 5, 1)}, []Entry{e("a", 6, 1)}, "", "a"},
		{"node breaks a tie", []Entry{e("a", 5, 2)}, []Entry{e("a", 5, 1)}, "a", ""},
		{"newer tombstone wins", []Entry{e("a", 5, 1)}, []Entry{tomb(e("a", 6, 1))}, "", "a"},
		{"tombstone pushed to a missing replica", []Entry{tomb(e("a", 5, 1))}, nil, "a", ""},
		{"equal versions, flags differ", []Entry{e("a", 5, 1)}, []Entry{tomb(e("a", 5, 1))}, "", ""},
		{"mixed", []Entry{e("a", 1, 1), e("b", 9, 1), e("c", 3, 1)},
			[]Entry{e("b", 8, 1), e("c", 4, 1), e("d", 1, 1)}, "a b", "c d"},
		{"unordered input", []Entry{e("z", 2, 1), e("y", 1, 1), e("x", 1, 1)},
			[]Entry{e("x", 1, 1), e("z", 1, 1), e("w", 1, 1)}, "y z", "w"},
		{"duplicates keep the newest", []Entry{e("a", 1, 1), e("a", 7, 1), e("a", 3, 1)},
			[]Entry{e("a", 5, 1), e("a", 5, 1)}, "a", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			push, pull := Reconcile(tc.local, tc.remote)
			gp, gl := strings.Join(sortedStrings(push), " "), strings.Join(sortedStrings(pull), " ")
			if gp != tc.push || gl != tc.pull {
				t.Fatalf("push %q pull %q, want %q and %q", gp, gl, tc.push, tc.pull)
			}
		})
	}
}

// TestReconcileEmptyKey checks that the empty key, a valid key, is
// compared like any other.
func TestReconcileEmptyKey(t *testing.T) {
	local := []Entry{{Key: []byte{}, Version: ver(2, 0, 1)}}
	remote := []Entry{{Key: nil, Version: ver(1, 0, 1)}}
	if push, pull := Reconcile(local, remote); len(push) != 1 || len(push[0]) != 0 || len(pull) != 0 {
		t.Fatalf("push %q pull %q, want the empty key pushed", push, pull)
	}
}

// TestReconcileScanOrder checks that both outputs come in scan order and
// that the inputs are left untouched.
func TestReconcileScanOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	var local, remote []Entry
	for i := range 200 {
		k := []byte{byte(i), byte(i >> 8), 'k'}
		switch rng.IntN(3) {
		case 0:
			local = append(local, Entry{Key: k, Version: ver(2, 0, 1)})
		case 1:
			remote = append(remote, Entry{Key: k, Version: ver(2, 0, 1)})
		default:
			local = append(local, Entry{Key: k, Version: ver(1+rng.Int64N(2), 0, 1)})
			remote = append(remote, Entry{Key: k, Version: ver(1+rng.Int64N(2), 0, 1)})
		}
	}
	before := slices.Clone(local)
	push, pull := Reconcile(local, remote)
	for _, out := range [][][]byte{push, pull} {
		if !slices.IsSortedFunc(out, CompareKeys) {
			t.Fatalf("output not in scan order")
		}
	}
	for i := range local {
		if string(local[i].Key) != string(before[i].Key) || local[i].Version != before[i].Version {
			t.Fatalf("Reconcile reordered its input")
		}
	}
}

func TestCompareKeys(t *testing.T) {
	keys := [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte(""), []byte("zz")}
	for _, x := range keys {
		for _, y := range keys {
			c := CompareKeys(x, y)
			tx, ty := engine.Token(x), engine.Token(y)
			want := 0
			switch {
			case tx < ty:
				want = -1
			case tx > ty:
				want = 1
			case string(x) < string(y):
				want = -1
			case string(x) > string(y):
				want = 1
			}
			if c != want {
				t.Fatalf("CompareKeys(%q, %q) = %d, want %d", x, y, c, want)
			}
		}
	}
}
