package coordinator

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/ringcache/ringcache/cluster/layout"
	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/server/store"
)

// epochAt is the layout epoch a test replica knows, set by the test.
type epochAt struct{ atomic.Uint64 }

// Epoch implements replica.Epochs.
func (e *epochAt) Epoch() uint64 { return e.Load() }

// callLog is a peer's transport client that records the errors its
// calls returned.
type callLog struct {
	transport.Caller
	mu struct {
		sync.Mutex
		errs []error
		// next is closed at the next failed call (nil: nobody waits).
		next chan struct{}
	}
}

// Call implements transport.Caller.
func (l *callLog) Call(ctx context.Context, op uint8, payload []byte) ([]byte, error) {
	b, err := l.Caller.Call(ctx, op, payload)
	if err != nil {
		l.mu.Lock()
		l.mu.errs = append(l.mu.errs, err)
		if l.mu.next != nil {
			close(l.mu.next)
			l.mu.next = nil
		}
		l.mu.Unlock()
	}
	return b, err
}

// nextFailure returns a channel closed at the next call that fails.
func (l *callLog) nextFailure() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.next == nil {
		l.mu.next = make(chan struct{})
	}
	return l.mu.next
}

// failures returns the errors the calls returned so far.
func (l *callLog) failures() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.mu.errs)
}

// staleCluster is a coordinator on n0 with a local replica that knows
// the coordinator's own epoch, and peers n1 and n2 behind the real
// replica transport on loopback, each with an epoch the test sets, their
// clients wrapped as in production (Batching over Remote) around a
// callLog.
type staleCluster struct {
	ids    []string
	lay    *layout.Layout // the layout the coordinator starts with
	topo   *testTopo
	co     *Coordinator
	locals map[string]*replica.Local
	epochs map[string]*epochAt // the peers'
	logs   map[string]*callLog // the peers'
	addrs  map[string]string   // the peers'
	tcfg   transport.Config
}

func newStaleCluster(t *testing.T) *staleCluster {
	t.Helper()
	sc := &staleCluster{ids: []string{"n0", "n1", "n2"}, locals: map[string]*replica.Local{},
		epochs: map[string]*epochAt{}, logs: map[string]*callLog{}, addrs: map[string]string{}}
	sc.lay = settledLayout(t, sc.ids)
	sc.tcfg = transport.DefaultConfig()
	sc.tcfg.MinBackoff, sc.tcfg.MaxBackoff = 5*time.Millisecond, 20*time.Millisecond
	reps := map[string]replica.Replica{}
	for _, id := range sc.ids {
		sc.locals[id] = replica.NewLocal(openMemEngine(t), nil)
		if id == "n0" {
			reps[id] = sc.locals[id]
			continue
		}
		sc.epochs[id] = &epochAt{}
		sc.epochs[id].Store(sc.lay.Epoch)
		sc.locals[id].SetEpoch(sc.epochs[id])
		sc.addrs[id] = serveReplica(t, sc.locals[id], sc.tcfg)
		sc.logs[id] = &callLog{Caller: dial(t, sc.addrs[id], sc.tcfg)}
		reps[id] = replica.NewBatching(replica.NewRemote(sc.logs[id]), sc.tcfg.MaxFrameBytes)
	}
	sc.topo = newTestTopo("n0", sc.ids, func(id string) (replica.Replica, bool) { r, ok := reps[id]; return r, ok })
	sc.topo.setLayout(sc.lay)
	sc.locals["n0"].SetEpoch(&sc.topo.cur)
	cfg := DefaultConfig()
	cfg.Self = "n0"
	cfg.Timeout = 2 * time.Second
	cfg.Topology = &sc.topo.cur
	co, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = co.Close() })
	sc.co = co
	return sc
}

