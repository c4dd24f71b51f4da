package evict

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ringcache/ringcache/engine"
)

// TestRandomEvictsUniformly: allkeys-random evicts every stored key alike,
// whenever it was written. Into a full store, a batch of marked keys is
// written, then more keys; the marks that survive are compared with what
// evicting uniformly at random would leave (0.658). Taking the records
// after a random token as they came left about 0.52: sparse stretches of
// the token space, where keys had been evicted and new keys then landed,
// drew more than their share of the samples (see chooseRandom).
func TestRandomEvictsUniformly(t *testing.T) {
	const budget, vlen, marks, more = 4 << 20, 100, 4000, 8000
	ts := newTestStore(t, func(c *Config) {
		c.MaxMemory = budget
		c.Policy = AllKeysRandom
	})
	val := make([]byte, vlen)
	put := func(prefix string, n int) {
		const batch = 16
		for i := 0; i < n; i += batch {
			if !ts.ev.Admit() {
				t.Fatalf("Admit refused a write: %+v", ts.ev.Stats())
			}
			var keys [][]byte
			var recs []engine.Record
			for j := i; j < min(i+batch, n); j++ {
				keys = append(keys, []byte(fmt.Sprintf("%s%08d", prefix, j)))
				recs = append(recs, engine.Record{Version: engine.Version{Wall: time.Now().UnixMilli(), Node: 1}, Value: val})
			}
			if _, err := ts.eng.ApplyBatch(keys, recs); err != nil {
				t.Fatal(err)
			}
		}
	}
	fit := int(budget / engine.RecordBytes(12, vlen, false))
	put("fill", 5*fit)
	put("mark", marks)
	put("more", more)
	waitUsed(t, ts, budget, "UsedBytes within budget")
	live := float64(len(ts.stored(t, "")))
	survived := float64(len(ts.stored(t, "mark")))
	// Uniform: each key written evicts one stored key, each alike.
	m := 0.0
	for i := 0; i < marks+more; i++ {
		if i < marks {
			m++
		}
		m -= m / live
	}
	got, want := survived/marks, m/marks
	t.Logf("%.0f keys stored; %.0f of %d marks survived (%.3f), uniform eviction leaves %.3f", live, survived, marks, got, want)
	if math.Abs(got-want) > 0.07 {
		t.Fatalf("%.3f of the marked keys survived, uniform eviction leaves %.3f: recently written keys are not evicted as often as others", got, want)
	}
}

// TestVolatileRandomSparse: with few keys that have a TTL among many that
// have none, volatile-random's rounds are sparse and may each round down
// to no victim; a pass that sampled keys with a TTL still evicts one, so
// writes are never refused as if none could go.
func TestVolatileRandomSparse(t *testing.T) {
	const budget, plain = 8 << 20, 40_000
	ts := newTestStore(t, func(c *Config) {
		c.MaxMemory = budget
		c.Policy = VolatileRandom
	})
	wall := time.Now().UnixMilli()
	ts.put(t, "plain", plain, 100, wall, nil) // about 7 MiB that volatile-random may not evict
	big := make([]byte, 8<<10)
	for i := range 2000 { // 16 MiB of keys with a TTL, one at a time: about 100 fit
		if !ts.ev.Admit() {
			t.Fatalf("write %d refused: %+v, UsedBytes %d", i, ts.ev.Stats(), ts.eng.UsedBytes())
		}
		r := engine.Record{Version: engine.Version{Wall: time.Now().UnixMilli(), Node: 1}, Value: big, ExpireAt: wall + 3_600_000}
		if _, err := ts.eng.ApplyBatch([][]byte{[]byte(fmt.Sprintf("ttl%06d", i))}, []engine.Record{r}); err != nil {
			t.Fatal(err)
		}
	}
	waitUsed(t, ts, budget, "UsedBytes within budget")
	if n := len(ts.stored(t, "plain")); n != plain {
		t.Fatalf("%d of %d keys without a TTL left", n, plain)
	}
}

// TestChooseRandomBounds: the weighting's edges. Keys of one hash tag
// share a token, so a round among them spans no token space: after a
// sparse mean its weight is beyond any integer, and it is taken whole.
// Rounds so sparse that they round down to nothing still give one victim.
func TestChooseRandomBounds(t *testing.T) {
	round := func(tok uint64, n int) []candidate {
		r := make([]candidate, n)
		for i := range r {
			r[i] = candidate{key: []byte(fmt.Sprint("k", i)), seen: engine.Sampled{Token: tok}}
		}
		return r
	}
	e := &Evictor{meanGap: 1e19}
	if got := e.chooseRandom([][]candidate{round(5, 32)}, 5); len(got) != 32 {
		t.Fatalf("a round of one token after a sparse mean gave %d victims, want all 32", len(got))
	}
	e.meanGap = 1
	if got := e.chooseRandom([][]candidate{round(1<<63, 3), nil}, 0); len(got) != 1 {
		t.Fatalf("rounds far sparser than the mean gave %d victims, want 1", len(got))
	}
}

