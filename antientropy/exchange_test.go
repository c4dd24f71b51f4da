package antientropy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/engine/enginetest"
)

// memPeer is the other replica of an exchange in memory: the exchange
// requests go to a Service over its engine, repaired records straight to
// the engine. Payloads and records are copied in both directions, as the
// wire would, so neither side can alias the other's buffers.
type memPeer struct {
	svc *Service
	eng *engine.Engine

	mu    sync.Mutex
	calls int
	// failAfter, if positive, makes every Call after that many fail.
	failAfter int
}

var errPeerDown = errors.New("test peer down")

func newMemPeer(eng *engine.Engine) *memPeer { return &memPeer{svc: NewService(eng), eng: eng} }

func (p *memPeer) Call(ctx context.Context, op uint8, payload []byte) ([]byte, error) {
	p.mu.Lock()
	p.calls++
	fail := p.failAfter > 0 && p.calls > p.failAfter
	p.mu.Unlock()
	if fail {
		return nil, errPeerDown
	}
	resp, err := p.svc.Serve(ctx, op, slices.Clone(payload))
	return slices.Clone(resp), err
}

func (p *memPeer) Apply(_ context.Context, keys [][]byte, recs []engine.Record) error {
	ks, rs := copyRecords(keys, recs)
	_, err := p.eng.ApplyBatch(ks, rs)
	return err
}

func (p *memPeer) Read(_ context.Context, keys [][]byte) ([]engine.Record, []bool, error) {
	recs := make([]engine.Record, len(keys))
	found := make([]bool, len(keys))
	if err := p.eng.LookupBatch(keys, recs, found); err != nil {
		return nil, nil, err
	}
	_, recs = copyRecords(keys, recs)
	return recs, found, nil
}

func copyRecords(keys [][]byte, recs []engine.Record) ([][]byte, []engine.Record) {
	ks := make([][]byte, len(keys))
	rs := make([]engine.Record, len(recs))
	for i := range keys {
		ks[i] = slices.Clone(keys[i])
	}
	for i := range recs {
		rs[i] = recs[i]
		rs[i].Value = slices.Clone(recs[i].Value)
	}
	return ks, rs
}

// snapshot is every record an engine stores, by key.
type snapshot map[string]engine.Record

