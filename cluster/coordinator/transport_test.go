package coordinator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/cluster/ring"
	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/engine/hlc"
	"github.com/ringcache/ringcache/server/store"
)

// netCluster is n nodes wired as in production: a ring placement, the
// local replica through the engine, peers through real TCP transport on
// loopback ports.
type netCluster struct {
	ids     []string
	locals  map[string]*replica.Local
	servers map[string]*transport.Server
	addrs   map[string]string
	coords  map[string]*Coordinator
}

func newNetCluster(t *testing.T, n int) *netCluster { return newNetClusterClocks(t, n, nil) }

// newNetClusterClocks is newNetCluster whose nodes stamp with clocks
// that the transport carries, as in production: node i's reads
// clockNow(i). With clockNow nil, the transport carries none.
func newNetClusterClocks(t *testing.T, n int, clockNow func(i int) func() time.Time) *netCluster {
	t.Helper()
	nc := &netCluster{locals: map[string]*replica.Local{}, servers: map[string]*transport.Server{}, addrs: map[string]string{}, coords: map[string]*Coordinator{}}
	base := transport.DefaultConfig()
	base.MinBackoff, base.MaxBackoff = 5*time.Millisecond, 20*time.Millisecond
	tcfgs := map[string]transport.Config{}
	clocks := map[string]*hlc.Clock{}
	var nodes []ring.Node
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("node-%d", i)
		tcfg := base
		if clockNow != nil {
			clocks[id] = hlc.New(id, clockNow(i))
			tcfg.Clock = clocks[id]
		}
		tcfgs[id] = tcfg
		local := replica.NewLocal(openMemEngine(t), nil)
		srv, err := transport.NewServer(replica.NewHandler(local, nil), tcfg)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		nc.ids = append(nc.ids, id)
		nc.locals[id], nc.servers[id], nc.addrs[id] = local, srv, ln.Addr().String()
		nodes = append(nodes, ring.Node{ID: id, Addr: ln.Addr().String()})
	}
	for _, self := range nc.ids {
		peers := map[string]replica.Replica{self: nc.locals[self]}
		for _, nd := range nodes {
			if nd.ID == self {
				continue
			}
			cl, err := transport.NewClient(nd.Addr, tcfgs[self])
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cl.Close() })
			peers[nd.ID] = replica.NewRemote(cl)
		}
		cfg := DefaultConfig()
		cfg.Self = self
		cfg.Timeout = 2 * time.Second
		cfg.Clock = clocks[self]
		cfg.Topology = &newTestTopo(self, nc.ids, func(id string) (replica.Replica, bool) { rep, ok := peers[id]; return rep, ok }).cur
		co, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = co.Close() })
		nc.coords[self] = co
	}
	return nc
}

