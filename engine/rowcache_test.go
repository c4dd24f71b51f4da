package engine

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// A tiny row cache (constant eviction) must answer every lookup exactly
// like an engine without one, across random writes, deletes, expiries,
// reclaims and DropAll.
func TestRowCacheMatchesUncached(t *testing.T) {
	now := time.UnixMilli(1_000_000)
	clock := func() time.Time { return now }
	withClock := func(cache int64) func(*Config) {
		return func(c *Config) {
			c.RowCacheBytes = cache
			c.Now = clock
			c.ReclaimInterval = time.Hour // reclaim only when the test says
			c.TombstoneGrace = 50 * time.Millisecond
		}
	}
	cached := openMem(t, withClock(cacheShards*400)) // ~2 entries per shard
	plain := openMem(t, withClock(0))
	rng := rand.New(rand.NewPCG(1, 2))
	const keys = 300
	for step := 0; step < 20000; step++ {
		k := []byte(fmt.Sprintf("key-%d", rng.IntN(keys)))
		switch op := rng.IntN(100); {
		case op < 45:
			r := Record{Version: ver(now.UnixMilli()-int64(rng.IntN(100)), uint32(rng.IntN(4)), 1)}
			switch rng.IntN(4) {
			case 0:
				r.Tombstone = true
			case 1:
				r.Value = []byte(fmt.Sprint("v", step))
				r.ExpireAt = now.UnixMilli() + int64(rng.IntN(20))
			default:
				r.Value = []byte(fmt.Sprint("v", step))
			}
			a1, err1 := cached.Apply(k, r)
			a2, err2 := plain.Apply(k, r)
			if err1 != nil || err2 != nil || a1 != a2 {
				t.Fatalf("step %d: Apply differs: %v %v / %v %v", step, a1, err1, a2, err2)
			}
		case op < 95:
			r1, f1, err1 := cached.Lookup(k)
			r2, f2, err2 := plain.Lookup(k)
			if err1 != nil || err2 != nil || f1 != f2 || !sameRecord(r1, r2) {
				t.Fatalf("step %d key %s: cached %+v %v %v, uncached %+v %v %v", step, k, r1, f1, err1, r2, f2, err2)
			}
		case op < 99:
			now = now.Add(time.Duration(rng.IntN(30)) * time.Millisecond)
			for _, e := range []*Engine{cached, plain} {
				if err := e.reclaimOnce(); err != nil {
					t.Fatal(err)
				}
			}
		default:
			for _, e := range []*Engine{cached, plain} {
				if err := e.DropAll(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	st := cached.Stats()
	if st.RowCacheEvictions == 0 || st.RowCacheHits == 0 {
		t.Fatalf("the cache was not exercised: %+v", st)
	}
	if limit := int64(cacheShards * 400); st.RowCacheBytes > limit {
		t.Fatalf("cache holds %d bytes, budget %d", st.RowCacheBytes, limit)
	}
}

func sameRecord(a, b Record) bool {
	return a.Version == b.Version && a.ExpireAt == b.ExpireAt && a.Tombstone == b.Tombstone &&
		string(a.Value) == string(b.Value)
}

// Readers racing writers never see a state older than one they saw before,
// and once the writers stop every key reads as its newest version.
func TestRowCacheConcurrentReadersSeeNoRegression(t *testing.T) {
	e := openMem(t, func(c *Config) { c.RowCacheBytes = cacheShards * 2000 })
	const keys, writers, readers, each = 64, 4, 4, 1500
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 1; i <= each; i++ {
				k := []byte(fmt.Sprint("k", (i*7+w)%keys))
				if _, err := e.Apply(k, val(ver(int64(i), 0, uint64(w)), fmt.Sprint(i))); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			seen := make(map[string]Version)
			for i := 0; i < each*2; i++ {
				k := fmt.Sprint("k", (i+r)%keys)
				rec, found, err := e.Lookup([]byte(k))
				if err != nil {
					t.Error(err)
					return
				}
				if found && rec.Version.Compare(seen[k]) < 0 {
					t.Errorf("key %s went back from %v to %v", k, seen[k], rec.Version)
					return
				}
				if found {
					seen[k] = rec.Version
				}
			}
		}(r)
	}
	wg.Wait()
	err := e.Scan(0, 0, func(key []byte, stored Record) error {
		got, _, err := e.Lookup(key)
		if err != nil {
			return err
		}
		if !sameRecord(got, stored) {
			return fmt.Errorf("key %s: lookup %+v, stored %+v", key, got, stored)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRowCacheSkipsHugeValues(t *testing.T) {
	e := openMem(t, func(c *Config) { c.RowCacheBytes = cacheShards * 1024 })
	big := make([]byte, 4096) // over half a shard's budget
	mustApply(t, e, "big", Record{Version: ver(1, 0, 0), Value: big})
	r, found := mustLookup(t, e, "big")
	if !found || len(r.Value) != len(big) {
		t.Fatalf("big value lost: found=%v len=%d", found, len(r.Value))
	}
	if st := e.Stats(); st.RowCacheEntries != 0 {
		t.Fatalf("a value over the per-entry limit was cached: %+v", st)
	}
}