func scanAll(t testing.TB, e *engine.Engine) snapshot {
	t.Helper()
	out := snapshot{}
	err := e.Scan(0, 0, func(key []byte, r engine.Record) error {
		r.Value = slices.Clone(r.Value)
		out[string(key)] = r
		return nil
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return out
}

func sameRecord(a, b engine.Record) bool {
	return a.Version == b.Version && a.ExpireAt == b.ExpireAt && a.Tombstone == b.Tombstone && bytes.Equal(a.Value, b.Value)
}

func inRanges(rs []Range, key string) bool {
	tok := engine.Token([]byte(key))
	for _, r := range rs {
		if r.Contains(tok) {
			return true
		}
	}
	return false
}

// recordGen makes records of three shapes, all recent enough that the
// engine's reclaimer leaves them alone (tombstone grace 1h, expiries an
// hour or more ahead).
type recordGen struct {
	rng  *rand.Rand
	base int64 // Unix ms
	seq  int
}

const (
	shapeValue = iota
	shapeTTL
	shapeTomb
)

// at returns a record of the given shape with version wall w.
func (g *recordGen) at(w int64, shape int) engine.Record {
	g.seq++
	r := engine.Record{Version: engine.Version{Wall: w, Logical: uint32(g.rng.IntN(3)), Node: g.rng.Uint64N(4) + 1}}
	switch shape {
	case shapeTomb:
		r.Tombstone = true
	case shapeTTL:
		r.ExpireAt = g.base + int64(time.Hour/time.Millisecond) + g.rng.Int64N(3_600_000)
		fallthrough
	default:
		r.Value = fmt.Appendf(nil, "value-%d-%d", g.seq, w)
	}
	return r
}

// pair returns the records two replicas hold for one key (nil: none),
// drawn so that most keys agree and the rest cover every kind of
// difference: missing on one side, stale versions, tombstones against
// values, TTL records.
func (g *recordGen) pair() (a, b *engine.Record) {
	old := g.base - 20_000 + g.rng.Int64N(5_000)
	newer := old + 1 + g.rng.Int64N(5_000)
	shape := func() int { return g.rng.IntN(3) }
	ptr := func(r engine.Record) *engine.Record { return &r }
	switch g.rng.IntN(16) {
	case 0:
		return ptr(g.at(newer, shape())), nil
	case 1:
		return nil, ptr(g.at(newer, shape()))
	case 2:
		return ptr(g.at(newer, shapeValue)), ptr(g.at(old, shapeValue))
	case 3:
		return ptr(g.at(old, shapeValue)), ptr(g.at(newer, shapeValue))
	case 4:
		return ptr(g.at(newer, shapeTomb)), ptr(g.at(old, shapeValue))
	case 5:
		return ptr(g.at(old, shapeTTL)), ptr(g.at(newer, shapeTomb))
	case 6:
		return ptr(g.at(newer, shapeTTL)), ptr(g.at(old, shapeTomb))
	case 7:
		return ptr(g.at(old, shapeValue)), ptr(g.at(newer, shapeTTL))
	}
	r := g.at(old, shape())
	return ptr(r), ptr(r)
}

// differences holds what an exchange of some ranges must transfer.
type differences struct {
	push, pull int // keys A must send, receive
	ttl        int // of them, records with an expiry
	ranges     map[Range]bool
}

// populate fills ea and eb with the records pair draws for keys and
// returns what an exchange of ranges from ea's side must transfer.
func populate(t testing.TB, g *recordGen, ea, eb *engine.Engine, keys [][]byte, ranges []Range) differences {
	t.Helper()
	d := differences{ranges: map[Range]bool{}}
	var ka, kb [][]byte
	var ra, rb []engine.Record
	for _, k := range keys {
		a, b := g.pair()
		if a != nil {
			ka, ra = append(ka, k), append(ra, *a)
		}
		if b != nil {
			kb, rb = append(kb, k), append(rb, *b)
		}
		var sent *engine.Record
		switch {
		case a != nil && (b == nil || a.Version.Compare(b.Version) > 0):
			d.push++
			sent = a
		case b != nil && (a == nil || b.Version.Compare(a.Version) > 0):
			d.pull++
			sent = b
		}
		if sent == nil {
			continue
		}
		tok := engine.Token(k)
		inside := false
		for _, r := range ranges {
			if r.Contains(tok) {
				d.ranges[r] = true
				inside = true
			}
		}
		if !inside {
			if sent == a {
				d.push--
			} else {
				d.pull--
			}
			continue
		}
		if sent.ExpireAt != 0 {
			d.ttl++
		}
	}
	for _, w := range []struct {
		e    *engine.Engine
		keys [][]byte
		recs []engine.Record
	}{{ea, ka, ra}, {eb, kb, rb}} {
		for start := 0; start < len(w.keys); start += 256 {
			end := min(start+256, len(w.keys))
			if _, err := w.e.ApplyBatch(w.keys[start:end], w.recs[start:end]); err != nil {
				t.Fatalf("ApplyBatch: %v", err)
			}
		}
	}
	return d
}

// keysAround returns the pool keys of the buckets where each range
// starts and ends (its partial leaves, with keys both inside and outside
// the range), plus n keys drawn from the whole pool.
func keysAround(rng *rand.Rand, ranges []Range, n int) [][]byte {
	p := testPool()
	seen := map[int32]bool{}
	var out [][]byte
	add := func(id int32) {
		if !seen[id] {
			seen[id] = true
			out = append(out, p.keys[id])
		}
	}
	for _, r := range ranges {
		for _, b := range []int{BucketOf(r.Start), BucketOf(r.Start + 1), BucketOf(r.End), BucketOf(r.End + 1)} {
			for _, id := range p.byBucket[b] {
				add(id)
			}
		}
	}
	for range n {
		add(int32(rng.IntN(len(p.keys))))
	}
	return out
}

// ringArcs splits the ring at n random tokens and returns every other
// arc (so they do not overlap); one of them wraps past the top.
func ringArcs(rng *rand.Rand, n int) []Range {
	toks := make([]uint64, n)
	for i := range toks {
		toks[i] = rng.Uint64()
	}
	slices.Sort(toks)
	toks = slices.Compact(toks)
	var out []Range
	for k := 0; k < len(toks); k += 2 {
		out = append(out, Range{Start: toks[(k+len(toks)-1)%len(toks)], End: toks[k]})
	}
	return out
}

// countingBudget sums the bytes an exchange reports to its budget.
type countingBudget struct {
	mu    sync.Mutex
	bytes int64
	calls int
}

func (b *countingBudget) spend(ctx context.Context, n int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bytes += int64(n)
	b.calls++
	return ctx.Err()
}

// TestExchangeRepairsRandomDifferences runs one exchange per range shape
// between two engines that differ in every way a replica can, and checks
// the result against the records each side held before.
func TestExchangeRepairsRandomDifferences(t *testing.T) {
	t.Parallel()
	kinds := append(slices.Clone(rangeKinds), "ring-arcs")
	for i, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			for seed := range uint64(3) {
				rng := rand.New(rand.NewPCG(uint64(i)+1, seed))
				var ranges []Range
				if kind == "ring-arcs" {
					ranges = ringArcs(rng, 16)
				} else {
					ranges = []Range{randRange(rng, kind)}
				}
				checkExchange(t, rng, ranges)
			}
		})
	}
}