// TestVolatileTTLPastTombstones: volatile-ttl reads the expiry index from
// its front. A node that deleted or evicted many keys holds as many
// tombstones, each with a purge entry due before the TTL keys expire;
// when those entries shared the expiry index, a sample stepped over at
// most 32 per entry it could look at (about 65,000) and found no key with
// a TTL, and a write past the budget was refused with such keys stored.
func TestVolatileTTLPastTombstones(t *testing.T) {
	const budget, plain, tombs, writes = 8 << 20, 40_000, 80_000, 100
	ts := newTestStore(t, func(c *Config) {
		c.MaxMemory = budget
		c.Policy = VolatileTTL
	})
	wall := time.Now().UnixMilli()
	ts.put(t, "plain", plain, 100, wall, nil) // about 7 MiB that volatile-ttl may not evict
	for i := 0; i < tombs; i += 1000 {        // purge entries due in an hour
		keys, recs := make([][]byte, 1000), make([]engine.Record, 1000)
		for j := range keys {
			keys[j] = []byte(fmt.Sprintf("gone%06d", i+j))
			recs[j] = engine.Record{Version: engine.Version{Wall: wall, Node: 1}, Tombstone: true}
		}
		if _, err := ts.eng.ApplyBatch(keys, recs); err != nil {
			t.Fatal(err)
		}
	}
	big := make([]byte, 64<<10)
	writeTTLKeys(t, ts, budget, plain, writes, func(i int) []engine.Record {
		return []engine.Record{{Version: engine.Version{Wall: wall, Node: 1}, Value: big, ExpireAt: wall + 7_200_000 + int64(i)}}
	})
}

// writeTTLKeys writes keys with a TTL, ttl000000 on, writes of them in
// turn, each once Admit lets it (recs(i): the records the i-th key is
// written as, one batch each), beside plain keys without a TTL that
// no volatile policy may evict, all on a store whose budget they pass.
// No write may be refused (there is always a key with a TTL to evict),
// the store ends within its budget with every plain key, and all but
// about the 20 that fit of the keys with a TTL were evicted.
func writeTTLKeys(t *testing.T, ts *testStore, budget int64, plain, writes int, recs func(i int) []engine.Record) Stats {
	t.Helper()
	for i := range writes {
		if start := time.Now(); !ts.ev.Admit() {
			t.Fatalf("write %d refused after %v: %+v, UsedBytes %d, %d keys with a TTL stored",
				i, time.Since(start), ts.ev.Stats(), ts.eng.UsedBytes(), len(ts.stored(t, "ttl")))
		}
		k := []byte(fmt.Sprintf("ttl%06d", i))
		for _, r := range recs(i) {
			if _, err := ts.eng.ApplyBatch([][]byte{k}, []engine.Record{r}); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitUsed(t, ts, budget, "UsedBytes within budget")
	if n := len(ts.stored(t, "plain")); n != plain {
		t.Fatalf("%d of %d keys without a TTL left", n, plain)
	}
	st := ts.ev.Stats()
	if st.Refused != 0 || st.Evicted < int64(writes-30) {
		t.Fatalf("stats %+v after %d writes of keys with a TTL", st, writes)
	}
	return st
}

// TestVolatileRare: keys with a TTL one in 2,000 among keys without one.
// A window of sampled records misses them all about one time in three,
// so a pass that sampled only windows (four of them, before) concluded
// now and then that no key could go, and a write past the budget was
// refused with keys to evict; a pass now falls back on the expiry index.
// Every key with a TTL is first written small with other expiries. Until
// a write deleted the expiry entry it replaced, those entries stayed,
// stale, more of them than one sample of the index looks at, and a sample
// that started among them found no key: now and then (once in about
// eight runs on a loaded machine) a pass gave up with keys left and a
// write was refused at once. Every policy evicts only keys with a TTL,
// and never refuses a write while one is left.
func TestVolatileRare(t *testing.T) {
	// volatile-lfu takes the path of volatile-lru.
	for _, pol := range []Policy{VolatileLRU, VolatileTTL, VolatileRandom} {
		t.Run(pol.String(), func(t *testing.T) {
			t.Parallel()
			const budget, plain, writes = 8 << 20, 40_000, 300
			ts := newTestStore(t, func(c *Config) {
				c.MaxMemory = budget
				c.Policy = pol
			})
			wall := time.Now().UnixMilli()
			ts.put(t, "plain", plain, 100, wall, nil) // about 7 MiB that no volatile policy may evict
			big := make([]byte, 64<<10)
			rng := rand.New(rand.NewPCG(uint64(pol), 7))
			st := writeTTLKeys(t, ts, budget, plain, writes, func(i int) []engine.Record {
				recs := make([]engine.Record, 0, 9)
				for j := range 8 { // expiries each write replaces, due in 2 to 12 hours
					recs = append(recs, engine.Record{Version: engine.Version{Wall: wall, Logical: uint32(j), Node: 1}, Value: []byte("v"),
						ExpireAt: wall + 7_200_000 + rng.Int64N(36_000_000)})
				}
				return append(recs, engine.Record{Version: engine.Version{Wall: wall + 1, Node: 1}, Value: big, ExpireAt: wall + 3_600_000 + int64(i)})
			})
			t.Logf("%+v; %d keys with a TTL left", st, len(ts.stored(t, "ttl")))
		})
	}
}
