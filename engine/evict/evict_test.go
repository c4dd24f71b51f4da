package evict

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringcache/ringcache/bench/await"
	"github.com/ringcache/ringcache/engine"
)

func TestParsePolicy(t *testing.T) {
	names := []string{"noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
		"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"}
	seen := map[Policy]bool{}
	for _, name := range names {
		for _, in := range []string{name, strings.ToUpper(name), strings.ToUpper(name[:1]) + name[1:]} {
			p, err := ParsePolicy(in)
			if err != nil {
				t.Fatalf("ParsePolicy(%q): %v", in, err)
			}
			if p.String() != name {
				t.Fatalf("ParsePolicy(%q).String() = %q", in, p.String())
			}
		}
		p, _ := ParsePolicy(name)
		seen[p] = true
		if want := strings.HasPrefix(name, "volatile-"); p.Volatile() != want {
			t.Errorf("%s.Volatile() = %v", name, p.Volatile())
		}
		if want := strings.HasSuffix(name, "-lfu"); p.LFU() != want {
			t.Errorf("%s.LFU() = %v", name, p.LFU())
		}
	}
	if len(seen) != 8 {
		t.Fatalf("8 names parse to %d policies", len(seen))
	}
	if p, _ := ParsePolicy("NoEviction"); p != NoEviction {
		t.Fatalf("NoEviction = %v", p)
	}
	for _, bad := range []string{"", "lru", "allkeys_lru", "volatile-ttl ", "allkeys-lru2"} {
		if _, err := ParsePolicy(bad); !errors.Is(err, ErrPolicy) {
			t.Errorf("ParsePolicy(%q) = %v, want ErrPolicy", bad, err)
		}
	}
	if s := Policy(99).String(); s != "Policy(99)" {
		t.Errorf("Policy(99).String() = %q", s)
	}
}

// TestPoolOracle offers keys with distinct scores, re-offering keys only
// with higher ones: the pool must then hold exactly the PoolSize best
// latest scores, and best() must hand them out in descending order.
func TestPoolOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	for round := range 50 {
		var p pool
		latest := map[string]uint64{}
		used := map[uint64]bool{}
		nkeys := 5 + rng.IntN(60)
		offers := 1 + rng.IntN(200)
		for range offers {
			k := fmt.Sprintf("key%d", rng.IntN(nkeys))
			s := latest[k] + 1 + rng.Uint64N(1000)
			for used[s] {
				s++
			}
			used[s] = true
			latest[k] = s
			key := []byte(k)
			p.offer(candidate{key: key, score: s, seen: engine.Sampled{Bytes: int64(len(k))}})
			key[0] = 'X' // the pool keeps its own copy
		}
		type kv struct {
			k string
			s uint64
		}
		var all []kv
		for k, s := range latest {
			all = append(all, kv{k, s})
		}
		slices.SortFunc(all, func(a, b kv) int { return cmp.Compare(b.s, a.s) })
		want := all[:min(PoolSize, len(all))]
		for i, w := range want {
			c, ok := p.best()
			if !ok || string(c.key) != w.k || c.score != w.s {
				t.Fatalf("round %d: best #%d = %q %d %v, want %q %d", round, i, c.key, c.score, ok, w.k, w.s)
			}
		}
		if c, ok := p.best(); ok {
			t.Fatalf("round %d: pool has an extra %q", round, c.key)
		}
	}
}

// TestPoolReoffer: re-offering a key replaces its entry, even with a
// lower score; a full pool refuses a score no better than its worst.
func TestPoolReoffer(t *testing.T) {
	var p pool
	for i := range PoolSize {
		p.offer(candidate{key: []byte(fmt.Sprint("k", i)), score: uint64(100 + i)})
	}
	p.offer(candidate{key: []byte("low"), score: 100}) // ties the worst: refused
	p.offer(candidate{key: []byte("k15"), score: 1})   // drops to the bottom
	p.offer(candidate{key: []byte("k0"), score: 1000}) // rises to the top
	var got []string
	var scores []uint64
	for {
		c, ok := p.best()
		if !ok {
			break
		}
		got = append(got, string(c.key))
		scores = append(scores, c.score)
	}
	if len(got) != PoolSize || got[0] != "k0" || got[PoolSize-1] != "k15" || slices.Contains(got, "low") {
		t.Fatalf("pool order %q", got)
	}
	if !slices.IsSortedFunc(scores, func(a, b uint64) int { return cmp.Compare(b, a) }) {
		t.Fatalf("scores not descending: %v", scores)
	}
	p.offer(candidate{key: []byte("a"), score: 5})
	p.reset()
	if _, ok := p.best(); ok {
		t.Fatal("reset pool not empty")
	}
}

