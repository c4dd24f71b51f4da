package antientropy

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/ringcache/ringcache/bench/await"
	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/engine/enginetest"
)

// fakeRing is a fixed ring of four arcs covering the token space. Node
// "a" replicates the first three with "b" and "c"; the fourth belongs to
// "b", "c" and "d" only.
type fakeRing struct {
	self   string
	ranges []ReplicaRange

	mu    sync.Mutex
	peers map[string]Peer // absent: unreachable
}

var arcBounds = []uint64{1 << 62, 2 << 62, 3 << 62, 0}

func newFakeRing(self string) *fakeRing {
	r := &fakeRing{self: self, peers: map[string]Peer{}}
	for k, end := range arcBounds {
		start := arcBounds[(k+len(arcBounds)-1)%len(arcBounds)]
		reps := []string{"a", "b", "c"}
		if k == len(arcBounds)-1 {
			reps = []string{"b", "c", "d"}
		}
		r.ranges = append(r.ranges, ReplicaRange{Range: Range{Start: start, End: end}, Replicas: reps})
	}
	return r
}

func (r *fakeRing) Self() string                  { return r.self }
func (r *fakeRing) ReplicaRanges() []ReplicaRange { return r.ranges }

func (r *fakeRing) RangeOf(t uint64) ReplicaRange {
	for _, rr := range r.ranges {
		if rr.Contains(t) {
			return rr
		}
	}
	panic("no range holds the token")
}

func (r *fakeRing) Peer(id string) (Peer, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.peers[id]
	return p, ok
}

func (r *fakeRing) setPeer(id string, p Peer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p == nil {
		delete(r.peers, id)
		return
	}
	r.peers[id] = p
}

// testClock is an injectable Config.Now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) set(ms int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = time.UnixMilli(ms)
}

// keyIn returns a pool key whose token lies in r.
func keyIn(t *testing.T, r Range) []byte {
	t.Helper()
	for _, k := range testPool().keys {
		if r.Contains(engine.Token(k)) {
			return k
		}
	}
	t.Fatalf("no pool key in %v", r)
	return nil
}

func newTestRepairer(t *testing.T, store *engine.Engine, ring Ring, clock *testClock) *Repairer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Store, cfg.Meta, cfg.Ring = store, store, ring
	cfg.Interval, cfg.ProofMargin, cfg.Now = 0, time.Second, clock.Now
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// TestPurgeAllowedNeedsProof walks a tombstone through the proof rule:
// no proof, a round that started too soon after it, a round that missed
// a peer, a round with every peer; then a later tombstone, a restart, and
// a key of a range this node does not replicate.
func TestPurgeAllowedNeedsProof(t *testing.T) {
	t.Parallel()
	ea, eb, ec := openMemEngine(t), openMemEngine(t), openMemEngine(t)
	ring := newFakeRing("a")
	ring.setPeer("b", newMemPeer(eb))
	ring.setPeer("c", newMemPeer(ec))
	t0 := time.Now().UnixMilli()
	clock := &testClock{}
	clock.set(t0)
	ctx := context.Background()

	key := keyIn(t, ring.ranges[0].Range)
	tomb := engine.Record{Version: ver(t0, 0, 1), Tombstone: true}
	if _, err := ea.Apply(key, tomb); err != nil {
		t.Fatal(err)
	}
	r := newTestRepairer(t, ea, ring, clock)
	if r.PurgeAllowed(key, tomb, 0) {
		t.Fatal("purge allowed before any round")
	}

	round := func(at int64) Summary {
		t.Helper()
		clock.set(at)
		s, err := r.Round(ctx)
		if err != nil {
			t.Fatalf("Round at +%dms: %v", at-t0, err)
		}
		return s
	}
	// Within the margin: the peers may not have the tombstone yet.
	round(t0 + 500)
	if r.PurgeAllowed(key, tomb, 0) {
		t.Fatal("purge allowed after a round that started within the proof margin")
	}
	// One peer unreachable: the round proves nothing about it.
	ring.setPeer("c", nil)
	if s := round(t0 + 2000); s.Failed != 1 || s.Peers != 1 {
		t.Fatalf("round with c away: %d peers, %d failed; want 1 and 1", s.Peers, s.Failed)
	}
	if r.PurgeAllowed(key, tomb, 0) {
		t.Fatal("purge allowed while a replica was never reached")
	}
	ring.setPeer("c", newMemPeer(ec))
	round(t0 + 3000)
	if !r.PurgeAllowed(key, tomb, 0) {
		t.Fatal("purge refused after a round with every replica")
	}
	for _, e := range []*engine.Engine{eb, ec} {
		if got, ok, _ := e.Lookup(key); !ok || !got.Tombstone || got.Version != tomb.Version {
			t.Fatalf("a peer holds %+v (%v) after the round, want the tombstone", got, ok)
		}
	}
	later := engine.Record{Version: ver(t0+10_000, 0, 1), Tombstone: true}
	if r.PurgeAllowed(key, later, 0) {
		t.Fatal("purge allowed for a tombstone written after the last round")
	}

	// The proofs survive a restart on the same metadata store.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Round(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Round after Close: %v, want ErrClosed", err)
	}
	r2 := newTestRepairer(t, ea, ring, clock)
	if !r2.PurgeAllowed(key, tomb, 0) {
		t.Fatal("proof lost across a restart")
	}
	if r2.PurgeAllowed(key, later, 0) {
		t.Fatal("a restart allowed the later tombstone's purge")
	}

	// A range this node is not a replica of: nothing proves the replicas
	// have the tombstone, and the node may own the range again after a
	// ring change.
	other := keyIn(t, ring.ranges[3].Range)
	if r2.PurgeAllowed(other, engine.Record{Version: ver(0, 0, 1), Tombstone: true}, 0) {
		t.Fatal("purge allowed for a range this node does not replicate")
	}
}

