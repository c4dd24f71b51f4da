package antientropy

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ringcache/ringcache/engine"
)

// trees, hashing the partial leaves of many ranges in one pass, builds
// the trees that hashing each leaf with its own Scan builds.
func TestTreesMatchLeafByLeafScans(t *testing.T) {
	e := openMemEngine(t)
	rng := rand.New(rand.NewPCG(5, 6))
	p := testPool()
	now := time.Now().UnixMilli() // recent: no tombstone is purged meanwhile
	for range 3000 {
		k := p.keys[rng.IntN(len(p.keys))]
		r := engine.Record{Value: k, Version: ver(now-int64(rng.IntN(1000)), 0, 1), Tombstone: rng.IntN(5) == 0}
		if _, err := e.Apply(k, r); err != nil {
			t.Fatal(err)
		}
	}
	oracle := func(r Range) *Tree {
		leaves := Leaves(r)
		hs := make([]uint64, len(leaves))
		for i, lf := range leaves {
			if !lf.Partial {
				hs[i] = e.AppendDigests(nil, lf.Bucket, 1)[0]
				continue
			}
			_ = e.Scan(lf.Lo, lf.Hi+1, func(key []byte, rec engine.Record) error {
				hs[i] ^= engine.ElementHash(key, rec.Version, rec.ExpireAt, rec.Tombstone)
				return nil
			})
		}
		return NewTree(hs)
	}
	for range 20 {
		var ranges []Range
		for range 1 + rng.IntN(12) {
			ranges = append(ranges, randRange(rng, rangeKinds[rng.IntN(len(rangeKinds))]))
		}
		got, err := trees(e, ranges)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range ranges {
			want := oracle(r)
			if g, w := got[i].Level(got[i].Depth()-1), want.Level(want.Depth()-1); !slices.Equal(g, w) {
				for j := range g {
					if g[j] != w[j] {
						t.Fatalf("range %v (%d of %v): leaf %d of %d: %x, leaf-by-leaf %x", r, i, ranges, j, len(g), g[j], w[j])
					}
				}
			}
		}
	}
}