// TestOverTransport: writes through one node are readable through every
// other, stored on exactly the key's N owners; DBSIZE and FLUSHALL reach
// every member; with two of three servers gone writes fail with NOQUORUM.
func TestOverTransport(t *testing.T) {
	nc := newNetCluster(t, 4)
	ctx := context.Background()
	var muts []store.Mutation
	for i := 0; i < 200; i++ {
		k := fmt.Sprint("key-", i)
		muts = append(muts, store.Mutation{Key: []byte(k), Value: []byte("v" + k)})
	}
	if err := nc.coords["node-0"].Put(ctx, muts); err != nil {
		t.Fatal(err)
	}
	for _, id := range nc.ids {
		for _, m := range muts[:20] {
			items, err := nc.coords[id].Get(ctx, [][]byte{m.Key})
			if err != nil || string(items[0].Value) != string(m.Value) {
				t.Fatalf("get %s via %s: %+v %v", m.Key, id, items, err)
			}
		}
	}
	topo := nc.coords["node-0"].cfg.Topology.Load()
	for _, m := range muts {
		owners := topo.AppendPreference(nil, engine.Token(m.Key), 3)
		for _, id := range nc.ids {
			eventually(t, "placement of "+string(m.Key), func() bool {
				_, ok, _ := nc.locals[id].Engine().Lookup(m.Key)
				return ok == slices.Contains(owners, id)
			})
		}
	}
	if n, err := nc.coords["node-2"].Len(ctx); err != nil || n != 200 {
		t.Fatalf("DBSIZE %d, %v", n, err)
	}
	if err := nc.coords["node-3"].Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := nc.coords["node-1"].Len(ctx); err != nil || n != 0 {
		t.Fatalf("DBSIZE after FLUSHALL %d, %v", n, err)
	}
	// Every member, the remote ones through OpNodeDropAll, took the
	// flushing node's floor.
	floor := nc.locals["node-3"].Engine().Floor()
	if floor.IsZero() {
		t.Fatal("FLUSHALL left node-3 without a floor")
	}
	for _, id := range nc.ids {
		if got := nc.locals[id].Engine().Floor(); got != floor {
			t.Fatalf("%s's floor after FLUSHALL: %v, want %v", id, got, floor)
		}
	}

	// A key owned by node-0 and two others: stop those two.
	var key []byte
	var owners []string
	for i := 0; ; i++ {
		key = []byte(fmt.Sprint("probe-", i))
		owners = topo.AppendPreference(nil, engine.Token(key), 3)
		if slices.Contains(owners, "node-0") {
			break
		}
	}
	down := 0
	for _, id := range owners {
		if id == "node-0" {
			continue
		}
		if err := nc.servers[id].Close(); err != nil {
			t.Fatal(err)
		}
		down++
		err := nc.coords["node-0"].Put(ctx, []store.Mutation{{Key: key, Value: []byte("x")}})
		if down == 1 && err != nil {
			t.Fatalf("W=2 with one owner down: %v", err)
		}
		if down == 2 && !errors.Is(err, ErrNoQuorum) {
			t.Fatalf("W=2 with two owners down: %v", err)
		}
	}
}

// TestRemoteReplicaMalformed: a peer answering garbage gives errors,
// never a panic or a wrong result.
func TestRemoteReplicaMalformed(t *testing.T) {
	tests := []struct {
		name string
		resp []byte
		err  error
	}{
		{"empty", nil, nil},
		{"truncated", []byte{5, 1}, nil},
		{"transport error", nil, transport.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := replica.NewRemote(transport.CallerFunc(func(context.Context, uint8, []byte) ([]byte, error) {
				return tt.resp, tt.err
			}))
			ctx := context.Background()
			keys := [][]byte{[]byte("a"), []byte("b")}
			if _, err := rep.Apply(ctx, replica.ApplyRequest{Keys: keys, Recs: make([]engine.Record, 2)}); err == nil {
				t.Error("Apply accepted a malformed answer")
			}
			if _, err := rep.Read(ctx, replica.ReadRequest{Keys: keys}); err == nil {
				t.Error("Read accepted a malformed answer")
			}
			if _, err := rep.Count(ctx); err == nil {
				t.Error("Count accepted a malformed answer")
			}
			if tt.err != nil {
				if err := rep.DropAll(ctx, engine.Version{}); !errors.Is(err, tt.err) {
					t.Errorf("DropAll: %v", err)
				}
			}
		})
	}
}

// shortReplica answers reads with fewer records than keys.
type shortReplica struct{ noAdmin }

func (shortReplica) Apply(context.Context, replica.ApplyRequest) ([]engine.Version, error) {
	return nil, nil
}
func (shortReplica) Read(context.Context, replica.ReadRequest) (replica.ReadReply, error) {
	return replica.ReadReply{}, nil
}