// serveReplica serves l on a loopback port until the test ends and
// returns its address.
func serveReplica(t *testing.T, l *replica.Local, cfg transport.Config) string {
	t.Helper()
	srv, err := transport.NewServer(replica.NewHandler(l, nil), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// dial returns a transport client of addr, closed when the test ends.
func dial(t *testing.T, addr string, cfg transport.Config) *transport.Client {
	t.Helper()
	cl, err := transport.NewClient(addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// settledLayout returns the layout of ids joined one after the other,
// no operation in progress.
func settledLayout(t *testing.T, ids []string) *layout.Layout {
	t.Helper()
	apply := func(l *layout.Layout, c layout.Command) *layout.Layout {
		next, err := layout.Apply(l, c, 3)
		if err != nil {
			t.Fatal(err)
		}
		return next
	}
	member := func(id string) *layout.Member {
		return &layout.Member{ID: id, RaftID: xxhash.Sum64String(id), ClusterAddr: id}
	}
	l := apply(&layout.Layout{}, layout.Command{Kind: layout.CmdBootstrap, ClusterID: "c", Member: member(ids[0]), VNodes: 16})
	for _, id := range ids[1:] {
		l = apply(l, layout.Command{Kind: layout.CmdJoin, Member: member(id)})
		for l.Op != nil {
			for _, p := range l.Op.Pending {
				l = apply(l, layout.Command{Kind: layout.CmdStreamed, Node: p, Epoch: l.Op.Started})
			}
			l = apply(l, layout.Command{Kind: layout.CmdAdvance, Stage: l.Op.Stage, Epoch: l.Op.Epoch})
		}
	}
	return l
}

// peersAt makes both peers know epoch.
func (sc *staleCluster) peersAt(epoch uint64) {
	for _, e := range sc.epochs {
		e.Store(epoch)
	}
}

// learnAfterRefusal installs l in the coordinator's topology once a call
// to n1 has failed: the coordinator learns the newer epoch only after a
// replica refused it. The returned func waits for that to be done (or
// given up, when no call failed before it is called).
func (sc *staleCluster) learnAfterRefusal(l *layout.Layout) (wait func() bool) {
	refused, stop, done := sc.logs["n1"].nextFailure(), make(chan struct{}), make(chan bool, 1)
	go func() {
		select {
		case <-refused:
			sc.topo.setLayout(l)
			done <- true
		case <-stop:
			done <- false
		}
	}()
	return func() bool {
		close(stop)
		return <-done
	}
}

// withEpoch returns a copy of l, the same rings, at epoch.
func withEpoch(l *layout.Layout, epoch uint64) *layout.Layout {
	c := l.Clone()
	c.Epoch = epoch
	return c
}

// TestStaleEpochRefusedOverTransportAndRetried: a peer that knows a
// later layout epoch than a request was planned with refuses it, and the
// refusal reaches the caller through the real transport as
// replica.ErrStaleEpoch (while a request with the peer's epoch goes
// through). A coordinator one epoch behind both of its peers has its
// write and then its read refused by them (W=R=2 of three: its own
// replica alone is not a quorum), learns the newer epoch, plans again,
// and the client's request succeeds, each counted once in StaleRetries;
// every refusal the peers' clients saw is ErrStaleEpoch.
func TestStaleEpochRefusedOverTransportAndRetried(t *testing.T) {
	sc := newStaleCluster(t)
	ctx := context.Background()
	e := sc.lay.Epoch
	key, val := []byte("stale-key"), []byte("v1")
	rec := engine.Record{Value: val, Version: engine.Version{Wall: 1}}

	sc.peersAt(e + 1)
	direct := replica.NewRemote(dial(t, sc.addrs["n1"], sc.tcfg))
	_, err := direct.Apply(ctx, replica.ApplyRequest{Keys: [][]byte{key}, Recs: []engine.Record{rec}, Epoch: e})
	if !errors.Is(err, replica.ErrStaleEpoch) {
		t.Fatalf("Apply at epoch %d to a replica at %d over the transport: %v, want replica.ErrStaleEpoch", e, e+1, err)
	}
	if !strings.Contains(err.Error(), strconv.FormatUint(e+1, 10)) {
		t.Fatalf("the refusal %q does not say the replica's epoch %d", err, e+1)
	}
	if _, err := direct.Read(ctx, replica.ReadRequest{Keys: [][]byte{key}, Epoch: e}); !errors.Is(err, replica.ErrStaleEpoch) {
		t.Fatalf("Read at epoch %d to a replica at %d over the transport: %v, want replica.ErrStaleEpoch", e, e+1, err)
	}
	if _, err := direct.Read(ctx, replica.ReadRequest{Keys: [][]byte{key}, Epoch: e + 1}); err != nil {
		t.Fatalf("Read at the replica's epoch %d: %v", e+1, err)
	}

	// A write planned at e: refused by both peers, retried at e+1.
	wait := sc.learnAfterRefusal(withEpoch(sc.lay, e+1))
	err = sc.co.Put(ctx, []store.Mutation{{Key: key, Value: val}})
	if learned := wait(); !learned {
		t.Fatal("no call to n1 failed: the write planned with the old epoch was not refused")
	}
	if err != nil {
		t.Fatalf("Put with the coordinator one epoch behind its peers: %v", err)
	}
	if got := sc.co.Stats().StaleRetries; got != 1 {
		t.Fatalf("StaleRetries after the write = %d, want 1", got)
	}
	for _, id := range sc.ids {
		eventually(t, "the write on "+id, func() bool {
			r, ok, err := sc.locals[id].Engine().Lookup(key)
			return err == nil && ok && string(r.Value) == string(val)
		})
	}

	// A read planned at e+1: refused by both peers, retried at e+2.
	sc.peersAt(e + 2)
	wait = sc.learnAfterRefusal(withEpoch(sc.lay, e+2))
	items, err := sc.co.Get(ctx, [][]byte{key})
	if learned := wait(); !learned {
		t.Fatal("no call to n1 failed: the read planned with the old epoch was not refused")
	}
	if err != nil || len(items) != 1 || string(items[0].Value) != string(val) {
		t.Fatalf("Get with the coordinator one epoch behind its peers: %+v, %v", items, err)
	}
	if got := sc.co.Stats().StaleRetries; got != 2 {
		t.Fatalf("StaleRetries after the read = %d, want 2", got)
	}

	for _, id := range []string{"n1", "n2"} {
		for _, err := range sc.logs[id].failures() {
			if !errors.Is(err, replica.ErrStaleEpoch) {
				t.Fatalf("a call to %s failed with %v, not replica.ErrStaleEpoch", id, err)
			}
		}
	}
}
