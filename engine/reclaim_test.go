package engine

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"

	"github.com/ringcache/ringcache/bench/await"
)

// reclaimEngine opens an engine on a fake clock with a reclaimer that
// effectively never ticks on its own; tests call reclaimOnce.
func reclaimEngine(t *testing.T, clock *fakeClock, mods ...func(*Config)) *Engine {
	t.Helper()
	return openMem(t, append([]func(*Config){func(c *Config) {
		c.Now = clock.Now
		c.ReclaimInterval = time.Hour
		c.TombstoneGrace = 10 * time.Second
	}}, mods...)...)
}

func mustReclaim(t *testing.T, e *Engine) {
	t.Helper()
	if err := e.reclaimOnce(); err != nil {
		t.Fatalf("reclaim: %v", err)
	}
}

func TestExpiryBecomesTombstoneThenPurged(t *testing.T) {
	const t0 = 1_700_000_000_000
	clock := newFakeClock(t0)
	e := reclaimEngine(t, clock)
	v := ver(t0, 0, 1)
	mustApply(t, e, "ttl", Record{Version: v, Value: []byte("x"), ExpireAt: t0 + 100})
	mustApply(t, e, "keep", val(ver(t0, 0, 1), "y"))

	mustReclaim(t, e) // nothing due yet
	if r, _ := mustLookup(t, e, "ttl"); r.Tombstone || string(r.Value) != "x" {
		t.Fatalf("reclaimed early: %+v", r)
	}

	clock.Set(t0 + 100)
	mustReclaim(t, e)
	r, ok := mustLookup(t, e, "ttl")
	if !ok || !r.Tombstone || r.Version != v || r.Value != nil {
		t.Fatalf("after expiry: %+v %v, want tombstone with version %v", r, ok, v)
	}
	// An older replica copy of the value cannot resurrect it; the same
	// version is a no-op too.
	if mustApply(t, e, "ttl", Record{Version: v, Value: []byte("x"), ExpireAt: t0 + 100}) {
		t.Fatal("same-version copy applied over the expiry tombstone")
	}
	if st := e.Stats(); st.ExpiredReclaimed != 1 || st.LiveRecords != 1 {
		t.Fatalf("stats %+v", st)
	}

	// The tombstone is purged once its grace (from Version.Wall) ends.
	clock.Set(t0 + 9_999)
	mustReclaim(t, e)
	if _, ok := mustLookup(t, e, "ttl"); !ok {
		t.Fatal("tombstone purged before its grace ended")
	}
	clock.Set(t0 + 10_000)
	mustReclaim(t, e)
	if _, ok := mustLookup(t, e, "ttl"); ok {
		t.Fatal("tombstone not purged after its grace")
	}
	if st := e.Stats(); st.TombstonesPurged != 1 {
		t.Fatalf("purged = %d", st.TombstonesPurged)
	}
	if r, ok := mustLookup(t, e, "keep"); !ok || string(r.Value) != "y" {
		t.Fatal("unrelated key disturbed")
	}
	assertIndexEmpty(t, e)
}

func TestDeleteTombstonePurge(t *testing.T) {
	const t0 = 1_700_000_000_000
	clock := newFakeClock(t0)
	var allow atomic.Bool
	var asked atomic.Int32
	e := reclaimEngine(t, clock, func(c *Config) {
		c.PurgeAllowed = func(key []byte, r Record, storedAt int64) bool {
			asked.Add(1)
			if string(key) != "gone" || !r.Tombstone {
				t.Errorf("PurgeAllowed(%q, %+v, %d)", key, r, storedAt)
			}
			return allow.Load()
		}
	})
	mustApply(t, e, "gone", Record{Version: ver(t0, 0, 0), Tombstone: true})
	clock.Set(t0 + 10_000)
	mustReclaim(t, e)
	if _, ok := mustLookup(t, e, "gone"); !ok || asked.Load() != 1 {
		t.Fatalf("purged although refused (asked %d)", asked.Load())
	}
	// Refused purges are retried later, not every round.
	mustReclaim(t, e)
	if asked.Load() != 1 {
		t.Fatalf("asked again immediately (%d)", asked.Load())
	}
	allow.Store(true)
	clock.Set(t0 + 20_000)
	mustReclaim(t, e)
	if _, ok := mustLookup(t, e, "gone"); ok {
		t.Fatal("tombstone not purged once allowed")
	}
	assertIndexEmpty(t, e)
}

