package quorum

import (
	"math/rand/v2"
	"testing"

	"github.com/ringcache/ringcache/engine"
)

func rec(wall int64, logical uint32, node uint64) Reply {
	return Reply{Found: true, Record: engine.Record{
		Value: []byte("v"), Version: engine.Version{Wall: wall, Logical: logical, Node: node}}}
}

func TestCompare(t *testing.T) {
	tomb := rec(5, 0, 1)
	tomb.Record.Value, tomb.Record.Tombstone = nil, true
	expired := rec(5, 0, 1)
	expired.Record.ExpireAt = 1
	for _, tt := range []struct {
		name string
		a, b Reply
		want int
	}{
		{"nothing against nothing", Reply{}, Reply{}, 0},
		{"any record is newer than none", rec(1, 0, 1), Reply{}, 1},
		{"a tombstone is newer than none", Reply{}, tomb, -1},
		{"wall time first", rec(2, 0, 1), rec(1, 9, 9), 1},
		{"then the logical counter", rec(2, 1, 1), rec(2, 2, 1), -1},
		{"then the writer", rec(2, 1, 2), rec(2, 1, 1), 1},
		{"a tombstone does not change the order", tomb, rec(5, 0, 1), 0},
		{"an expiry does not change the order", expired, rec(6, 0, 1), -1},
	} {
		if got := Compare(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: Compare = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func randomReply(rng *rand.Rand) Reply {
	if rng.IntN(4) == 0 {
		return Reply{}
	}
	r := rec(int64(rng.IntN(3)), uint32(rng.IntN(2)), uint64(rng.IntN(2)))
	r.Record.Tombstone = rng.IntN(4) == 0
	if rng.IntN(3) == 0 {
		r.Record.ExpireAt = int64(rng.IntN(200))
	}
	return r
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