func TestSketchLastReadIdle(t *testing.T) {
	s := NewSketch(1 << 16)
	const t0 = 1_700_000_000_000
	k := []byte("key")
	if got := s.LastRead(k); got != 0 {
		t.Fatalf("untouched LastRead = %d", got)
	}
	// Never read: idle since its write.
	if got := s.Idle(k, t0, t0+5000); got != 5000 {
		t.Fatalf("Idle unread = %d, want 5000", got)
	}
	s.Touch(k, t0+7_250)
	if got := s.LastRead(k); got != t0+7_999 { // second resolution, the end of the second
		t.Fatalf("LastRead = %d, want %d", got, t0+7_999)
	}
	if got := s.Idle(k, t0, t0+10_000); got != 2_001 {
		t.Fatalf("Idle after read = %d, want 2001", got)
	}
	// A key read in the second another was written in is the more recent.
	if s.Idle(k, 0, t0+8_000) >= s.Idle([]byte("other"), t0+7_500, t0+8_000) {
		t.Fatal("a read counts as older than a write in its second")
	}
	// A write after the read counts from the write.
	if got := s.Idle(k, t0+9_000, t0+10_000); got != 1_000 {
		t.Fatalf("Idle after later write = %d, want 1000", got)
	}
	// Never negative.
	if got := s.Idle(k, t0+20_000, t0+10_000); got != 0 {
		t.Fatalf("Idle before write = %d", got)
	}
	// An older touch does not move LastRead back.
	s.Touch(k, t0+1_000)
	if got := s.LastRead(k); got != t0+7_999 {
		t.Fatalf("LastRead after an older touch = %d", got)
	}
	s.Touch(k, t0+60_000)
	if got := s.LastRead(k); got != t0+60_999 {
		t.Fatalf("LastRead = %d, want %d", got, t0+60_999)
	}
	if other := []byte("other"); s.LastRead(other) != 0 {
		t.Fatal("an untouched key shares the touched key's slots")
	}
}