func checkExchange(t *testing.T, rng *rand.Rand, ranges []Range) {
	ea, eb := openMemEngine(t), openMemEngine(t)
	g := &recordGen{rng: rng, base: time.Now().UnixMilli()}
	want := populate(t, g, ea, eb, keysAround(rng, ranges, 1500), ranges)
	beforeA, beforeB := scanAll(t, ea), scanAll(t, eb)

	budget := &countingBudget{}
	res, err := Exchange(context.Background(), ea, newMemPeer(eb), ranges, budget.spend)
	if err != nil {
		t.Fatalf("Exchange %v: %v", ranges, err)
	}
	if res.KeysSent != int64(want.push) || res.KeysReceived != int64(want.pull) {
		t.Fatalf("Exchange %v sent %d, received %d keys; the differences are %d to push, %d to pull",
			ranges, res.KeysSent, res.KeysReceived, want.push, want.pull)
	}
	if res.RangesCompared != len(ranges) || res.RangesDiffering != len(want.ranges) || len(res.Synced) != len(ranges) {
		t.Fatalf("Exchange compared %d, found %d differing, synced %d of %d ranges; %d hold differences",
			res.RangesCompared, res.RangesDiffering, len(res.Synced), len(ranges), len(want.ranges))
	}
	if got := res.BytesSent + res.BytesReceived; budget.bytes != got {
		t.Fatalf("budget saw %d bytes in %d calls, the exchange counted %d", budget.bytes, budget.calls, got)
	}
	checkConverged(t, ranges, beforeA, beforeB, scanAll(t, ea), scanAll(t, eb))
	t.Logf("%d ranges, %d keys pushed, %d pulled (%d with TTL), %d leaves differing, %d bytes",
		len(ranges), res.KeysSent, res.KeysReceived, want.ttl, res.LeavesDiffering, res.BytesSent+res.BytesReceived)

	// In sync now, from either side.
	for _, side := range []struct {
		name        string
		local, peer *engine.Engine
	}{{"A", ea, eb}, {"B", eb, ea}} {
		again, err := Exchange(context.Background(), side.local, newMemPeer(side.peer), ranges, nil)
		if err != nil {
			t.Fatalf("second Exchange from %s: %v", side.name, err)
		}
		if again.KeysSent != 0 || again.KeysReceived != 0 || again.RangesDiffering != 0 || again.LeavesDiffering != 0 {
			t.Fatalf("second Exchange from %s: %+v, want nothing differing", side.name, again)
		}
	}
}

// checkConverged checks that inside the ranges both sides hold the newer
// of their two records (records compared whole: value, version, absolute
// expiry, tombstone), and that nothing changed outside them.
func checkConverged(t *testing.T, ranges []Range, beforeA, beforeB, afterA, afterB snapshot) {
	t.Helper()
	keys := map[string]bool{}
	for _, s := range []snapshot{beforeA, beforeB, afterA, afterB} {
		for k := range s {
			keys[k] = true
		}
	}
	for k := range keys {
		a0, hasA0 := beforeA[k]
		b0, hasB0 := beforeB[k]
		a1, hasA1 := afterA[k]
		b1, hasB1 := afterB[k]
		if !inRanges(ranges, k) {
			if hasA0 != hasA1 || hasB0 != hasB1 || (hasA0 && !sameRecord(a0, a1)) || (hasB0 && !sameRecord(b0, b1)) {
				t.Fatalf("key %q outside the ranges changed: A %+v -> %+v, B %+v -> %+v", k, a0, a1, b0, b1)
			}
			continue
		}
		newest := a0
		if !hasA0 || (hasB0 && b0.Version.Compare(a0.Version) > 0) {
			newest = b0
		}
		if !hasA1 || !hasB1 || !sameRecord(a1, newest) || !sameRecord(b1, newest) {
			t.Fatalf("key %q after the exchange: A %+v (%v), B %+v (%v); want both %+v", k, a1, hasA1, b1, hasB1, newest)
		}
	}
}

