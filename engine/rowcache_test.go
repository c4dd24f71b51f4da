package engine

import (
	"fmt"
	mrand "math/rand"
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
	cached := openMem(t, withClock(cacheShards*400)) // a few entries per shard
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
	return a.Version == b.Version && a.ExpireAt == b.ExpireAt && a.Tombstone == b.Tombstone && a.EvictedAt == b.EvictedAt &&
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
	big := make([]byte, 4096) // bigger than a chunk
	mustApply(t, e, "big", Record{Version: ver(1, 0, 0), Value: big})
	r, found := mustLookup(t, e, "big")
	if !found || len(r.Value) != len(big) {
		t.Fatalf("big value lost: found=%v len=%d", found, len(r.Value))
	}
	if st := e.Stats(); st.RowCacheEntries != 0 {
		t.Fatalf("a value over the per-entry limit was cached: %+v", st)
	}
}

// checkShards verifies every shard's bookkeeping: the entry count and
// bytes match the index, and every indexed position holds its key.
func checkShards(t *testing.T, c *rowCache) {
	t.Helper()
	for i := range c.shards {
		s := &c.shards[i]
		var bytes int64
		for tok, pos := range s.idx {
			e := c.slot(s, pos)
			if got := dataKeyToken(entryKey(e)); got != tok {
				t.Fatalf("shard %d: token %x indexes an entry of token %x", i, tok, got)
			}
			bytes += int64(entrySlot(e))
		}
		if s.live != int64(len(s.idx)) || s.bytes != bytes {
			t.Fatalf("shard %d: live %d bytes %d, index has %d entries of %d bytes", i, s.live, s.bytes, len(s.idx), bytes)
		}
		if uint64(len(s.chunks)) > c.maxChunks || s.live > c.maxLive {
			t.Fatalf("shard %d: %d chunks and %d entries, limits %d and %d", i, len(s.chunks), s.live, c.maxChunks, c.maxLive)
		}
		if !s.open && s.head%c.chunkBytes != 0 {
			t.Fatalf("shard %d: head %d inside a chunk that is not open", i, s.head)
		}
	}
}

// The cache may forget anything, but what it returns is the last state put
// (or nothing after a drop), across in-place updates, moves, ring turns
// and keys that share a token.
func TestRowCacheModel(t *testing.T) {
	for _, size := range []int64{cacheShards * 300, cacheShards * 5000, 64 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			c := newRowCache(size)
			type state struct {
				r       Record
				present bool
			}
			model := map[string]state{}
			rng := rand.New(rand.NewPCG(3, uint64(size)))
			keys := make([][]byte, 400)
			for i := range keys {
				// Every fourth key shares its token with the one before.
				tok := uint64(i/2) * 0x9e3779b97f4a7c15
				keys[i] = appendDataKeyTok(nil, tok, []byte(fmt.Sprint("k", i)))
			}
			hits := 0
			for step := 0; step < 50000; step++ {
				k := keys[rng.IntN(len(keys))]
				switch op := rng.IntN(10); {
				case op < 4:
					st := state{present: rng.IntN(8) != 0}
					if st.present {
						st.r = Record{Version: ver(int64(step), uint32(step), 7), ExpireAt: int64(rng.IntN(3))}
						if rng.IntN(5) == 0 {
							// A tombstone has no expiry; an eviction's
							// tombstone has its time.
							st.r.Tombstone, st.r.ExpireAt = true, 0
							if rng.IntN(2) == 0 {
								st.r.EvictedAt = int64(step) + 1
							}
						} else {
							st.r.Value = make([]byte, rng.IntN(300))
							for i := range st.r.Value {
								st.r.Value[i] = byte(step + i)
							}
						}
					}
					c.put(k, st.r, st.present)
					if st.r.Tombstone || !st.present {
						st.r.Value = nil
					}
					model[string(k)] = st
				case op < 5:
					c.drop(k)
					delete(model, string(k))
				default:
					var vals []byte
					r, _, present, cached := c.get(k, &vals)
					if !cached {
						continue
					}
					hits++
					want, ok := model[string(k)]
					if !ok || present != want.present || !sameRecord(r, want.r) || len(r.Value) != cap(r.Value) {
						t.Fatalf("step %d key %q: got %+v present=%v, want %+v (known %v)", step, k, r, present, want, ok)
					}
				}
			}
			checkShards(t, c)
			if hits == 0 {
				t.Fatal("the cache never hit")
			}
		})
	}
}

// A value rewritten at the same size or smaller stays in its slot; a
// bigger one moves to the head.
func TestRowCacheUpdatesInPlace(t *testing.T) {
	c := newRowCache(64 << 20)
	k := AppendDataKey(nil, []byte("key"))
	s := c.shard(dataKeyToken(k))
	c.put(k, Record{Version: ver(1, 0, 0), Value: make([]byte, 100)}, true)
	head := s.head
	c.put(k, Record{Version: ver(2, 0, 0), Value: make([]byte, 90)}, true)
	c.put(k, Record{Version: ver(3, 0, 0), Tombstone: true}, true)
	if s.head != head {
		t.Fatalf("in-place updates moved the head from %d to %d", head, s.head)
	}
	c.put(k, Record{Version: ver(4, 0, 0), Value: make([]byte, 101)}, true)
	if s.head == head {
		t.Fatal("a bigger value was written in place")
	}
	r, _, present, cached := c.get(k, nil)
	if !cached || !present || r.Version != ver(4, 0, 0) || r.Value != nil {
		t.Fatalf("got %+v present=%v cached=%v", r, present, cached)
	}
	checkShards(t, c)
}

