package coordinator

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ringcache/ringcache/engine"
)

func ver(wall int64) engine.Version { return engine.Version{Wall: wall, Node: 1} }

func TestMergeNewestAndStale(t *testing.T) {
	v1 := engine.Record{Value: []byte("old"), Version: ver(1)}
	v2 := engine.Record{Value: []byte("new"), Version: ver(2)}
	tomb := engine.Record{Version: ver(3), Tombstone: true}
	expired := engine.Record{Value: []byte("gone"), Version: ver(4), ExpireAt: 1}
	type reply struct {
		recs  []engine.Record
		found []bool
	}
	tests := []struct {
		name      string
		replies   []reply // each answers key 0 only
		want      engine.Record
		wantHas   bool
		wantStale [][]int // per reply, stale positions against the final best
	}{
		{name: "nothing anywhere",
			replies:   []reply{{[]engine.Record{{}}, []bool{false}}, {[]engine.Record{{}}, []bool{false}}},
			wantStale: [][]int{nil, nil}},
		{name: "newer wins, older and missing are stale",
			replies: []reply{
				{[]engine.Record{v1}, []bool{true}},
				{[]engine.Record{v2}, []bool{true}},
				{[]engine.Record{{}}, []bool{false}},
			},
			want: v2, wantHas: true, wantStale: [][]int{{0}, nil, {0}}},
		{name: "order does not matter",
			replies: []reply{
				{[]engine.Record{v2}, []bool{true}},
				{[]engine.Record{v1}, []bool{true}},
			},
			want: v2, wantHas: true, wantStale: [][]int{nil, {0}}},
		{name: "tombstone beats older value",
			replies: []reply{
				{[]engine.Record{v2}, []bool{true}},
				{[]engine.Record{tomb}, []bool{true}},
			},
			want: tomb, wantHas: true, wantStale: [][]int{{0}, nil}},
		{name: "expired record beats older tombstone",
			replies: []reply{
				{[]engine.Record{tomb}, []bool{true}},
				{[]engine.Record{expired}, []bool{true}},
			},
			want: expired, wantHas: true, wantStale: [][]int{{0}, nil}},
		{name: "equal versions are not stale",
			replies: []reply{
				{[]engine.Record{v2}, []bool{true}},
				{[]engine.Record{v2}, []bool{true}},
			},
			want: v2, wantHas: true, wantStale: [][]int{nil, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			best := make([]engine.Record, 1)
			has := make([]bool, 1)
			idx := []int{0}
			for _, r := range tt.replies {
				mergeNewest(best, has, idx, r.recs, r.found)
			}
			if has[0] != tt.wantHas || best[0].Version != tt.want.Version {
				t.Fatalf("best %+v (has %v), want %+v (has %v)", best[0], has[0], tt.want, tt.wantHas)
			}
			for j, r := range tt.replies {
				if got := appendStale(nil, best, has, idx, r.recs, r.found); !slices.Equal(got, tt.wantStale[j]) {
					t.Fatalf("reply %d stale %v, want %v", j, got, tt.wantStale[j])
				}
			}
		})
	}
}

// TestMergeNewestMultiKey: a batch carries several keys at arbitrary
// request positions; each position only affects its own key.
func TestMergeNewestMultiKey(t *testing.T) {
	best := make([]engine.Record, 3)
	has := make([]bool, 3)
	mergeNewest(best, has, []int{2, 0}, []engine.Record{{Version: ver(5)}, {Version: ver(7)}}, []bool{true, true})
	mergeNewest(best, has, []int{0, 1}, []engine.Record{{Version: ver(6)}, {}}, []bool{true, false})
	if !has[0] || best[0].Version != ver(7) || has[1] || !has[2] || best[2].Version != ver(5) {
		t.Fatalf("best %+v has %v", best, has)
	}
	stale := appendStale(nil, best, has, []int{0, 1}, []engine.Record{{Version: ver(6)}, {}}, []bool{true, false})
	if !slices.Equal(stale, []int{0}) {
		t.Fatalf("stale %v, want [0] (key 1 is missing everywhere)", stale)
	}
}

// TestResolutionOrderIndependent: whatever order the replies arrive in,
// the newest record is the same, no reply is newer than it, and exactly
// the replies older than it (or missing) are stale.
func TestResolutionOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := 0; iter < 1000; iter++ {
		n := 1 + rng.IntN(5)
		recs := make([]engine.Record, n)
		found := make([]bool, n)
		for j := range recs {
			found[j] = rng.IntN(4) > 0
			recs[j] = engine.Record{Version: engine.Version{Wall: rng.Int64N(4), Logical: uint32(rng.IntN(2)), Node: uint64(rng.IntN(2))}, Tombstone: rng.IntN(3) == 0}
		}
		var first engine.Record
		var firstHas bool
		for perm := 0; perm < 3; perm++ {
			best := make([]engine.Record, 1)
			has := make([]bool, 1)
			for _, j := range rng.Perm(n) {
				mergeNewest(best, has, []int{0}, recs[j:j+1], found[j:j+1])
			}
			if perm == 0 {
				first, firstHas = best[0], has[0]
			} else if has[0] != firstHas || best[0].Version != first.Version {
				t.Fatalf("iter %d: order changed the newest: %+v vs %+v", iter, best[0], first)
			}
			for j := range recs {
				stale := len(appendStale(nil, best, has, []int{0}, recs[j:j+1], found[j:j+1])) == 1
				older := has[0] && (!found[j] || recs[j].Version.Compare(best[0].Version) < 0)
				if found[j] && recs[j].Version.Compare(best[0].Version) > 0 {
					t.Fatalf("iter %d: reply %d newer than the resolved record", iter, j)
				}
				if stale != older {
					t.Fatalf("iter %d: reply %d stale=%v, want %v", iter, j, stale, older)
				}
			}
		}
	}
}
