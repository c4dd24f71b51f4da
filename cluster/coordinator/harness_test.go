package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ringcache/ringcache/bench/await"
	"github.com/ringcache/ringcache/cluster/layout"
	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/cluster/topology"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/engine/enginetest"
)

// errInjected is what a replica marked down fails with.
var errInjected = errors.New("injected replica failure")

// fault is what happens to calls reaching one replica.
type fault int

const (
	faultNone fault = iota
	// faultDown fails every call at once.
	faultDown
	// faultDrop never answers: the call returns only when its ctx ends.
	faultDrop
	// faultHold blocks calls until release (or ctx), then lets them through.
	faultHold
)

// faultNet injects failures between in-process nodes: per target replica
// (down, drop, hold until released, fixed delay) and per (from, to) pair
// (partitions). Faults apply to every Replica call.
type faultNet struct {
	mu struct {
		sync.Mutex
		faults  map[string]fault
		release map[string]chan struct{}
		delay   map[string]time.Duration
		cut     map[[2]string]bool
		// reads/applies count calls each replica completed.
		reads, applies map[string]int
		// rejected counts calls the faults failed, per target.
		rejected map[string]int
	}
}

func newFaultNet() *faultNet {
	n := &faultNet{}
	n.mu.faults = map[string]fault{}
	n.mu.release = map[string]chan struct{}{}
	n.mu.delay = map[string]time.Duration{}
	n.mu.cut = map[[2]string]bool{}
	n.mu.reads = map[string]int{}
	n.mu.applies = map[string]int{}
	n.mu.rejected = map[string]int{}
	return n
}

// set puts a fault on every call to replica id; faultNone clears it (and
// releases held calls).
func (n *faultNet) set(id string, f fault) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ch, ok := n.mu.release[id]; ok && f != faultHold {
		close(ch)
		delete(n.mu.release, id)
	}
	if f == faultHold {
		if _, ok := n.mu.release[id]; !ok {
			n.mu.release[id] = make(chan struct{})
		}
	}
	n.mu.faults[id] = f
}

func (n *faultNet) count(id string, read bool) {
	n.mu.Lock()
	if read {
		n.mu.reads[id]++
	} else {
		n.mu.applies[id]++
	}
	n.mu.Unlock()
}

func (n *faultNet) calls(id string) (reads, applies int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.reads[id], n.mu.applies[id]
}

func (n *faultNet) rejections(id string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.rejected[id]
}

// gate applies the faults of a call from -> to; a nil error lets it pass.
func (n *faultNet) gate(ctx context.Context, from, to string) error {
	err := n.check(ctx, from, to)
	if err != nil {
		n.mu.Lock()
		n.mu.rejected[to]++
		n.mu.Unlock()
	}
	return err
}