// TestLateTombstoneKeptUntilAnExchange plays a delete that reaches a
// replica late. This node (a) and b hold a value; c alone holds its
// tombstone (the delete's other acknowledgement was a hint that never
// came). A round syncs a with b while neither has the tombstone; a later
// one, with b away, brings it to a from c, past its grace period. A purge
// on the proofs from before it arrived would let b's copy come back
// through the next round: a keeps it until a round after its arrival has
// carried it to b, then purges it, and the value stays gone.
func TestLateTombstoneKeptUntilAnExchange(t *testing.T) {
	t.Parallel()
	t0 := time.Now().UnixMilli()
	clock := &testClock{}
	clock.set(t0)
	tk := await.NewTicker()
	var rep atomic.Pointer[Repairer]
	ea := enginetest.Open(t, func(c *engine.Config) {
		c.Now, c.NewTicker, c.TombstoneGrace = clock.Now, tk.Start, 10*time.Second
		c.PurgeAllowed = func(key []byte, r engine.Record, storedAt int64) bool {
			rp := rep.Load()
			return rp != nil && rp.PurgeAllowed(key, r, storedAt)
		}
	})
	eb, ec := openMemEngine(t), openMemEngine(t)
	ring := newFakeRing("a")
	r := newTestRepairer(t, ea, ring, clock) // ProofMargin 1 s
	rep.Store(r)
	key := keyIn(t, ring.ranges[0].Range)
	old := engine.Record{Version: ver(t0, 0, 1), Value: []byte("old")}
	tomb := engine.Record{Version: ver(t0+1000, 0, 2), Tombstone: true}
	for _, w := range []struct {
		e *engine.Engine
		r engine.Record
	}{{ea, old}, {eb, old}, {ec, tomb}} {
		if _, err := w.e.Apply(key, w.r); err != nil {
			t.Fatal(err)
		}
	}
	round := func(at int64, b, c bool) {
		t.Helper()
		for id, e := range map[string]*engine.Engine{"b": eb, "c": ec} {
			if id == "b" && b || id == "c" && c {
				ring.setPeer(id, newMemPeer(e))
			} else {
				ring.setPeer(id, nil)
			}
		}
		clock.set(at)
		if _, err := r.Round(context.Background()); err != nil {
			t.Fatalf("round at +%d ms: %v", at-t0, err)
		}
	}
	holds := func(e *engine.Engine) engine.Record {
		t.Helper()
		got, ok, err := e.Lookup(key)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return engine.Record{}
		}
		return got
	}

	round(t0+3000, true, false)   // a and b agree on the value
	round(t0+20_000, false, true) // c brings the tombstone, grace over
	if got := holds(ea); !got.Tombstone {
		t.Fatalf("a holds %+v after the round with c, want the tombstone", got)
	}
	tk.Passes(t, 1)
	if got := holds(ea); !got.Tombstone {
		t.Fatalf("a holds %+v: it purged the tombstone on a proof from before it arrived", got)
	}
	round(t0+25_000, true, true)
	if got := holds(eb); !got.Tombstone {
		t.Fatalf("b holds %+v after a round with a, want the tombstone", got)
	}
	clock.set(t0 + 31_000) // the refused purge's retry (10 s on) is due
	tk.Passes(t, 1)
	if got := holds(ea); got.Version != (engine.Version{}) {
		t.Fatalf("a holds %+v, want the tombstone purged once b has it", got)
	}
	round(t0+40_000, true, false) // b alone: what it holds comes back
	if got := holds(ea); got.Version.Compare(tomb.Version) < 0 {
		t.Fatalf("a holds %+v after a round with b: the delete came undone", got)
	}
}