// The cache's memory, chunks and index together, stays within the budget
// however many keys pass through it, with big values (the chunks fill
// first) and with empty ones (the index fills first); what falls out is
// counted, and the newest keys are the ones kept.
func TestRowCacheEvictsInTurn(t *testing.T) {
	for _, tc := range []struct {
		budget int64
		value  int
	}{
		{cacheShards * 4096, 50},
		{cacheShards * 4096, 0},
		{64 << 20, 0},
		{24 << 20, 200},
	} {
		t.Run(fmt.Sprint(tc.budget, "/", tc.value), func(t *testing.T) {
			c := newRowCache(tc.budget)
			n := int(tc.budget / 40) // more keys than fit, twice over at least
			for i := range n {
				k := AppendDataKey(nil, []byte(fmt.Sprint("key-", i)))
				c.put(k, Record{Version: ver(int64(i), 0, 0), Value: make([]byte, tc.value)}, true)
			}
			checkShards(t, c)
			entries, bytes := c.stats()
			if bytes > tc.budget || entries == 0 || c.evictions.Load() == 0 {
				t.Fatalf("budget %d: entries %d bytes %d evictions %d", tc.budget, entries, bytes, c.evictions.Load())
			}
			if c.maxChunks*c.chunkBytes < uint64(tc.budget)/cacheShards/2 {
				t.Fatalf("chunks of %d bytes, %d per shard, use too little of the budget", c.chunkBytes, c.maxChunks)
			}
			k := AppendDataKey(nil, []byte(fmt.Sprint("key-", n-1)))
			if _, _, _, cached := c.get(k, nil); !cached {
				t.Fatal("the last key written is not cached")
			}
		})
	}
}

// A key read since its chunk was last recycled is kept there for another
// turn of the ring; a key nobody reads is evicted.
func TestRowCacheKeepsWhatIsRead(t *testing.T) {
	c := newRowCache(cacheShards * 64 << 10)
	if c.maxChunks < 4 {
		t.Fatalf("want several chunks per shard, have %d", c.maxChunks)
	}
	key := func(j int) []byte { // every key in shard 0
		return appendDataKeyTok(nil, uint64(j+1)*cacheShards, []byte(fmt.Sprint("key-", j)))
	}
	rec := func(j int) Record { return Record{Version: ver(int64(j), 0, 0), Value: make([]byte, 100)} }
	hot, cold := key(-1), key(-2)
	c.put(hot, rec(1), true)
	c.put(cold, rec(1), true)
	for j := range 3000 { // about ten turns of the shard's ring
		c.put(key(j), rec(j), true)
		if j%50 == 0 {
			if _, _, _, cached := c.get(hot, nil); !cached {
				t.Fatalf("after %d more keys the key read every 50 was evicted", j)
			}
		}
	}
	if _, _, _, cached := c.get(cold, nil); cached {
		t.Fatal("the key never read survived ten turns")
	}
	if c.evictions.Load() == 0 {
		t.Fatal("nothing was evicted")
	}
	checkShards(t, c)
}

// BenchmarkRowCacheSkewedHitRate reports the row cache's hit rate on a
// skewed workload bigger than the cache: Zipf 1.1 over the keys, their
// popularity unrelated to the order they were written in, one write in
// ten, measured after a warm-up. Run with -benchtime 1x.
func BenchmarkRowCacheSkewedHitRate(b *testing.B) {
	for _, tc := range []struct {
		mb   int64
		keys int
	}{{8, 200000}, {24, 200000}, {64, 600000}} {
		b.Run(fmt.Sprintf("%dMiB-%dkeys", tc.mb, tc.keys), func(b *testing.B) {
			e := openMem(b, func(c *Config) { c.RowCacheBytes = tc.mb << 20 })
			val := make([]byte, 100)
			rng := mrand.New(mrand.NewSource(1))
			perm := rng.Perm(tc.keys) // popularity rank -> key
			for i := range tc.keys {
				if _, err := e.Apply([]byte(fmt.Sprint("key-", i)), Record{Version: ver(int64(i+1), 0, 0), Value: val}); err != nil {
					b.Fatal(err)
				}
			}
			zipf := mrand.NewZipf(rng, 1.1, 1, uint64(tc.keys-1))
			wall := int64(tc.keys)
			run := func(ops int) {
				for i := range ops {
					k := []byte(fmt.Sprint("key-", perm[zipf.Uint64()]))
					var err error
					if i%10 == 0 {
						wall++
						_, err = e.Apply(k, Record{Version: ver(wall, 0, 0), Value: val})
					} else {
						_, _, err = e.Lookup(k)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			run(300000)
			b.ResetTimer()
			s0 := e.Stats()
			for range b.N {
				run(600000)
			}
			s1 := e.Stats()
			hits, misses := s1.RowCacheHits-s0.RowCacheHits, s1.RowCacheMisses-s0.RowCacheMisses
			b.ReportMetric(float64(hits)/float64(hits+misses), "hit-rate")
		})
	}
}