func (n *faultNet) check(ctx context.Context, from, to string) error {
	n.mu.Lock()
	f, cut, d, rel := n.mu.faults[to], n.mu.cut[[2]string{from, to}], n.mu.delay[to], n.mu.release[to]
	n.mu.Unlock()
	switch {
	case cut:
		return fmt.Errorf("partitioned %s -> %s: %w", from, to, errInjected)
	case f == faultDown:
		return fmt.Errorf("%s down: %w", to, errInjected)
	case f == faultDrop:
		<-ctx.Done()
		return ctx.Err()
	case f == faultHold && rel != nil:
		select {
		case <-rel:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return ctx.Err()
}

// faultReplica is the replica `to` as seen from node `from`.
type faultReplica struct {
	net      *faultNet
	from, to string
	inner    *replica.Local
}

func (r *faultReplica) Apply(ctx context.Context, req replica.ApplyRequest) ([]engine.Version, error) {
	if err := r.net.gate(ctx, r.from, r.to); err != nil {
		return nil, err
	}
	defer r.net.count(r.to, false)
	return r.inner.Apply(ctx, req)
}

func (r *faultReplica) Read(ctx context.Context, req replica.ReadRequest) (replica.ReadReply, error) {
	if err := r.net.gate(ctx, r.from, r.to); err != nil {
		return replica.ReadReply{}, err
	}
	defer r.net.count(r.to, true)
	return r.inner.Read(ctx, req)
}

func (r *faultReplica) Scan(ctx context.Context, req replica.ScanRequest) (replica.ScanReply, error) {
	if err := r.net.gate(ctx, r.from, r.to); err != nil {
		return replica.ScanReply{}, err
	}
	defer r.net.count(r.to, true)
	return r.inner.Scan(ctx, req)
}

func (r *faultReplica) Count(ctx context.Context) (int64, error) {
	if err := r.net.gate(ctx, r.from, r.to); err != nil {
		return 0, err
	}
	return r.inner.Count(ctx)
}

func (r *faultReplica) ClassCounts(ctx context.Context) ([]engine.ClassCount, error) {
	if err := r.net.gate(ctx, r.from, r.to); err != nil {
		return nil, err
	}
	return r.inner.ClassCounts(ctx)
}

func (r *faultReplica) DropAll(ctx context.Context, floor engine.Version) error {
	if err := r.net.gate(ctx, r.from, r.to); err != nil {
		return err
	}
	return r.inner.DropAll(ctx, floor)
}

// testTopo publishes the topology a test coordinator works with: a ring
// of ids (all alive unless set down), the replica reps resolves for each,
// and whether the node is catching up. Every change is published at once.
type testTopo struct {
	cur  topology.Current
	self string
	ids  []string
	reps func(id string) (replica.Replica, bool)

	mu     sync.Mutex
	down   []string
	behind bool
	lay    *layout.Layout
}

func newTestTopo(self string, ids []string, reps func(id string) (replica.Replica, bool)) *testTopo {
	tt := &testTopo{self: self, ids: ids, reps: reps}
	tt.publish()
	return tt
}

// setDown reports the nodes ids down (gossip: dead), and no other.
func (tt *testTopo) setDown(ids ...string) {
	tt.mu.Lock()
	tt.down = slices.Clone(ids)
	tt.mu.Unlock()
	tt.publish()
}

// setLayout makes the topology's rings those of l (nil: a static ring
// of the members).
func (tt *testTopo) setLayout(l *layout.Layout) {
	tt.mu.Lock()
	tt.lay = l
	tt.mu.Unlock()
	tt.publish()
}

// setBehind reports the node catching up, or not.
func (tt *testTopo) setBehind(b bool) {
	tt.mu.Lock()
	tt.behind = b
	tt.mu.Unlock()
	tt.publish()
}

func (tt *testTopo) publish() {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	var ms []membership.Member
	reps := map[string]replica.Replica{}
	for _, id := range tt.ids {
		st := membership.Alive
		if slices.Contains(tt.down, id) {
			st = membership.Dead
		}
		ms = append(ms, membership.Member{ID: id, State: st})
		if r, ok := tt.reps(id); ok {
			reps[id] = r
		}
	}
	self := membership.Member{ID: tt.self, State: membership.Alive}
	if i := slices.Index(tt.ids, tt.self); i < 0 {
		// A coordinator outside the ring: only its own entry is added.
		self.State = membership.Left
	}
	tt.cur.Store(topology.New(topology.Spec{
		Self: self, Members: ms, VNodes: 64, Replicas: reps,
		Health: topology.Health{Retry: time.Second, Behind: tt.behind},
		Layout: tt.lay,
	}, tt.cur.Load()))
}

// owners returns the key's first n nodes in preference order.
func (tt *testTopo) owners(key []byte, n int) []string {
	return tt.cur.Load().AppendPreference(nil, engine.Token(key), n)
}

// testCluster is n in-process nodes, each a real engine on an in-memory
// filesystem and a coordinator whose replicas are reached through net.
type testCluster struct {
	t      testing.TB
	ids    []string
	net    *faultNet
	locals map[string]*replica.Local
	coords map[string]*Coordinator
	topos  map[string]*testTopo
}

// newTestCluster starts n nodes ("n0".."n{n-1}"). cfg adjusts each
// coordinator's Config before New.
func newTestCluster(t testing.TB, n int, cfg func(*Config)) *testCluster {
	t.Helper()
	tc := &testCluster{t: t, net: newFaultNet(), locals: map[string]*replica.Local{}, coords: map[string]*Coordinator{}, topos: map[string]*testTopo{}}
	for i := 0; i < n; i++ {
		tc.ids = append(tc.ids, fmt.Sprintf("n%d", i))
	}
	for _, id := range tc.ids {
		tc.locals[id] = replica.NewLocal(openMemEngine(t), nil)
	}
	for _, id := range tc.ids {
		c := DefaultConfig()
		c.Self = id
		c.Timeout = 2 * time.Second
		tc.topos[id] = newTestTopo(id, tc.ids, tc.peersFrom(id))
		c.Topology = &tc.topos[id].cur
		if cfg != nil {
			cfg(&c)
		}
		co, err := New(c)
		if err != nil {
			t.Fatalf("new coordinator %s: %v", id, err)
		}
		// Registered after the engines' cleanups, so it runs before them.
		t.Cleanup(func() { _ = co.Close() })
		tc.coords[id] = co
	}
	return tc
}

func (tc *testCluster) peersFrom(from string) func(id string) (replica.Replica, bool) {
	return func(id string) (replica.Replica, bool) {
		l, ok := tc.locals[id]
		if !ok {
			return nil, false
		}
		return &faultReplica{net: tc.net, from: from, to: id, inner: l}, true
	}
}

// owners returns the key's replicas in preference order.
func (tc *testCluster) owners(key string, n int) []string {
	return tc.topos[tc.ids[0]].owners([]byte(key), n)
}

// stored returns what replica id's engine holds for key.
func (tc *testCluster) stored(id, key string) (engine.Record, bool) {
	tc.t.Helper()
	r, ok, err := tc.locals[id].Engine().Lookup([]byte(key))
	if err != nil {
		tc.t.Fatalf("lookup %s on %s: %v", key, id, err)
	}
	return r, ok
}

// whileDown runs fn with the replicas ids down, then waits until each of
// them has rejected a call made during fn (so no call of fn slips through
// after they come back) and brings them back up.
func (tc *testCluster) whileDown(ids []string, fn func()) {
	tc.t.Helper()
	before := map[string]int{}
	for _, id := range ids {
		before[id] = tc.net.rejections(id)
		tc.net.set(id, faultDown)
	}
	fn()
	for _, id := range ids {
		eventually(tc.t, id+" rejected a call", func() bool { return tc.net.rejections(id) > before[id] })
		tc.net.set(id, faultNone)
	}
}

// eventually retries cond until it holds, for up to 5s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	await.T(t, 5*time.Second, what, cond)
}

// noAdmin gives a test replica Count and DropAll that fail.
type noAdmin struct{}

var errNoAdmin = errors.New("test replica: no node-wide operations")

func (noAdmin) Count(context.Context) (int64, error)          { return 0, errNoAdmin }
func (noAdmin) DropAll(context.Context, engine.Version) error { return errNoAdmin }
func (noAdmin) ClassCounts(context.Context) ([]engine.ClassCount, error) {
	return nil, errNoAdmin
}
func (noAdmin) Scan(context.Context, replica.ScanRequest) (replica.ScanReply, error) {
	return replica.ScanReply{}, errNoAdmin
}

// openMemEngine opens a small in-memory engine, closed when the test ends.
func openMemEngine(t testing.TB) *engine.Engine { return enginetest.Open(t) }
