package quorum

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ringcache/ringcache/engine"
)

func rec(wall int64, logical uint32, node uint64) Reply {
	return Reply{Found: true, Record: engine.Record{
		Value: []byte("v"), Version: engine.Version{Wall: wall, Logical: logical, Node: node}}}
}

func tomb(wall int64) Reply {
	r := rec(wall, 0, 1)
	r.Record.Value, r.Record.Tombstone = nil, true
	return r
}

func expired(wall int64) Reply {
	r := rec(wall, 0, 1)
	r.Record.ExpireAt = 5
	return r
}

var missing = Reply{}

func TestResolve(t *testing.T) {
	cases := []struct {
		name    string
		replies []Reply
		newest  int
		stale   []int
		live    bool
	}{
		{"no replies", nil, -1, nil, false},
		{"nobody has it", []Reply{missing, missing}, -1, nil, false},
		{"all agree", []Reply{rec(10, 0, 1), rec(10, 0, 1)}, 0, nil, true},
		{"one missing", []Reply{missing, rec(10, 0, 1)}, 1, []int{0}, true},
		{"older wall", []Reply{rec(9, 5, 9), rec(10, 0, 1), rec(10, 0, 1)}, 1, []int{0}, true},
		{"logical breaks wall tie", []Reply{rec(10, 1, 1), rec(10, 2, 1)}, 1, []int{0}, true},
		{"node breaks tie", []Reply{rec(10, 1, 2), rec(10, 1, 1)}, 0, []int{1}, true},
		{"tombstone wins, repaired", []Reply{rec(10, 0, 1), tomb(11), missing}, 1, []int{0, 2}, false},
		{"expired newest still repairs", []Reply{rec(10, 0, 1), expired(11)}, 1, []int{0}, false},
		{"older tombstone is stale", []Reply{tomb(9), rec(10, 0, 1)}, 1, []int{0}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := Resolve(c.replies, nil)
			if res.Newest != c.newest || !slices.Equal(res.Stale, c.stale) || res.Live(100) != c.live {
				t.Fatalf("Resolve = newest %d stale %v live %v; want %d %v %v",
					res.Newest, res.Stale, res.Live(100), c.newest, c.stale, c.live)
			}
			if res.Found != (c.newest >= 0) {
				t.Fatalf("Found = %v with newest %d", res.Found, res.Newest)
			}
			if res.Found && res.Record.Version != c.replies[c.newest].Record.Version {
				t.Fatalf("Record is not the newest reply's")
			}
		})
	}
}

func TestIsStale(t *testing.T) {
	res := Resolve([]Reply{rec(10, 0, 1), rec(12, 0, 1)}, nil)
	cases := []struct {
		late Reply
		want bool
	}{
		{missing, true},
		{rec(11, 0, 1), true},
		{rec(12, 0, 1), false},
		{rec(13, 0, 1), false},
	}
	for _, c := range cases {
		if got := res.IsStale(c.late); got != c.want {
			t.Errorf("IsStale(%+v) = %v, want %v", c.late.Record.Version, got, c.want)
		}
	}
	if Resolve([]Reply{missing}, nil).IsStale(missing) {
		t.Error("nothing is stale when no replica has the key")
	}
}

func TestResolveReusesBuffer(t *testing.T) {
	buf := make([]int, 0, 4)
	res := Resolve([]Reply{missing, rec(1, 0, 1)}, buf)
	if len(res.Stale) != 1 || &buf[:1][0] != &res.Stale[0] {
		t.Error("Resolve did not append to the buffer it was given")
	}
}

// randomReply draws from a small version space so ties are frequent.
func randomReply(rng *rand.Rand) Reply {
	if rng.IntN(4) == 0 {
		return missing
	}
	r := rec(int64(rng.IntN(3)), uint32(rng.IntN(2)), uint64(rng.IntN(2)))
	r.Record.Tombstone = rng.IntN(4) == 0
	if rng.IntN(3) == 0 {
		r.Record.ExpireAt = int64(rng.IntN(200))
	}
	return r
}

// TestResolveMatchesOracle compares Resolve with a brute-force definition:
// the newest reply is one no other reply is newer than, and the stale ones
// are exactly those older than it.
func TestResolveMatchesOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		replies := make([]Reply, rng.IntN(7))
		for i := range replies {
			replies[i] = randomReply(rng)
		}
		res := Resolve(replies, nil)
		anyFound := slices.ContainsFunc(replies, func(r Reply) bool { return r.Found })
		if res.Found != anyFound {
			t.Fatalf("Found = %v, some reply found: %v", res.Found, anyFound)
		}
		if !anyFound {
			if res.Newest != -1 || len(res.Stale) != 0 {
				t.Fatalf("nothing found but newest %d stale %v", res.Newest, res.Stale)
			}
			continue
		}
		for j, r := range replies {
			if Compare(r, replies[res.Newest]) > 0 {
				t.Fatalf("reply %d is newer than the chosen %d", j, res.Newest)
			}
			if Compare(r, replies[res.Newest]) == 0 && j < res.Newest {
				t.Fatalf("chose %d, not the first of equals %d", res.Newest, j)
			}
			if want := Compare(r, replies[res.Newest]) < 0; slices.Contains(res.Stale, j) != want {
				t.Fatalf("reply %d stale = %v, want %v", j, !want, want)
			}
		}
		// Resolution does not depend on reply order.
		perm := rng.Perm(len(replies))
		shuffled := make([]Reply, len(replies))
		for i, p := range perm {
			shuffled[i] = replies[p]
		}
		if got := Resolve(shuffled, nil); got.Record.Version != res.Record.Version || len(got.Stale) != len(res.Stale) {
			t.Fatalf("shuffled replies resolved to %+v, was %+v", got.Record.Version, res.Record.Version)
		}
	}
}

func TestCompareIsAnOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 5000 {
		a, b, c := randomReply(rng), randomReply(rng), randomReply(rng)
		if Compare(a, b) != -Compare(b, a) {
			t.Fatalf("Compare not antisymmetric: %+v %+v", a, b)
		}
		if Compare(a, b) <= 0 && Compare(b, c) <= 0 && Compare(a, c) > 0 {
			t.Fatalf("Compare not transitive: %+v %+v %+v", a, b, c)
		}
	}
}