// TestPurgeAllowedFailedExchange checks that an exchange that fails
// proves nothing for the ranges it did not finish.
func TestPurgeAllowedFailedExchange(t *testing.T) {
	t.Parallel()
	ea, eb, ec := openMemEngine(t), openMemEngine(t), openMemEngine(t)
	ring := newFakeRing("a")
	ring.setPeer("b", failingPeer{newMemPeer(eb)})
	ring.setPeer("c", newMemPeer(ec))
	t0 := time.Now().UnixMilli()
	clock := &testClock{}
	clock.set(t0 + 10_000)
	r := newTestRepairer(t, ea, ring, clock)
	s, err := r.Round(context.Background())
	if !errors.Is(err, errPeerDown) || s.Failed != 1 || s.Complete {
		t.Fatalf("Round with a failing peer: %+v, %v; want one failure, not complete", s, err)
	}
	if st := r.Stats(); st.ExchangeFailures != 1 || st.Rounds != 1 {
		t.Fatalf("stats %+v: want one round, one failure", st)
	}
	tomb := engine.Record{Version: ver(t0, 0, 1), Tombstone: true}
	for _, rr := range ring.ranges[:3] {
		if r.PurgeAllowed(keyIn(t, rr.Range), tomb, 0) {
			t.Fatalf("purge allowed in %v though b's exchange failed", rr.Range)
		}
	}
}

// failingPeer fails every exchange request.
type failingPeer struct{ *memPeer }

func (failingPeer) Call(context.Context, uint8, []byte) ([]byte, error) { return nil, errPeerDown }