// TestExchangeTTLKeepsAbsoluteExpiry checks that a repaired record keeps
// the expiry instant it was written with, in both directions.
func TestExchangeTTLKeepsAbsoluteExpiry(t *testing.T) {
	t.Parallel()
	ea, eb := openMemEngine(t), openMemEngine(t)
	now := time.Now().UnixMilli()
	p := testPool()
	exp := map[string]int64{}
	for i := range 200 {
		k := p.keys[i]
		r := engine.Record{Value: []byte("ttl"), Version: ver(now-1000, 0, 1), ExpireAt: now + 3_600_000 + int64(i)*7}
		e := ea
		if i%2 == 1 {
			e = eb
		}
		if _, err := e.Apply(k, r); err != nil {
			t.Fatal(err)
		}
		exp[string(k)] = r.ExpireAt
	}
	res, err := Exchange(context.Background(), ea, newMemPeer(eb), []Range{{Start: 5, End: 5}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.KeysSent != 100 || res.KeysReceived != 100 {
		t.Fatalf("sent %d, received %d, want 100 each", res.KeysSent, res.KeysReceived)
	}
	for _, e := range []*engine.Engine{ea, eb} {
		for k, at := range exp {
			r, ok, err := e.Lookup([]byte(k))
			if err != nil || !ok || r.ExpireAt != at {
				t.Fatalf("%q: expire %d (found %v, %v), want %d", k, r.ExpireAt, ok, err, at)
			}
		}
	}
}

// TestExchangeErrorKeepsSyncedRanges checks that an exchange cut short
// reports its error and only the ranges it finished, and those are in
// sync.
func TestExchangeErrorKeepsSyncedRanges(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 9))
	ranges := ringArcs(rng, 64)
	ea, eb := openMemEngine(t), openMemEngine(t)
	g := &recordGen{rng: rng, base: time.Now().UnixMilli()}
	populate(t, g, ea, eb, keysAround(rng, nil, 3000), ranges)
	peer := newMemPeer(eb)
	// Roots of all ranges in one call, then a few ranges' descents.
	peer.failAfter = 10
	res, err := Exchange(context.Background(), ea, peer, ranges, nil)
	if !errors.Is(err, errPeerDown) {
		t.Fatalf("Exchange with a failing peer: %v, want errPeerDown", err)
	}
	if len(res.Synced) == 0 || len(res.Synced) >= len(ranges) {
		t.Fatalf("synced %d of %d ranges: the failure should fall in the middle", len(res.Synced), len(ranges))
	}
	peer.failAfter = 0
	again, err := Exchange(context.Background(), ea, peer, res.Synced, nil)
	if err != nil || again.RangesDiffering != 0 {
		t.Fatalf("ranges reported synced still differ: %+v, %v", again, err)
	}
}

// TestExchangeBudgetError checks that a budget refusing bytes stops the
// exchange with its error.
func TestExchangeBudgetError(t *testing.T) {
	t.Parallel()
	ea, eb := openMemEngine(t), openMemEngine(t)
	if _, err := ea.Apply([]byte("k"), engine.Record{Value: []byte("v"), Version: ver(time.Now().UnixMilli(), 0, 1)}); err != nil {
		t.Fatal(err)
	}
	errBroke := errors.New("over budget")
	spent := 0
	budget := func(_ context.Context, n int) error {
		spent += n
		if spent > 10 {
			return errBroke
		}
		return nil
	}
	_, err := Exchange(context.Background(), ea, newMemPeer(eb), []Range{{Start: 1, End: 1}}, budget)
	if !errors.Is(err, errBroke) {
		t.Fatalf("Exchange over budget: %v, want the budget's error", err)
	}
}

// openMemEngine opens a small in-memory engine, closed when the test ends.
func openMemEngine(t testing.TB) *engine.Engine { return enginetest.Open(t) }