func TestMisbehavingReplicaIsAFailure(t *testing.T) {
	cfg := DefaultConfig()
	cfg.N, cfg.R, cfg.W = 1, 1, 1
	cfg.Self = "a"
	cfg.Topology = &newTestTopo("a", []string{"a"}, func(string) (replica.Replica, bool) { return shortReplica{}, true }).cur
	co, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	if _, err := co.Get(context.Background(), [][]byte{[]byte("k")}); !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("short answer: %v", err)
	}
	secs := co.InfoSections()
	if len(secs) != 1 {
		t.Fatalf("a replica without INFO added sections: %+v", secs)
	}
}

// TestRemoteErrorsKeepTheirSentinel: a peer's refusal crosses the wire as
// the sentinel it wrapped: a stand-in without hinted handoff answers
// ErrNoHints, and errors.Is holds for it on the caller, as for a local
// replica; a peer whose engine is closed answers engine.ErrClosed.
func TestRemoteErrorsKeepTheirSentinel(t *testing.T) {
	nc := newNetCluster(t, 2)
	cl, err := transport.NewClient(nc.addrs["node-1"], transport.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	remote := replica.NewRemote(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	keys := [][]byte{[]byte("k")}
	recs := []engine.Record{{Value: []byte("v"), Version: engine.Version{Wall: 1}}}
	_, err = remote.Apply(ctx, replica.ApplyRequest{Keys: keys, Recs: recs, Hint: "node-0"})
	if !errors.Is(err, replica.ErrNoHints) || !errors.Is(err, transport.ErrRemote) {
		t.Fatalf("hinted apply on a peer without handoff: %v, want replica.ErrNoHints from the peer", err)
	}
	_, localErr := nc.locals["node-1"].Apply(ctx, replica.ApplyRequest{Keys: keys, Recs: recs, Hint: "node-0"})
	if !errors.Is(localErr, replica.ErrNoHints) {
		t.Fatalf("the same apply locally: %v", localErr)
	}
	if err := nc.locals["node-1"].Engine().Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Read(ctx, replica.ReadRequest{Keys: keys}); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("read on a peer whose engine is closed: %v, want engine.ErrClosed", err)
	}
}

// TestFlushFloorAboveAClockAhead: a write stamped by a node whose clock
// runs three seconds ahead, on replicas that never sent the flushing node
// a frame, is below the flush's floor all the same (the flush asks every
// member first, and their answers carry their clocks): a repair that read
// it before the flush and applies it after stores nothing.
func TestFlushFloorAboveAClockAhead(t *testing.T) {
	nc := newNetClusterClocks(t, 4, func(i int) func() time.Time {
		if i == 1 {
			return func() time.Time { return time.Now().Add(3 * time.Second) }
		}
		return time.Now
	})
	ctx := context.Background()
	topo := nc.coords["node-1"].cfg.Topology.Load()
	var key []byte
	var owners []string
	for i := 0; ; i++ {
		key = []byte(fmt.Sprint("ahead-", i))
		owners = topo.AppendPreference(nil, engine.Token(key), 3)
		if !slices.Contains(owners, "node-0") {
			break
		}
	}
	if err := nc.coords["node-1"].Put(ctx, []store.Mutation{{Key: key, Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	var rec engine.Record
	eventually(t, "the write on "+owners[1], func() bool {
		r, ok, _ := nc.locals[owners[1]].Engine().Lookup(key)
		rec = r
		return ok
	})
	if err := nc.coords["node-0"].Flush(ctx); err != nil {
		t.Fatal(err)
	}
	floor := nc.locals["node-0"].Engine().Floor()
	if floor.Compare(rec.Version) <= 0 {
		t.Fatalf("floor %v is not above %v, stamped by the clock ahead before the flush", floor, rec.Version)
	}
	for _, id := range owners {
		newer, err := nc.locals[id].Apply(ctx, replica.ApplyRequest{Keys: [][]byte{key}, Recs: []engine.Record{rec}})
		if err != nil || len(newer) != 1 || newer[0] != floor {
			t.Fatalf("%s: a repair of %s from before the flush: newer %v, %v; want refused below %v", id, key, newer, err, floor)
		}
	}
}