// TestRoundRepairsAndCounts checks that a round brings the local replica
// in sync with each peer, and that its summary and the stats agree.
func TestRoundRepairsAndCounts(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	ea, eb, ec := openMemEngine(t), openMemEngine(t), openMemEngine(t)
	ring := newFakeRing("a")
	ring.setPeer("b", newMemPeer(eb))
	ring.setPeer("c", newMemPeer(ec))
	g := &recordGen{rng: rng, base: time.Now().UnixMilli()}
	shared := []Range{ring.ranges[0].Range, ring.ranges[1].Range, ring.ranges[2].Range}
	keys := keysAround(rng, nil, 2000)
	wantB := populate(t, g, ea, eb, keys, shared)
	clock := &testClock{}
	clock.set(time.Now().UnixMilli())
	r := newTestRepairer(t, ea, ring, clock)
	s, err := r.Round(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// c was empty: after b's exchange, a pushes c every key it shares.
	if s.KeysReceived != int64(wantB.pull) || s.KeysSent < int64(wantB.push) {
		t.Fatalf("round %+v; b's differences were %d to push, %d to pull", s.Result, wantB.push, wantB.pull)
	}
	if s.Peers != 2 || s.RangesCompared != 6 || !s.Complete {
		t.Fatalf("round compared %d ranges with %d peers (complete %v), want 6 with 2, complete", s.RangesCompared, s.Peers, s.Complete)
	}
	st := r.Stats()
	if st.KeysSent != s.KeysSent || st.KeysReceived != s.KeysReceived || st.BytesSent != s.BytesSent ||
		st.BytesReceived != s.BytesReceived || st.RangesOutOfSync != 3 || st.RangesInSync != 0 {
		t.Fatalf("stats %+v do not match the round %+v", st, s)
	}
	for _, p := range []*engine.Engine{eb, ec} {
		res, err := Exchange(context.Background(), ea, newMemPeer(p), shared, nil)
		if err != nil || res.RangesDiffering != 0 {
			t.Fatalf("after the round a peer still differs: %+v, %v", res, err)
		}
	}
	s, err = r.Round(context.Background())
	if err != nil || s.KeysSent+s.KeysReceived != 0 || r.Stats().RangesInSync != 3 {
		t.Fatalf("second round %+v, %v; stats %+v", s, err, r.Stats())
	}
}

// TestRoundCompleteWithoutDownPeers: a round is complete when every range
// was synced with every peer the ring offers; a replica it does not offer
// (not alive) is left out, but a range with no peer at all is not done.
func TestRoundCompleteWithoutDownPeers(t *testing.T) {
	t.Parallel()
	ea, ec := openMemEngine(t), openMemEngine(t)
	ring := newFakeRing("a") // a's ranges are shared with b and c; b is not offered
	ring.setPeer("c", newMemPeer(ec))
	clock := &testClock{}
	clock.set(time.Now().UnixMilli())
	r := newTestRepairer(t, ea, ring, clock)
	s, err := r.Round(context.Background())
	if err != nil || !s.Complete || s.Failed != 1 {
		t.Fatalf("round without b: %+v, %v; want complete with one peer left out", s, err)
	}
	alone := newFakeRing("a")
	r2 := newTestRepairer(t, openMemEngine(t), alone, clock)
	if s, _ := r2.Round(context.Background()); s.Complete {
		t.Fatalf("a round with no peer at all is complete: %+v", s)
	}
}

// TestRepairerLoopRunsAndCloses checks that the background loop runs a
// round on every tick and that Close stops it.
func TestRepairerLoopRunsAndCloses(t *testing.T) {
	t.Parallel()
	ea, eb := openMemEngine(t), openMemEngine(t)
	ring := newFakeRing("a")
	ring.setPeer("b", newMemPeer(eb))
	ring.setPeer("c", newMemPeer(openMemEngine(t)))
	if _, err := eb.Apply([]byte("from-b"), engine.Record{Value: []byte("v"), Version: ver(time.Now().UnixMilli(), 0, 2)}); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	tk := await.NewTicker()
	cfg.Store, cfg.Meta, cfg.Ring, cfg.Interval, cfg.NewTicker = ea, ea, ring, time.Hour, tk.Start
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tk.Passes(t, 2)
	if n := r.Stats().Rounds; n < 2 {
		t.Fatalf("%d rounds after two ticks", n)
	}
	if _, ok, _ := ea.Lookup([]byte("from-b")); !ok {
		t.Fatal("the loop's rounds did not pull b's key")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	n := r.Stats().Rounds
	if _, err := r.Round(context.Background()); !errors.Is(err, ErrClosed) || r.Stats().Rounds != n {
		t.Fatalf("Round after Close: %v", err)
	}
}

// TestRepairerIgnoresDamagedProofs checks that a damaged persisted value
// costs only the proofs, not the start.
func TestRepairerIgnoresDamagedProofs(t *testing.T) {
	t.Parallel()
	ea := openMemEngine(t)
	if err := ea.PutMeta(proofsMetaName, []byte{1, 2, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 200, 'x'}); err != nil {
		t.Fatal(err)
	}
	ring := newFakeRing("a")
	clock := &testClock{}
	clock.set(time.Now().UnixMilli())
	r := newTestRepairer(t, ea, ring, clock)
	if r.PurgeAllowed(keyIn(t, ring.ranges[0].Range), engine.Record{Version: ver(1, 0, 1), Tombstone: true}, 0) {
		t.Fatal("a damaged proof value allowed a purge")
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ea := openMemEngine(t)
	ok := DefaultConfig()
	ok.Store, ok.Meta, ok.Ring = ea, ea, newFakeRing("a")
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"no store", func(c *Config) { c.Store = nil }},
		{"no meta", func(c *Config) { c.Meta = nil }},
		{"no ring", func(c *Config) { c.Ring = nil }},
		{"negative interval", func(c *Config) { c.Interval = -time.Second }},
		{"zero rate", func(c *Config) { c.Rate = 0 }},
		{"zero timeout", func(c *Config) { c.Timeout = 0 }},
		{"negative margin", func(c *Config) { c.ProofMargin = -1 }},
	} {
		c := ok
		tc.edit(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", tc.name, err)
		}
		if _, err := New(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: New = %v, want ErrInvalidConfig", tc.name, err)
		}
	}
}

// serviceSeeds are valid requests of every kind, the starting points the
// garbage below is derived from.
func serviceSeeds() []struct {
	op      uint8
	payload []byte
} {
	whole := Range{Start: 7, End: 7}
	return []struct {
		op      uint8
		payload []byte
	}{
		{transport.OpRoots, AppendRootsRequest(nil, RootsRequest{Ranges: []Range{whole, {Start: 1, End: 1 << 40}}})},
		{transport.OpNodes, AppendNodesRequest(nil, NodesRequest{Range: whole, Level: 1, Indices: []int{0, 3, 15}})},
		{transport.OpNodes, AppendNodesRequest(nil, NodesRequest{Range: whole, Level: 4, Indices: []int{65536}})},
		{transport.OpEntries, AppendEntriesRequest(nil, EntriesRequest{Range: whole, Leaves: []int{0, 1, 65536}})},
		{transport.OpEntries, AppendEntriesRequest(nil, EntriesRequest{Range: Range{Start: 10, End: 20}, Leaves: []int{0}})},
	}
}

// checkServe calls Serve and checks that it either fails or answers
// something the matching decoder accepts.
func checkServe(t testing.TB, svc *Service, op uint8, payload []byte) {
	t.Helper()
	resp, err := svc.Serve(context.Background(), op, payload)
	if err != nil {
		return
	}
	var derr error
	switch op {
	case transport.OpRoots:
		_, derr = DecodeRootsResponse(resp)
	case transport.OpNodes:
		_, derr = DecodeNodesResponse(resp)
	case transport.OpEntries:
		_, derr = DecodeEntriesResponse(resp)
	default:
		t.Fatalf("op %d answered without error", op)
	}
	if derr != nil {
		t.Fatalf("op %d payload %x: answer does not decode: %v", op, payload, derr)
	}
}

// TestServiceRejectsGarbage checks that requests that are malformed, or
// well-formed but naming nodes or leaves a range does not have, are
// answered with errors.
func TestServiceRejectsGarbage(t *testing.T) {
	t.Parallel()
	ea := openMemEngine(t)
	if _, err := ea.Apply([]byte("k"), engine.Record{Value: []byte("v"), Version: ver(time.Now().UnixMilli(), 0, 1)}); err != nil {
		t.Fatal(err)
	}
	svc := NewService(ea)
	small := Range{Start: 10, End: 20} // one leaf, tree of one level
	tooMany := make([]int, maxServedLeaves+1)
	for i := range tooMany {
		tooMany[i] = i
	}
	for _, tc := range []struct {
		name    string
		op      uint8
		payload []byte
		want    error
	}{
		{"unknown op", 99, nil, ErrBadRequest},
		{"roots empty", transport.OpRoots, nil, ErrMalformed},
		{"roots truncated", transport.OpRoots, []byte{2, 0, 0, 0}, ErrMalformed},
		{"roots trailing", transport.OpRoots, append(AppendRootsRequest(nil, RootsRequest{Ranges: []Range{small}}), 0), ErrMalformed},
		{"nodes empty", transport.OpNodes, nil, ErrMalformed},
		{"nodes level too deep", transport.OpNodes, AppendNodesRequest(nil, NodesRequest{Range: small, Level: 9, Indices: []int{0}}), ErrMalformed},
		{"nodes level past the tree", transport.OpNodes, AppendNodesRequest(nil, NodesRequest{Range: small, Level: 2, Indices: []int{0}}), ErrBadRequest},
		{"nodes index past the level", transport.OpNodes, AppendNodesRequest(nil, NodesRequest{Range: Range{Start: 3, End: 3}, Level: 1, Indices: []int{16}}), ErrBadRequest},
		{"entries empty", transport.OpEntries, nil, ErrMalformed},
		{"entries leaf past the range", transport.OpEntries, AppendEntriesRequest(nil, EntriesRequest{Range: small, Leaves: []int{1}}), ErrBadRequest},
		{"entries too many leaves", transport.OpEntries, AppendEntriesRequest(nil, EntriesRequest{Range: Range{Start: 3, End: 3}, Leaves: tooMany}), ErrBadRequest},
	} {
		resp, err := svc.Serve(context.Background(), tc.op, tc.payload)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Serve = %x, %v; want %v", tc.name, resp, err, tc.want)
		}
	}
	// Random corruptions of valid requests: an error or a decodable answer.
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range serviceSeeds() {
		checkServe(t, svc, s.op, s.payload)
		for range 300 {
			p := slices.Clone(s.payload)
			switch rng.IntN(3) {
			case 0:
				p = p[:rng.IntN(len(p)+1)]
			case 1:
				p[rng.IntN(len(p))] ^= byte(1 + rng.IntN(255))
			default:
				p = append(p, byte(rng.IntN(256)))
			}
			checkServe(t, svc, s.op, p)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := svc.Serve(ctx, transport.OpRoots, serviceSeeds()[0].payload); !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve with a canceled context: %v", err)
	}
}

// FuzzServiceServe feeds the service arbitrary payloads for each
// operation: it must answer an error or a well-formed response, never
// panic.
func FuzzServiceServe(f *testing.F) {
	for _, s := range serviceSeeds() {
		f.Add(s.op, s.payload)
	}
	f.Add(uint8(0), []byte{})
	f.Add(transport.OpEntries, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	ea := openMemEngine(f)
	p := testPool()
	now := time.Now().UnixMilli()
	for i := range 500 {
		r := engine.Record{Value: []byte("v"), Version: ver(now, 0, 1)}
		if i%5 == 0 {
			r = engine.Record{Version: ver(now, 0, 1), Tombstone: true}
		}
		if _, err := ea.Apply(p.keys[i], r); err != nil {
			f.Fatal(err)
		}
	}
	svc := NewService(ea)
	f.Fuzz(func(t *testing.T, op uint8, payload []byte) {
		checkServe(t, svc, op%4+transport.OpRoots-1, payload)
	})
}

// TestPurgeRefusedWhenAloneInRing: a node that starts while it cannot
// reach its seeds sees a ring of itself alone; with MinReplicas 2 that
// proves nothing, however old the tombstone.
func TestPurgeRefusedWhenAloneInRing(t *testing.T) {
	e := openMemEngine(t)
	ring := &fakeRing{self: "a", peers: map[string]Peer{}}
	ring.ranges = []ReplicaRange{{Range: Range{Start: 5, End: 5}, Replicas: []string{"a"}}}
	cfg := DefaultConfig()
	cfg.Store, cfg.Meta, cfg.Ring, cfg.Interval = e, e, ring, 0
	tomb := engine.Record{Version: ver(1, 0, 1), Tombstone: true}
	for _, tc := range []struct {
		min  int
		want bool
	}{{1, true}, {2, false}} {
		cfg.MinReplicas = tc.min
		r, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.PurgeAllowed([]byte("k"), tomb, 0); got != tc.want {
			t.Errorf("MinReplicas %d: PurgeAllowed = %v, want %v", tc.min, got, tc.want)
		}
		_ = r.Close()
	}
}

// TestSetRate: the rate and its burst (a second's worth) change in place.
func TestSetRate(t *testing.T) {
	r := newTestRepairer(t, openMemEngine(t), newFakeRing("a"), &testClock{})
	r.SetRate(3 << 20)
	if r.limiter.Limit() != rate.Limit(3<<20) || r.limiter.Burst() != 3<<20 {
		t.Fatalf("limit %v burst %d", r.limiter.Limit(), r.limiter.Burst())
	}
	r.SetRate(0)
	if r.limiter.Limit() != 1 || r.limiter.Burst() != 1 {
		t.Fatalf("rate 0 is 1: limit %v burst %d", r.limiter.Limit(), r.limiter.Burst())
	}
}