// TestExchangeEachTellsEachRangeWhenSynced checks that ExchangeEach tells
// of every range Result.Synced lists, in that order, each as soon as it
// is synced (the figures so far never shrink and end at the result's),
// and that its callback's error stops the exchange.
func TestExchangeEachTellsEachRangeWhenSynced(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(11, 11))
	ranges := ringArcs(rng, 64)
	ea, eb := openMemEngine(t), openMemEngine(t)
	g := &recordGen{rng: rng, base: time.Now().UnixMilli()}
	populate(t, g, ea, eb, keysAround(rng, nil, 3000), ranges)
	peer := newMemPeer(eb)
	peer.failAfter = 10
	var told []Range
	var last Result
	res, err := ExchangeEach(context.Background(), ea, peer, ranges, nil, func(r Range, sofar Result) error {
		if sofar.KeysReceived < last.KeysReceived || sofar.BytesReceived < last.BytesReceived || len(sofar.Synced) != len(told)+1 {
			t.Errorf("range %d: figures so far %+v after %+v", len(told), sofar, last)
		}
		told, last = append(told, r), sofar
		return nil
	})
	if !errors.Is(err, errPeerDown) {
		t.Fatalf("ExchangeEach with a failing peer: %v, want errPeerDown", err)
	}
	if len(told) == 0 || !slices.Equal(told, res.Synced) {
		t.Fatalf("told of %d ranges, result lists %d synced: %v vs %v", len(told), len(res.Synced), told, res.Synced)
	}

	errStop := errors.New("stop here")
	peer.failAfter = 0
	n := 0
	res, err = ExchangeEach(context.Background(), ea, peer, ranges, nil, func(Range, Result) error {
		if n++; n == 3 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || n != 3 || len(res.Synced) != 3 {
		t.Fatalf("callback error: %v after %d calls, %d synced; want errStop after 3", err, n, len(res.Synced))
	}
}

// floorlessPeer is a peer of a version before transport.OpFloor.
type floorlessPeer struct{ *memPeer }

func (p floorlessPeer) Call(ctx context.Context, op uint8, payload []byte) ([]byte, error) {
	if op == transport.OpFloor {
		return nil, fmt.Errorf("%w: %d", transport.ErrUnknownOp, op)
	}
	return p.memPeer.Call(ctx, op, payload)
}

// An exchange between a replica a FLUSHALL reached and one it missed
// makes the missed one drop what the flush dropped, whichever side asks:
// afterwards both hold exactly the records written after the flush, and
// the missed one has the floor. Against a peer that does not know the
// floor the exchange still compares, and nothing older comes back.
func TestExchangeCarriesTheFloor(t *testing.T) {
	t.Parallel()
	const t0 = 1_700_000_000_000
	floor := ver(t0+20, 0, 7)
	p := testPool()
	setup := func() (flushed, missed *engine.Engine, want map[string]bool) {
		flushed, missed = openMemEngine(t), openMemEngine(t)
		want = map[string]bool{}
		for i := range 300 {
			k := p.keys[i]
			old := engine.Record{Value: []byte("before the flush"), Version: ver(t0+int64(i%20), 0, 1)}
			for _, e := range []*engine.Engine{flushed, missed} {
				if _, err := e.Apply(k, old); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := flushed.DropAllAt(floor); err != nil {
			t.Fatal(err)
		}
		for i := 300; i < 400; i++ { // written after the flush, on both
			k := p.keys[i]
			r := engine.Record{Value: []byte("after"), Version: ver(t0+30, 0, 1)}
			for _, e := range []*engine.Engine{flushed, missed} {
				if _, err := e.Apply(k, r); err != nil {
					t.Fatal(err)
				}
			}
			want[string(k)] = true
		}
		for i := 0; i < 300; i += 30 { // rewritten after the flush, on the missed one alone
			k := p.keys[i]
			if _, err := missed.Apply(k, engine.Record{Value: []byte("again"), Version: ver(t0+40, 0, 2)}); err != nil {
				t.Fatal(err)
			}
			want[string(k)] = true
		}
		return flushed, missed, want
	}
	whole := []Range{{Start: 5, End: 5}}
	for _, missedAsks := range []bool{true, false} {
		flushed, missed, want := setup()
		var res Result
		var err error
		if missedAsks {
			res, err = Exchange(context.Background(), missed, newMemPeer(flushed), whole, nil)
		} else {
			res, err = Exchange(context.Background(), flushed, newMemPeer(missed), whole, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		if missedAsks && res.BelowFloor != 290 {
			t.Fatalf("BelowFloor = %d, want the 290 records older than the flush", res.BelowFloor)
		}
		for name, e := range map[string]*engine.Engine{"flushed": flushed, "missed": missed} {
			got := scanAll(t, e)
			if len(got) != len(want) {
				t.Fatalf("missed asks %v: %s replica holds %d records, want %d", missedAsks, name, len(got), len(want))
			}
			for k := range got {
				if !want[k] {
					t.Fatalf("missed asks %v: %s replica holds %q, which the flush dropped", missedAsks, name, k)
				}
			}
			if e.Floor() != floor {
				t.Fatalf("missed asks %v: %s replica's floor is %v, want %v", missedAsks, name, e.Floor(), floor)
			}
		}
	}

	flushed, missed, _ := setup()
	if _, err := Exchange(context.Background(), flushed, floorlessPeer{newMemPeer(missed)}, whole, nil); err != nil {
		t.Fatalf("exchange with a peer without floors: %v", err)
	}
	for k, r := range scanAll(t, flushed) {
		if r.Version.Compare(floor) < 0 {
			t.Fatalf("%q came back below the floor from a peer without floors", k)
		}
	}
}
