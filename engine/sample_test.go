package engine

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble"
)

// TestSampleExpiring checks SampleExpiring against the live records that
// carry an expiry, in the index's order (expiry, token, key): whatever
// the start, a large enough maxScan shows each of them once and nothing
// else (not the records whose expiry was dropped, changed, or that were
// deleted; not the tombstones, whose purge entries have an index of their
// own); a smaller one shows a run of exactly maxScan of them in that
// order, wrapping, and stops when fn says. The writes
// that dropped, moved or deleted an expiry deleted its entry, and those
// that kept it kept the entry: the index holds one expiry entry per live
// record with an expiry, and none stale.
func TestSampleExpiring(t *testing.T) {
	const t0 = 1_700_000_000_000
	e := mustOpen(t, diskEngineConfig(t, newFakeClock(t0), 1<<20))
	rng := rand.New(rand.NewPCG(4, 2))
	type want struct {
		key string
		exp int64
		v   Version
	}
	live := map[string]want{}
	put := func(k string, r Record) {
		t.Helper()
		mustApply(t, e, k, r)
		delete(live, k)
		if r.Live(t0) && r.ExpireAt != 0 {
			live[k] = want{k, r.ExpireAt, r.Version}
		}
	}
	for i := range 300 {
		k := fmt.Sprintf("x%d", i)
		if i%40 == 0 {
			k = fmt.Sprintf("{tag}%d", i) // one token: ordered by key
		}
		exp := t0 + 1000 + rng.Int64N(5000)
		if i%30 == 0 {
			exp = t0 + 3000 // one due time for several keys
		}
		put(k, Record{Version: ver(t0, 0, 1), Value: []byte("v"), ExpireAt: exp})
		switch i % 6 {
		case 1: // the expiry dropped (PERSIST, or a SET without one)
			put(k, Record{Version: ver(t0, 1, 1), Value: []byte("w")})
		case 2: // the expiry moved
			put(k, Record{Version: ver(t0, 1, 1), Value: []byte("w"), ExpireAt: exp + 777})
		case 3: // deleted
			put(k, Record{Version: ver(t0, 1, 1), Tombstone: true})
		case 4: // written again with the same expiry: its entry stays
			put(k, Record{Version: ver(t0, 1, 1), Value: []byte("w"), ExpireAt: exp})
		case 5: // two writes in one batch: the second's expiry alone is indexed
			r1 := Record{Version: ver(t0, 1, 1), Value: []byte("w"), ExpireAt: exp + 100}
			r2 := Record{Version: ver(t0, 2, 1), Value: []byte("w"), ExpireAt: exp + 200}
			if _, err := e.ApplyBatch([][]byte{[]byte(k), []byte(k)}, []Record{r1, r2}); err != nil {
				t.Fatal(err)
			}
			live[k] = want{k, r2.ExpireAt, r2.Version}
		}
	}
	for i := range 200 { // keys without an expiry, and tombstones
		put(fmt.Sprintf("p%d", i), Record{Version: ver(t0, 0, 1), Value: []byte("p")})
		put(fmt.Sprintf("t%d", i), Record{Version: ver(t0, 0, 1), Tombstone: true})
	}
	order := make([]want, 0, len(live))
	for _, w := range live {
		order = append(order, w)
	}
	slices.SortFunc(order, func(a, b want) int {
		return cmp.Or(cmp.Compare(a.exp, b.exp), cmp.Compare(Token([]byte(a.key)), Token([]byte(b.key))), cmp.Compare(a.key, b.key))
	})
	pos := map[string]int{}
	for i, w := range order {
		pos[w.key] = i
	}
	froms := []uint64{0, math.MaxUint64, 1 << 63}
	for range 20 {
		froms = append(froms, rng.Uint64())
	}
	for _, tc := range []struct{ maxScan, stop int }{{10_000, 0}, {40, 0}, {7, 0}, {1000, 5}, {1, 0}} {
		limit := min(tc.maxScan, len(order))
		if tc.stop > 0 {
			limit = min(limit, tc.stop)
		}
		for _, from := range froms {
			var got []string
			err := e.SampleExpiring(from, tc.maxScan, func(s Sampled) bool {
				w, ok := live[string(s.Key)]
				if !ok {
					t.Fatalf("from %#x: sampled %q, which has no live expiry", from, s.Key)
				}
				if s.ExpireAt != w.exp || s.Version != w.v || s.Token != Token(s.Key) || s.Bytes != RecordBytes(len(s.Key), 1, true) {
					t.Fatalf("from %#x: sampled %+v, want %+v", from, s, w)
				}
				got = append(got, string(s.Key))
				return tc.stop == 0 || len(got) < tc.stop
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != limit {
				t.Fatalf("from %#x, maxScan %d, stop %d: %d records, want %d", from, tc.maxScan, tc.stop, len(got), limit)
			}
			for i := 1; i < len(got); i++ { // a run of order, wrapping
				if pos[got[i]] != (pos[got[i-1]]+1)%len(order) {
					t.Fatalf("from %#x, maxScan %d: %q then %q, not neighbours in expiry order", from, tc.maxScan, got[i-1], got[i])
				}
			}
		}
	}
	if n := expiryEntries(t, e); n != len(order) {
		t.Fatalf("%d expiry entries in the index for %d live records with an expiry", n, len(order))
	}
	// The start follows from: 0 is the first entry of the index.
	var first string
	if err := e.SampleExpiring(0, 10_000, func(s Sampled) bool { first = string(s.Key); return false }); err != nil {
		t.Fatal(err)
	}
	if first != order[0].key {
		t.Fatalf("from 0 sampled %q first, want %q", first, order[0].key)
	}
}

// TestEvictDropsExpiryEntry: a record evicted outright takes its expiry
// entry with it, so the entries SampleExpiring looks at are the records
// left, not the evicted ones waiting, stale, until they are due.
func TestEvictDropsExpiryEntry(t *testing.T) {
	const t0 = 1_700_000_000_000
	e := mustOpen(t, diskEngineConfig(t, newFakeClock(t0), 1<<20))
	for i := range 100 {
		mustApply(t, e, fmt.Sprintf("k%d", i), Record{Version: ver(t0, 0, 1), Value: []byte("v"), ExpireAt: t0 + 10_000 + int64(i)})
	}
	var victims []Sampled
	if err := e.Sample([]uint64{0}, 1000, func(_ int, s Sampled) bool {
		s.Key = slices.Clone(s.Key)
		victims = append(victims, s)
		return len(victims) < 90
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := e.EvictSampled(victims); err != nil || n != 90 {
		t.Fatalf("EvictSampled = %d, %v; want 90", n, err)
	}
	n := 0
	if err := e.SampleExpiring(0, 10, func(Sampled) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	if n != 10 {
		t.Fatalf("SampleExpiring with maxScan 10 showed %d of the 10 records left", n)
	}
}

// expiryEntries counts the expiry entries in e's index, current or stale.
func expiryEntries(t *testing.T, e *Engine) int {
	t.Helper()
	return indexEntries(t, e, indexStart, indexEnd, kindExpire)
}

// indexEntries counts the keys in [lower, upper), of kind if it is not 0.
func indexEntries(t *testing.T, e *Engine, lower, upper []byte, kind byte) int {
	t.Helper()
	return countEntries(t, e, lower, upper, func(key, _ []byte) bool {
		_, k, _, valid := parseIndexKey(key)
		return kind == 0 || valid && k == kind
	})
}

// countEntries counts the entries in [lower, upper) that keep accepts.
func countEntries(t *testing.T, e *Engine, lower, upper []byte, keep func(key, val []byte) bool) int {
	t.Helper()
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if keep(it.Key(), it.Value()) {
			n++
		}
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
	return n
}

// legacyPurgeEntries moves every purge entry into the expiry index, with
// an empty value, as builds before the purge index kept them.
func legacyPurgeEntries(t *testing.T, e *Engine) int {
	t.Helper()
	return rewritePurgeEntries(t, e, prefixIndex)
}

// emptyPurgeValues empties the value of every entry in the purge index,
// as the build that brought the index wrote them, and returns how many.
func emptyPurgeValues(t *testing.T, e *Engine) int {
	t.Helper()
	return rewritePurgeEntries(t, e, prefixPurge)
}

// rewritePurgeEntries writes every purge entry again under prefix, with
// an empty value, and returns how many.
func rewritePurgeEntries(t *testing.T, e *Engine, prefix byte) int {
	t.Helper()
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: purgeStart, UpperBound: purgeEnd})
	if err != nil {
		t.Fatal(err)
	}
	b := e.db.NewBatch()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		k := slices.Clone(it.Key())
		k[0] = prefix
		if err := errors.Join(b.Delete(it.Key(), nil), b.Set(k, nil, nil)); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if err := errors.Join(it.Close(), b.Commit(pebble.Sync)); err != nil {
		t.Fatal(err)
	}
	return n
}

// Tombstones' purge entries, however many and however soon due, do not
// hide the expiry entries behind them from SampleExpiring, which reads the
// expiry index from its front for volatile-ttl; those an earlier build
// left in the expiry index are stepped over, and the reclaimer moves them
// into the purge index when they are due and purges through them there.
func TestSampleExpiringPastPurges(t *testing.T) {
	const t0 = 1_700_000_000_000
	clock := newFakeClock(t0)
	e := reclaimEngine(t, clock)
	for i := range 2000 { // purge entries due at t0+10s (the grace)
		mustApply(t, e, fmt.Sprintf("gone%d", i), Record{Version: ver(t0, 0, 1), Tombstone: true})
	}
	for i := range 8 { // expiry entries due after every purge entry
		mustApply(t, e, fmt.Sprintf("ttl%d", i), Record{Version: ver(t0, 0, 1), Value: []byte("v"), ExpireAt: t0 + 60_000 + int64(i)})
	}
	if n := indexEntries(t, e, purgeStart, purgeEnd, kindPurge); n != 2000 {
		t.Fatalf("%d purge entries for 2000 tombstones", n)
	}
	shown := func() int {
		n := 0
		if err := e.SampleExpiring(0, 4, func(Sampled) bool { n++; return true }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := shown(); n != 4 {
		t.Fatalf("SampleExpiring(0, 4) showed %d records behind 2000 tombstones, want 4", n)
	}

	// A store written before the purge index: 32*4 steps over its purge
	// entries find none of the records.
	if n := legacyPurgeEntries(t, e); n != 2000 {
		t.Fatalf("moved %d purge entries", n)
	}
	if n := shown(); n != 0 {
		t.Fatalf("SampleExpiring(0, 4) showed %d records behind 2000 legacy purge entries", n)
	}
	mustApply(t, e, "gone-now", Record{Version: ver(t0, 1, 1), Tombstone: true}) // in the purge index
	clock.Set(t0 + 10_000)
	mustReclaim(t, e)
	// The earlier build's entries say neither when nor which tombstone:
	// each is written again into the purge index, due a retry later.
	if got := e.Stats().TombstonesPurged; got != 1 {
		t.Fatalf("purged %d on the first pass, want gone-now's only", got)
	}
	if n := indexEntries(t, e, purgeStart, purgeEnd, kindPurge); n != 2000 {
		t.Fatalf("%d entries in the purge index after the first pass, want the 2000 moved", n)
	}
	clock.Set(t0 + 20_000)
	mustReclaim(t, e)
	if got := dump(t, e); len(got) != 8 {
		t.Fatalf("%d records after the purge, want the 8 with a TTL", len(got))
	}
	if n := indexEntries(t, e, indexStart, purgeEnd, 0); n != 8 {
		t.Fatalf("%d index entries left, want the 8 records' expiries", n)
	}
	if got := e.Stats().TombstonesPurged; got != 2001 {
		t.Fatalf("purged %d, want 2001", got)
	}
	if n := shown(); n != 4 {
		t.Fatalf("SampleExpiring(0, 4) showed %d records after the purge, want 4", n)
	}
}