// TestSketchBitmap: Peek, which may answer from the bitmap alone, agrees
// with the slots it would have read, through touches and restores of keys
// that share slots; and a key's own touch is always seen by its toucher.
func TestSketchBitmap(t *testing.T) {
	const minute = 60_000
	// Keys share slots, and about a quarter of the slots are in use at
	// the end: both of Peek's ways are taken throughout.
	s := NewSketch(1 << 16)
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() []byte { return fmt.Appendf(nil, "k%d", rng.IntN(20_000)) }
	now := int64(1000 * minute)
	skipped, read := 0, 0
	for step := range 20_000 {
		k := key()
		switch rng.IntN(4) {
		case 0:
			s.Touch(k, now)
		case 1: // an OBJECT look: touched, then put back
			was := s.Slots(k)
			s.Touch(k, now)
			s.Restore(k, was)
		}
		now += int64(rng.IntN(5_000))
		k = key()
		got, want := s.Peek(k, now), s.combine(s.Slots(k), now)
		if got != want {
			t.Fatalf("step %d: Peek(%s) = %+v, its slots say %+v", step, k, got, want)
		}
		if a, b := slotPair(k); !s.maybeUsed(a&s.mask) || !s.maybeUsed(b&s.mask) {
			skipped++
		} else {
			read++
		}
	}
	if skipped < 1000 || read < 1000 {
		t.Fatalf("the bitmap answered %d lookups, the slots %d: the test misses one way", skipped, read)
	}

	// Concurrent touches of distinct keys: each toucher sees its own.
	s = NewSketch(1 << 16)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				k := fmt.Appendf(nil, "g%d-%d", g, i)
				s.Touch(k, now)
				if s.Peek(k, now).LastRead == 0 {
					t.Errorf("%s: touched, then not seen", k)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestSketchFreq(t *testing.T) {
	const minute = 60_000
	t0 := int64(1000 * minute) // minute-aligned
	s := NewSketch(1 << 16)

	// Never touched: LFUInit, decayed by a minute per minute since its write.
	k := []byte("cold")
	for _, tc := range []struct {
		now  int64
		want uint8
	}{{t0, LFUInit}, {t0 + minute - 1, LFUInit}, {t0 + minute, LFUInit - 1}, {t0 + 3*minute, LFUInit - 3}, {t0 + 10*minute, 0}} {
		if got := s.Freq(k, t0, tc.now); got != tc.want {
			t.Errorf("untouched Freq at +%dms = %d, want %d", tc.now-t0, got, tc.want)
		}
	}
	// Many touches grow the log counter; more touches, more count.
	hot, warm := []byte("hot"), []byte("warm")
	for range 300 {
		s.Touch(warm, t0)
	}
	for range 30_000 {
		s.Touch(hot, t0)
	}
	fw, fh := s.Freq(warm, t0, t0), s.Freq(hot, t0, t0)
	if fw <= LFUInit || fh <= fw+5 || fh == 255 {
		t.Fatalf("Freq after 300 touches %d, after 30000 %d", fw, fh)
	}
	// Logarithmic: far fewer than the touches.
	if fh > 150 {
		t.Fatalf("Freq after 30000 touches %d: not logarithmic", fh)
	}
	// Decay: one per minute without touches, down to the write's floor.
	for m := int64(1); m <= 5; m++ {
		if got := s.Freq(hot, t0, t0+m*minute); got != fh-uint8(m) {
			t.Fatalf("Freq %d minutes later = %d, want %d", m, got, fh-uint8(m))
		}
	}
	if got := s.Freq(hot, t0, t0+int64(fh+10)*minute); got != 0 {
		t.Fatalf("Freq long after = %d, want 0", got)
	}
	// A key written recently is not below LFUInit however its slots decayed.
	if got := s.Freq(hot, t0+int64(fh+10)*minute, t0+int64(fh+10)*minute); got != LFUInit {
		t.Fatalf("Freq of a fresh write = %d, want %d", got, LFUInit)
	}
	// No decay with lfu-decay-time 0.
	s.SetLFU(10, 0)
	if got := s.Freq(hot, t0, t0+100*minute); got != fh {
		t.Fatalf("Freq without decay = %d, want %d", got, fh)
	}
	// A touch after a long pause starts from the decayed counter.
	s.SetLFU(10, 1)
	s.Touch(hot, t0+3*minute)
	if got := s.Freq(hot, t0, t0+3*minute); got < fh-3 || got > fh-2 {
		t.Fatalf("Freq after a touch 3 minutes later = %d, want %d or %d", got, fh-3, fh-2)
	}
}

// testStore is an engine in a TempDir with an evictor that deletes
// through EvictSampled, as cmd/ringcache does on a single node.
type testStore struct {
	eng *engine.Engine
	ev  *Evictor
	// deletes counts keys handed to Delete.
	deletes atomic.Int64
}

func newTestStore(t testing.TB, mod func(*Config)) *testStore {
	t.Helper()
	var hook atomic.Pointer[Evictor]
	ecfg := engine.DefaultConfig()
	ecfg.Dir = t.TempDir()
	ecfg.Fsync = engine.FsyncNo
	ecfg.CacheBytes = 8 << 20
	ecfg.MemTableBytes = 4 << 20
	ecfg.RowCacheBytes = 4 << 20
	ecfg.OnRead = func(k []byte) {
		if ev := hook.Load(); ev != nil {
			ev.OnRead(k)
		}
	}
	eng, err := engine.Open(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	eng.StartWriteClock() // as cmd/ringcache does at its first eviction
	ts := &testStore{eng: eng}
	cfg := DefaultConfig()
	cfg.Source = eng
	cfg.SketchSlots = 1 << 16
	// A write waits for a slow pass (the race detector, a loaded machine)
	// rather than be refused for it: the tests check what is evicted and
	// that no write is refused while a key may go, not how fast. A write
	// refused because nothing may go (noeviction, stuck) is refused at
	// once.
	cfg.MaxWait = time.Minute
	cfg.Delete = func(_ context.Context, victims []Victim) (int64, error) {
		seen := make([]engine.Sampled, len(victims))
		for i, v := range victims {
			if r := v.Tombstone; !r.Tombstone || r.EvictedAt == 0 || r.Version != engine.EvictedVersion(v.Sampled.Version) {
				t.Errorf("Delete given %+v for %+v, not its eviction tombstone", r, v.Sampled)
			}
			seen[i] = v.Sampled
		}
		ts.deletes.Add(int64(len(victims)))
		return eng.EvictSampled(seen)
	}
	if mod != nil {
		mod(&cfg)
	}
	ev, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hook.Store(ev)
	ts.ev = ev
	t.Cleanup(func() {
		_ = ev.Close()
		_ = eng.Close()
	})
	return ts
}

// put writes n keys named prefix+i with vlen-byte values, version Wall
// wall, and the expiry exp(i) (0: none), in batches.
func (ts *testStore) put(t testing.TB, prefix string, n, vlen int, wall int64, exp func(i int) int64) {
	t.Helper()
	const batch = 100
	val := make([]byte, vlen)
	for i := 0; i < n; i += batch {
		var keys [][]byte
		var recs []engine.Record
		for j := i; j < min(i+batch, n); j++ {
			r := engine.Record{Version: engine.Version{Wall: wall, Node: 1}, Value: val}
			if exp != nil {
				r.ExpireAt = exp(j)
			}
			keys = append(keys, []byte(fmt.Sprintf("%s%06d", prefix, j)))
			recs = append(recs, r)
		}
		if _, err := ts.eng.ApplyBatch(keys, recs); err != nil {
			t.Fatal(err)
		}
	}
}

// stored returns the live keys (and their expiries) whose name starts with prefix.
func (ts *testStore) stored(t *testing.T, prefix string) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	err := ts.eng.Scan(0, 0, func(k []byte, r engine.Record) error {
		if !r.Tombstone && strings.HasPrefix(string(k), prefix) {
			m[string(k)] = r.ExpireAt
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// settle bounds a wait for eviction to catch up: generous, since a wait
// ends as soon as its condition holds and a loaded machine with the race
// detector runs passes many times slower.
const settle = 30 * time.Second

func waitUsed(t *testing.T, ts *testStore, limit int64, what string) {
	t.Helper()
	await.T(t, settle, what, func() error {
		if u := ts.eng.UsedBytes(); u > limit {
			return fmt.Errorf("UsedBytes %d > %d", u, limit)
		}
		return nil
	})
}

func TestConfigValidate(t *testing.T) {
	eng := (*engine.Engine)(nil)
	del := func(context.Context, []Victim) (int64, error) { return 0, nil }
	for name, c := range map[string]Config{
		"no source":  {Delete: del},
		"no delete":  {Source: eng},
		"negative":   {Source: eng, Delete: del, MaxMemory: -1},
		"samples 65": {Source: eng, Delete: del, Samples: 65},
		"policy":     {Source: eng, Delete: del, Policy: Policy(8)},
	} {
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: New = %v, want ErrConfig", name, err)
		}
	}
}

// TestEvictsToBudget fills the store well past MaxMemory under each
// allkeys policy: the evictor brings it back within the budget (and
// margin) on its own, then down to a lowered budget at once.
func TestEvictsToBudget(t *testing.T) {
	for _, pol := range []Policy{AllKeysLRU, AllKeysLFU, AllKeysRandom, VolatileRandom} {
		t.Run(pol.String(), func(t *testing.T) {
			const budget = 1 << 20
			ts := newTestStore(t, func(c *Config) {
				c.MaxMemory = budget
				c.Policy = pol
			})
			wall := time.Now().UnixMilli()
			var exp func(int) int64
			if pol.Volatile() {
				exp = func(int) int64 { return wall + 3_600_000 }
			}
			ts.put(t, "k", 10_000, 200, wall, exp) // about 3x the budget
			if u := ts.eng.UsedBytes(); u < 2*budget && ts.ev.Stats().Evicted == 0 {
				t.Fatalf("only %d bytes written", u)
			}
			waitUsed(t, ts, budget+Margin(budget), "UsedBytes within budget and margin")
			waitUsed(t, ts, budget, "UsedBytes within budget")
			await.T(t, settle, "Evicted == EvictedApplied", func() error {
				ev, ap := ts.ev.Stats().Evicted, int64(ts.eng.Stats().EvictedApplied)
				if ev != ap || ev != ts.deletes.Load() || ev == 0 {
					return fmt.Errorf("Evicted %d, EvictedApplied %d, deleted %d", ev, ap, ts.deletes.Load())
				}
				return nil
			})
			if !ts.ev.Admit() {
				t.Fatal("Admit refused within budget")
			}
			// Not far below: eviction stops at the budget.
			if u := ts.eng.UsedBytes(); u < budget-budget/8 {
				t.Errorf("evicted down to %d, budget %d", u, budget)
			}
			ts.ev.SetMaxMemory(budget / 2)
			if ts.ev.MaxMemory() != budget/2 {
				t.Fatalf("MaxMemory = %d", ts.ev.MaxMemory())
			}
			waitUsed(t, ts, budget/2, "UsedBytes within the lowered budget")
		})
	}
}

// TestVolatileTTL: with half the keys expiring, volatile-ttl evicts only
// those, nearest expiry first.
func TestVolatileTTL(t *testing.T) {
	const budget = 1 << 20
	ts := newTestStore(t, func(c *Config) {
		c.MaxMemory = budget
		c.Policy = VolatileTTL
		c.Samples = 10
	})
	wall := time.Now().UnixMilli()
	// 2 x 3000 keys of ~290 bytes (+ expiry index for the TTL half): the
	// persistent half alone fits the budget.
	ts.put(t, "p", 3000, 200, wall, nil)
	perm := rand.New(rand.NewPCG(7, 7)).Perm(3000) // expiries not in key order
	ts.put(t, "t", 3000, 200, wall, func(i int) int64 { return wall + 3_600_000 + int64(perm[i])*1000 })
	waitUsed(t, ts, budget, "UsedBytes within budget")
	if n := len(ts.stored(t, "p")); n != 3000 {
		t.Fatalf("%d of 3000 keys without TTL left: volatile-ttl evicted persistent keys", n)
	}
	left := ts.stored(t, "t")
	if len(left) == 3000 || len(left) == 0 {
		t.Fatalf("%d of 3000 TTL keys left", len(left))
	}
	var kept, gone []int64
	for i := range 3000 {
		exp := wall + 3_600_000 + int64(perm[i])*1000
		if _, ok := left[fmt.Sprintf("t%06d", i)]; ok {
			kept = append(kept, exp)
		} else {
			gone = append(gone, exp)
		}
	}
	slices.Sort(kept)
	slices.Sort(gone)
	mk, mg := kept[len(kept)/2], gone[len(gone)/2]
	if mk <= mg {
		t.Fatalf("median surviving expiry %d not later than median evicted %d", mk-wall, mg-wall)
	}
	// Approximate, but far from random: most of the evicted keys expire
	// before most of the survivors.
	if p90 := gone[len(gone)*9/10]; p90 > kept[len(kept)/2] {
		t.Errorf("90th percentile evicted expiry %d past the median surviving %d", p90-wall, mk-wall)
	}
	t.Logf("%d TTL keys evicted; median expiry evicted %ds, kept %ds", len(gone), (mg-wall)/1000, (mk-wall)/1000)
}

// TestVolatileStuck: a volatile policy with no expiring key cannot evict:
// past the budget Admit refuses and Stats reports Stuck.
func TestVolatileStuck(t *testing.T) {
	for _, pol := range []Policy{VolatileLRU, VolatileLFU, VolatileTTL, VolatileRandom} {
		t.Run(pol.String(), func(t *testing.T) {
			const budget = 256 << 10
			ts := newTestStore(t, func(c *Config) {
				c.MaxMemory = budget
				c.Policy = pol
			})
			if !ts.ev.Admit() || ts.ev.Stats().Stuck {
				t.Fatal("refused or stuck while empty")
			}
			ts.put(t, "k", 2000, 200, time.Now().UnixMilli(), nil)
			await.T(t, settle, "Stuck", func() bool { return ts.ev.Stats().Stuck })
			if ts.ev.Admit() {
				t.Fatal("Admit accepted a write past the budget with nothing to evict")
			}
			if st := ts.ev.Stats(); st.Refused == 0 || st.Evicted != 0 {
				t.Fatalf("stats %+v", st)
			}
			if n := len(ts.stored(t, "k")); n != 2000 {
				t.Fatalf("%d of 2000 keys left", n)
			}
			// A policy that may evict them unsticks it.
			ts.ev.SetPolicy(AllKeysRandom)
			waitUsed(t, ts, budget, "UsedBytes within budget after switching policy")
			if st := ts.ev.Stats(); st.Stuck || !ts.ev.Admit() {
				t.Fatalf("still stuck: %+v", st)
			}
		})
	}
}

// TestNoEviction: noeviction refuses writes past the budget and evicts
// nothing; back under it, it admits them.
func TestNoEviction(t *testing.T) {
	const budget = 256 << 10
	ts := newTestStore(t, func(c *Config) {
		c.MaxMemory = budget
		c.Policy = NoEviction
	})
	if !ts.ev.Admit() {
		t.Fatal("refused while empty")
	}
	ts.put(t, "k", 2000, 200, time.Now().UnixMilli(), nil)
	for range 2 {
		if ts.ev.Admit() {
			t.Fatal("Admit accepted a write past the budget")
		}
	}
	if st := ts.ev.Stats(); st.Refused != 2 || st.Evicted != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Delete keys until under the budget.
	var keys [][]byte
	var recs []engine.Record
	for i := range 1500 {
		keys = append(keys, []byte(fmt.Sprintf("k%06d", i)))
		recs = append(recs, engine.Record{Version: engine.Version{Wall: time.Now().UnixMilli() + 1000}, Tombstone: true})
	}
	if _, err := ts.eng.ApplyBatch(keys, recs); err != nil {
		t.Fatal(err)
	}
	if ts.eng.UsedBytes() > budget {
		t.Fatalf("UsedBytes %d still past %d", ts.eng.UsedBytes(), budget)
	}
	if !ts.ev.Admit() {
		t.Fatal("Admit refused under the budget")
	}
	if n := len(ts.stored(t, "k")); n != 500 {
		t.Fatalf("%d keys left, want 500 (noeviction evicted)", n)
	}
	// No budget: everything is admitted.
	ts.put(t, "m", 2000, 200, time.Now().UnixMilli(), nil)
	ts.ev.SetMaxMemory(0)
	if !ts.ev.Admit() {
		t.Fatal("Admit refused without a budget")
	}
}

// TestLRUKeepsHotSet reads a hot set continuously through the engine
// (OnRead feeding the sketch) while writing 3x the budget of other keys,
// all with the same write time: allkeys-lru must keep the hot set.
func TestLRUKeepsHotSet(t *testing.T) {
	const budget = 1 << 20
	ts := newTestStore(t, func(c *Config) {
		c.MaxMemory = budget
		c.Policy = AllKeysLRU
	})
	// Written 30s ago, so that recency can only come from reads.
	wall := time.Now().Add(-30 * time.Second).UnixMilli()
	const hotN = 200
	ts.put(t, "hot", hotN, 200, wall, nil)
	hot := make([][]byte, hotN)
	for i := range hot {
		hot[i] = []byte(fmt.Sprintf("hot%06d", i))
	}
	readAll := func() {
		for _, k := range hot {
			if _, _, err := ts.eng.Lookup(k); err != nil {
				t.Error(err)
				return
			}
		}
	}
	readAll()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			readAll()
		}
	}()
	const coldN = 10_000 // ~3 MiB
	for i := 0; i < coldN; i += 500 {
		ts.put(t, fmt.Sprintf("cold%06d-", i), 500, 200, wall, nil)
		if !ts.ev.Admit() {
			t.Fatalf("Admit refused at cold key %d", i)
		}
	}
	waitUsed(t, ts, budget, "UsedBytes within budget")
	close(stop)
	wg.Wait()
	left := len(ts.stored(t, "hot"))
	if left < hotN*95/100 {
		t.Fatalf("%d of %d hot keys survived", left, hotN)
	}
	t.Logf("%d of %d hot keys survived; %d keys evicted", left, hotN, ts.ev.Stats().Evicted)
}

// TestOnReadOff: the read hook records nothing without a budget or under
// a policy that does not use reads.
func TestOnReadOff(t *testing.T) {
	ts := newTestStore(t, func(c *Config) { c.Policy = AllKeysLRU })
	k := []byte("k")
	ts.ev.OnRead(k)
	if ts.ev.Sketch().LastRead(k) != 0 {
		t.Fatal("OnRead recorded without a budget")
	}
	ts.ev.SetMaxMemory(1 << 30)
	ts.ev.SetPolicy(AllKeysRandom)
	ts.ev.OnRead(k)
	if ts.ev.Sketch().LastRead(k) != 0 {
		t.Fatal("OnRead recorded under allkeys-random")
	}
	ts.ev.SetPolicy(VolatileLFU)
	ts.ev.OnRead(k)
	if ts.ev.Sketch().LastRead(k) == 0 {
		t.Fatal("OnRead not recorded under volatile-lfu with a budget")
	}
	if ts.ev.Policy() != VolatileLFU {
		t.Fatalf("Policy = %v", ts.ev.Policy())
	}
	for in, want := range map[int]int{0: 1, -3: 1, 7: 7, 64: 64, 100: 64} {
		ts.ev.SetSamples(in)
		if got := ts.ev.Samples(); got != want {
			t.Errorf("SetSamples(%d): Samples = %d, want %d", in, got, want)
		}
	}
	ts.ev.SetMaxMemory(-1)
	if ts.ev.MaxMemory() != 0 {
		t.Fatalf("MaxMemory after SetMaxMemory(-1) = %d", ts.ev.MaxMemory())
	}
	if err := ts.ev.Close(); err != nil {
		t.Fatal(err)
	}
	_ = ts.ev.Close() // idempotent
}

func TestMargin(t *testing.T) {
	if got := Margin(64 << 20); got != 1<<20+256<<10 {
		t.Fatalf("Margin(64MiB) = %d", got)
	}
	if got := Margin(0); got != 256<<10 {
		t.Fatalf("Margin(0) = %d", got)
	}
}

// TestFreqWriteAfterNow: a record whose version's Wall is later than the
// evictor's now (written while a choose was sampling, or stamped by a
// node whose clock runs ahead) and never read must still count LFUInit:
// "new keys are not the first to go".
func TestFreqWriteAfterNow(t *testing.T) {
	const now = 1_700_000_000_000
	s := NewSketch(1 << 16)
	if got := s.Freq([]byte("new"), now+5, now); got != LFUInit {
		t.Fatalf("Freq of a key written 5ms after now = %d, want %d (it becomes the best LFU victim)", got, LFUInit)
	}
}

// TestBoundAndRefuses: bound is never below score under any policy, and
// a pool that skips the candidates refuses() turns away by their bound
// (as choose does, to spare the sketch) ends every step exactly as one
// offered every candidate its score.
func TestBoundAndRefuses(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	now := int64(1_700_000_000_000)
	e := &Evictor{sketch: NewSketch(1 << 8)} // few slots: keys share them
	keys := make([][]byte, 60)
	for i := range keys {
		keys[i] = []byte(fmt.Sprint("key", i))
	}
	for _, pol := range []Policy{AllKeysLRU, AllKeysLFU, VolatileLRU, VolatileLFU, VolatileTTL} {
		var eager, lazy pool
		skipped := 0
		for step := range 5000 {
			k := keys[rng.IntN(len(keys))]
			if rng.IntN(3) == 0 {
				e.sketch.Touch(k, now-rng.Int64N(600_000))
			}
			s := engine.Sampled{Token: uint64(len(k)), Version: engine.Version{Wall: now - rng.Int64N(600_000)},
				ExpireAt: now + rng.Int64N(600_000), Bytes: 10}
			s.Key = k
			score, bound := e.score(pol, s, now), e.bound(pol, s, now)
			if bound < score {
				t.Fatalf("%v step %d: bound %d < score %d", pol, step, bound, score)
			}
			s.Key = nil
			eager.offer(candidate{key: k, seen: s, score: score})
			if c := (candidate{key: k, seen: s, score: bound}); lazy.refuses(c) {
				skipped++
			} else {
				c.score = score
				lazy.offer(c)
			}
			if rng.IntN(8) == 0 {
				a, aok := eager.best()
				b, bok := lazy.best()
				if aok != bok || string(a.key) != string(b.key) || a.score != b.score {
					t.Fatalf("%v step %d: best %q %d, lazily %q %d", pol, step, a.key, a.score, b.key, b.score)
				}
			}
		}
		if len(eager.c) != len(lazy.c) {
			t.Fatalf("%v: pools of %d and %d", pol, len(eager.c), len(lazy.c))
		}
		for i := range eager.c {
			if string(eager.c[i].key) != string(lazy.c[i].key) || eager.c[i].score != lazy.c[i].score {
				t.Fatalf("%v: pools differ at %d", pol, i)
			}
		}
		if pol != VolatileTTL && skipped == 0 {
			t.Fatalf("%v: no candidate skipped", pol)
		}
	}
}