// purgeAsks is a PurgeAllowed hook that records the stored time it is
// told for each key, and answers allow(key).
type purgeAsks struct {
	allow func(key string) bool
	mu    sync.Mutex
	asked map[string][]int64
}

func newPurgeAsks(allow func(key string) bool) *purgeAsks {
	return &purgeAsks{allow: allow, asked: map[string][]int64{}}
}

func (p *purgeAsks) hook(key []byte, _ Record, storedAt int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked[string(key)] = append(p.asked[string(key)], storedAt)
	return p.allow(string(key))
}

// told returns a copy of what the hook was told so far, per key.
func (p *purgeAsks) told() map[string][]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.asked)
}

// TestPurgeAskedWhenStored checks that PurgeAllowed is told when the
// engine stored each tombstone over a record of its key, not when it was
// written: one that arrives late (repair, hints), one an expiry makes,
// one whose purge was refused and asked about again, across a reopen,
// and one that replaced an older tombstone (whose stale entry, due
// first, must not lend it its time). It is told 0 for a tombstone stored
// where the key had no record. An entry an earlier build wrote, without
// the time or the version, is never asked about: it is written again as
// stored when first found due, and must not lend its time to a tombstone
// stored since, whether that one's entry is due in the same pass or
// later.
func TestPurgeAskedWhenStored(t *testing.T) {
	const t0 = 1_700_000_000_000
	clock := newFakeClock(t0)
	asks := newPurgeAsks(func(key string) bool { return key != "refused" })
	fs := vfs.NewMem()
	open := func() *Engine {
		cfg := memConfig(fs)
		cfg.Now, cfg.ReclaimInterval, cfg.TombstoneGrace = clock.Now, time.Hour, 10*time.Second
		cfg.PurgeAllowed = asks.hook
		return mustOpen(t, cfg)
	}
	e := open()
	tomb := func(wall int64) Record { return Record{Version: ver(wall, 0, 1), Tombstone: true} }
	for _, k := range []string{"legacy", "legacy-rewritten", "legacy-late", "prompt", "refused", "rewritten", "late"} {
		mustApply(t, e, k, val(ver(t0-1, 0, 1), "v"))
	}
	for _, k := range []string{"legacy", "legacy-rewritten", "legacy-late"} {
		mustApply(t, e, k, tomb(t0))
	}
	if n := legacyPurgeEntries(t, e); n != 3 {
		t.Fatalf("moved %d purge entries to the old index, want 3", n)
	}
	for _, k := range []string{"prompt", "refused", "rewritten"} {
		mustApply(t, e, k, tomb(t0))
	}
	mustApply(t, e, "ttl", Record{Version: ver(t0, 0, 1), Value: []byte("v"), ExpireAt: t0 + 3_000})
	clock.Set(t0 + 5_000)
	mustApply(t, e, "late", tomb(t0))  // repair, 5 s on
	mustApply(t, e, "fresh", tomb(t0)) // where the key had no record
	// Deleted again: due at t0+15s, after the stale entries (t0+10s).
	mustApply(t, e, "rewritten", tomb(t0+5_000))
	mustApply(t, e, "legacy-rewritten", tomb(t0+5_000))
	// Late, 1 ms newer: due in the same pass as the earlier build's entry.
	mustApply(t, e, "legacy-late", tomb(t0+1))
	mustReclaim(t, e) // expires ttl
	if r, ok := mustLookup(t, e, "ttl"); !ok || !r.Tombstone {
		t.Fatalf("ttl = %+v %v, want its tombstone", r, ok)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = open()
	clock.Set(t0 + 12_000) // the graces from t0 over, not those from t0+5s
	mustReclaim(t, e)
	clock.Set(t0 + 40_000) // the rest, and the refused one's retry
	mustReclaim(t, e)
	asked := asks.told()
	want := map[string][]int64{
		"prompt":           {t0},
		"refused":          {t0, t0},
		"ttl":              {t0 + 5_000},
		"late":             {t0 + 5_000},
		"rewritten":        {t0 + 5_000},
		"legacy":           {t0 + 12_000}, // found due at t0+12s
		"legacy-rewritten": {t0 + 5_000},
		"legacy-late":      {t0 + 5_000},
		"fresh":            {0},
	}
	if !maps.EqualFunc(asked, want, slices.Equal) {
		t.Fatalf("PurgeAllowed was told %v, want %v", asked, want)
	}
	for _, k := range []string{"prompt", "ttl", "late", "rewritten", "legacy", "legacy-rewritten", "legacy-late", "fresh"} {
		if r, ok := mustLookup(t, e, k); ok {
			t.Errorf("%s = %+v, want purged", k, r)
		}
	}
	if r, ok := mustLookup(t, e, "refused"); !ok || !r.Tombstone {
		t.Errorf("refused = %+v %v, want its tombstone kept", r, ok)
	}
}

// TestPurgeEntriesWithoutValue: the build that brought the purge index
// wrote its entries empty. Such an entry may be a stale one of a
// tombstone replaced since. When the newer tombstone's own entry is due
// later (and the purge refused, so that both are moved to one retry key
// in one batch), PurgeAllowed is never told a time before the newer
// one's arrival, and the tombstone goes once allowed. (A newer tombstone
// due at the same time writes its entry under the empty one's key and
// replaces it.)
func TestPurgeEntriesWithoutValue(t *testing.T) {
	const t0 = 1_700_000_000_000
	clock := newFakeClock(t0)
	var allow atomic.Bool
	asks := newPurgeAsks(func(string) bool { return allow.Load() })
	e := reclaimEngine(t, clock, func(c *Config) { c.PurgeAllowed = asks.hook })
	keys := map[string]Version{ // the late tombstone's version
		"same-key": ver(t0, 1, 1),       // due with the stale entry, under its key
		"later":    ver(t0+3_000, 0, 1), // due 3 s after it
	}
	for k := range keys {
		mustApply(t, e, k, val(ver(t0-1, 0, 1), "v"))
		mustApply(t, e, k, Record{Version: ver(t0, 0, 1), Tombstone: true})
	}
	if n := emptyPurgeValues(t, e); n != 2 {
		t.Fatalf("emptied %d purge entries, want 2", n)
	}
	clock.Set(t0 + 5_000) // the newer tombstones arrive late
	for k, v := range keys {
		mustApply(t, e, k, Record{Version: v, Tombstone: true})
	}
	if n := countEntries(t, e, purgeStart, purgeEnd, func(_, v []byte) bool { return len(v) == 0 }); n != 1 {
		t.Fatalf("%d empty purge entries, want later's stale one", n)
	}
	clock.Set(t0 + 14_000) // every entry due; refused
	mustReclaim(t, e)
	allow.Store(true)
	clock.Set(t0 + 40_000)
	mustReclaim(t, e)
	asked := asks.told()
	for k := range keys {
		if len(asked[k]) == 0 {
			t.Errorf("%s: never asked", k)
		}
		for _, at := range asked[k] {
			if at < t0+5_000 {
				t.Errorf("%s: told %v, want no time before the arrival at +5s", k, asked[k])
				break
			}
		}
		if r, ok := mustLookup(t, e, k); ok {
			t.Errorf("%s = %+v, want purged", k, r)
		}
	}
	assertIndexEmpty(t, e)
}

// A key deleted and written again with a TTL in the same millisecond, both
// entries due in one reclaim: the expiry's tombstone gets a purge entry
// under the same key as the first tombstone's stale one, and the delete
// of the stale entry must not take the new one with it, whichever of the
// two is due first.
func TestPurgeEntryRewrittenInOneBatch(t *testing.T) {
	const t0 = 1_700_000_000_000
	for _, exp := range []int64{t0 + 20_000, t0 + 5_000} { // the purge due at t0+10s
		clock := newFakeClock(t0)
		e := reclaimEngine(t, clock) // grace 10 s
		mustApply(t, e, "k", Record{Version: ver(t0, 0, 1), Tombstone: true})
		mustApply(t, e, "k", Record{Version: ver(t0, 1, 1), Value: []byte("v"), ExpireAt: exp})
		clock.Set(t0 + 30_000)
		mustReclaim(t, e) // expires k: its tombstone's purge is due at once
		if r, ok := mustLookup(t, e, "k"); !ok || !r.Tombstone || r.Version != ver(t0, 1, 1) {
			t.Fatalf("expiry %d: k = %+v %v, want the expired record's tombstone", exp-t0, r, ok)
		}
		mustReclaim(t, e)
		if r, ok := mustLookup(t, e, "k"); ok {
			t.Fatalf("expiry %d: k = %+v, want purged", exp-t0, r)
		}
		assertIndexEmpty(t, e)
	}
}

// TestStaleIndexEntries overwrites expiring records; the old index
// entries must be dropped without touching the new records.
func TestStaleIndexEntries(t *testing.T) {
	const t0 = 1_700_000_000_000
	clock := newFakeClock(t0)
	e := reclaimEngine(t, clock)
	mustApply(t, e, "a", Record{Version: ver(t0, 0, 0), Value: []byte("1"), ExpireAt: t0 + 50})
	mustApply(t, e, "a", Record{Version: ver(t0, 1, 0), Value: []byte("2"), ExpireAt: t0 + 500})
	mustApply(t, e, "b", Record{Version: ver(t0, 0, 0), Value: []byte("1"), ExpireAt: t0 + 50})
	mustApply(t, e, "b", val(ver(t0, 1, 0), "forever"))
	clock.Set(t0 + 100)
	if c, _ := e.Count(t0 + 100); c != 2 {
		t.Fatalf("Count = %d, want 2 (stale entries must not count)", c)
	}
	mustReclaim(t, e)
	for k, want := range map[string]string{"a": "2", "b": "forever"} {
		if r, _ := mustLookup(t, e, k); r.Tombstone || string(r.Value) != want {
			t.Fatalf("%s = %+v, want live %q", k, r, want)
		}
	}
	clock.Set(t0 + 500)
	mustReclaim(t, e)
	if r, _ := mustLookup(t, e, "a"); !r.Tombstone {
		t.Fatalf("a = %+v, want expired", r)
	}
	if c, _ := e.Count(t0 + 500); c != 1 {
		t.Fatalf("Count = %d, want 1", c)
	}
}

// TestReclaimerRunsInBackground drives the reclaimer's ticker, with an
// injected clock: one pass reclaims everything due.
func TestReclaimerRunsInBackground(t *testing.T) {
	const t0 = 1_700_000_000_000
	clock := newFakeClock(t0)
	tk := await.NewTicker()
	e := openMem(t, func(c *Config) {
		c.Now = clock.Now
		c.NewTicker = tk.Start
	})
	for i := range 600 { // more than one reclaim chunk
		k := []byte{byte(i >> 8), byte(i)}
		if _, err := e.Apply(k, Record{Version: ver(t0, 0, 0), Value: k, ExpireAt: t0 + 10}); err != nil {
			t.Fatal(err)
		}
	}
	tk.Passes(t, 1)
	if n := e.Stats().ExpiredReclaimed; n != 0 {
		t.Fatalf("%d reclaimed before they were due", n)
	}
	clock.Set(t0 + 10)
	tk.Passes(t, 1)
	if n := e.Stats().ExpiredReclaimed; n != 600 {
		t.Fatalf("one pass reclaimed %d of 600", n)
	}
	if st := e.Stats(); st.LiveRecords != 0 {
		t.Fatalf("live = %d", st.LiveRecords)
	}
}

func TestCountExcludesExpiredBeforeReclaim(t *testing.T) {
	const t0 = 1_700_000_000_000
	clock := newFakeClock(t0)
	e := reclaimEngine(t, clock)
	mustApply(t, e, "px", Record{Version: ver(t0, 0, 0), Value: []byte("v"), ExpireAt: t0 + 100})
	mustApply(t, e, "plain", val(ver(t0, 0, 0), "v"))
	mustApply(t, e, "del", Record{Version: ver(t0, 0, 0), Tombstone: true})
	tests := []struct {
		now  int64
		want int64
	}{{t0, 2}, {t0 + 99, 2}, {t0 + 100, 1}, {t0 + 5000, 1}}
	for _, tt := range tests {
		if c, err := e.Count(tt.now); err != nil || c != tt.want {
			t.Fatalf("Count(%d) = %d, %v; want %d", tt.now-t0, c, err, tt.want)
		}
	}
	if e.Stats().ExpiredReclaimed != 0 {
		t.Fatal("reclaimer ran; the test must observe Count before it")
	}
	clock.Set(t0 + 100)
	mustReclaim(t, e)
	if c, _ := e.Count(t0 + 100); c != 1 {
		t.Fatalf("Count after reclaim = %d, want 1", c)
	}
}

func assertIndexEmpty(t *testing.T, e *Engine) {
	t.Helper()
	it, err := e.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for ok := it.SeekGE(indexStart); ok && (it.Key()[0] == prefixIndex || it.Key()[0] == prefixPurge); ok = it.Next() {
		t.Fatalf("index entry left: %x", it.Key())
	}
}
