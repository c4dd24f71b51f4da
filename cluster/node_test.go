package cluster

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringcache/ringcache/antientropy"
	"github.com/ringcache/ringcache/bench/await"
	"github.com/ringcache/ringcache/cluster/coordinator"
	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/topology"
	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/engine/enginetest"
	"github.com/ringcache/ringcache/server"
	"github.com/ringcache/ringcache/server/store"
)

// testNodeConfig is a valid config for a node on free loopback ports.
func testNodeConfig(t *testing.T) NodeConfig {
	cfg := DefaultNodeConfig()
	cfg.NodeID = "solo"
	cfg.ClientAddr = "127.0.0.1:6379"
	cfg.ClusterListen = "127.0.0.1:0"
	cfg.GossipListen = "127.0.0.1:0"
	cfg.Engine = memEngine(t)
	cfg.Membership.LeaveTimeout = 100 * time.Millisecond
	return cfg
}

func TestNodeConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*NodeConfig)
		want error
	}{
		{"valid", func(*NodeConfig) {}, nil},
		{"no engine", func(c *NodeConfig) { c.Engine = nil }, ErrInvalidConfig},
		{"no listen", func(c *NodeConfig) { c.ClusterListen = "" }, ErrInvalidConfig},
		{"bad listen", func(c *NodeConfig) { c.ClusterListen = "nope" }, ErrInvalidConfig},
		{"R above N", func(c *NodeConfig) { c.Coordinator.R = 4 }, coordinator.ErrInvalidConfig},
		{"W zero", func(c *NodeConfig) { c.Coordinator.W = 0 }, coordinator.ErrInvalidConfig},
		{"no timeout", func(c *NodeConfig) { c.Coordinator.Timeout = 0 }, coordinator.ErrInvalidConfig},
		{"negative flush timeout", func(c *NodeConfig) { c.Coordinator.FlushTimeout = -1 }, coordinator.ErrInvalidConfig},
		{"no skew limit", func(c *NodeConfig) { c.MaxClockSkew = 0 }, ErrInvalidConfig},
		{"no skew interval", func(c *NodeConfig) { c.SkewInterval = 0 }, ErrInvalidConfig},
		{"no node id", func(c *NodeConfig) { c.NodeID = "" }, ErrInvalidConfig},
		{"bad node id", func(c *NodeConfig) { c.NodeID = "a b" }, membership.ErrInvalidConfig},
		{"no client addr", func(c *NodeConfig) { c.ClientAddr = "" }, membership.ErrInvalidConfig},
		{"bad seed", func(c *NodeConfig) { c.Seeds = []string{"x"} }, membership.ErrInvalidConfig},
		{"no gossip timing", func(c *NodeConfig) { c.Membership = membership.Config{} }, membership.ErrInvalidConfig},
		{"no vnodes", func(c *NodeConfig) { c.Membership.VNodes = 0 }, membership.ErrInvalidConfig},
		{"negative anti-entropy interval", func(c *NodeConfig) { c.AntiEntropy.Interval = -time.Second }, antientropy.ErrInvalidConfig},
		{"no anti-entropy rate", func(c *NodeConfig) { c.AntiEntropy.Rate = 0 }, antientropy.ErrInvalidConfig},
		{"bad transport", func(c *NodeConfig) { c.Transport.ConnsPerPeer = 0 }, transport.ErrInvalidConfig},
		{"no cluster name", func(c *NodeConfig) { c.ClusterName = "" }, transport.ErrInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testNodeConfig(t)
			tc.edit(&cfg)
			err := cfg.Validate()
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Validate() = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSingleNodeServesAndDescribesItself(t *testing.T) {
	cfg := testNodeConfig(t)
	cfg.Coordinator.N, cfg.Coordinator.R, cfg.Coordinator.W = 1, 1, 1
	n, err := StartNode(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx := context.Background()
	// A cluster of one with N=3 refuses quorum operations; see
	// TestSingleNodeKeepsQuorum. Here the node is configured for one replica.
	if err := n.Put(ctx, []store.Mutation{{Key: []byte("k"), Value: []byte("v")}}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	items, err := n.Get(ctx, [][]byte{[]byte("k")})
	if err != nil || !items[0].Found || string(items[0].Value) != "v" {
		t.Fatalf("Get = %+v, %v", items, err)
	}
	rec, ok, err := n.LocalGet(ctx, []byte("k"))
	if err != nil || !ok || string(rec.Value) != "v" || rec.Version == "" || rec.Tombstone {
		t.Fatalf("LocalGet = %+v, %v, %v", rec, ok, err)
	}
	if _, ok, err := n.LocalGet(ctx, []byte("missing")); ok || err != nil {
		t.Fatalf("LocalGet(missing) = %v, %v", ok, err)
	}
	if got := n.Owners([]byte("k")); !slices.Equal(got, []string{"solo"}) {
		t.Fatalf("Owners = %v", got)
	}
	nodes := n.Nodes()
	if len(nodes) != 1 || nodes[0].ID != "solo" || nodes[0].State != "alive" ||
		nodes[0].Share < 0.999 || nodes[0].VNodes != 128 || nodes[0].ClientAddr != cfg.ClientAddr {
		t.Fatalf("Nodes = %+v", nodes)
	}
	view, ok := any(n).(server.ClusterView)
	if !ok || len(view.Nodes()) != 1 {
		t.Fatal("Store does not expose the ClusterView")
	}
	ip, ok := any(n).(server.InfoProvider)
	if !ok {
		t.Fatal("Store is not an InfoProvider")
	}
	info := infoText(ip.InfoSections())
	for _, want := range []string{"cluster_enabled:0", "cluster_members_alive:1", "cluster_max_clock_skew_ms:0", "ringcache_replicas:1"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO lacks %q:\n%s", want, info)
		}
	}
	if strings.Count(info, "# Cluster") != 1 {
		t.Errorf("INFO has %d Cluster sections", strings.Count(info, "# Cluster"))
	}
	if n.ClusterAddr() == "" || strings.HasSuffix(n.ClusterAddr(), ":0") {
		t.Errorf("ClusterAddr = %q, want the bound address", n.ClusterAddr())
	}

	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := n.Get(ctx, [][]byte{[]byte("k")}); !errors.Is(err, coordinator.ErrClosed) {
		t.Fatalf("Get after Close = %v, want coordinator.ErrClosed", err)
	}
}

func infoText(ss []store.InfoSection) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString("# " + s.Name + "\n")
		for _, f := range s.Fields {
			b.WriteString(f[0] + ":" + f[1] + "\n")
		}
	}
	return b.String()
}

func TestStartNodeFailsCleanly(t *testing.T) {
	cfg := testNodeConfig(t)
	cfg.NodeID = ""
	if _, err := StartNode(context.Background(), cfg); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("StartNode(no id) = %v, want ErrInvalidConfig", err)
	}

	// The gossip address is taken: the transport server, already
	// started, must be stopped again (its port becomes free).
	first, err := StartNode(context.Background(), testNodeConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	cfg = testNodeConfig(t)
	cfg.NodeID = "second"
	cfg.GossipListen = first.GossipAddr()
	if _, err := StartNode(context.Background(), cfg); err == nil {
		t.Fatal("StartNode on a taken gossip address succeeded")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := StartNode(ctx, testNodeConfig(t)); !errors.Is(err, context.Canceled) {
		t.Fatalf("StartNode(cancelled) = %v", err)
	}
}

func TestPeerSetLifecycle(t *testing.T) {
	cfg := testNodeConfig(t)
	var observed []string
	var wrapped []string
	cfg.WrapCaller = func(id string, c transport.Caller) transport.Caller {
		wrapped = append(wrapped, id)
		return c
	}
	p := newPeerSet(cfg, func(peer string, _ uint8, _ time.Duration, _ error) { observed = append(observed, peer) })
	ctx := context.Background()

	a := p.get("p", "127.0.0.1:1")
	if a == nil || p.get("p", "127.0.0.1:1") != a {
		t.Fatal("get does not reuse the client for the same address")
	}
	// The peer moved: a new client, the old one closed.
	b := p.get("p", "127.0.0.1:2")
	if b == nil || b == a {
		t.Fatal("get kept the client of the old address")
	}
	if _, err := a.client.Call(ctx, transport.OpPing, nil); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("old client Call = %v, want coordinator.ErrClosed", err)
	}
	if !slices.Equal(wrapped, []string{"p", "p"}) {
		t.Fatalf("WrapCaller called for %v", wrapped)
	}
	observed = nil
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, _ = b.caller.Call(cctx, transport.OpPing, nil) // nobody listens: fails
	cancel()
	if b.calls.Load() != 1 || b.errors.Load() != 1 || !slices.Equal(observed, []string{"p"}) {
		t.Fatalf("calls %d errors %d observed %v", b.calls.Load(), b.errors.Load(), observed)
	}

	q := p.get("q", "127.0.0.1:3")
	p.retain(topology.New(topology.Spec{Self: membership.Member{ID: "s", State: membership.Alive}, VNodes: 8,
		Members: []membership.Member{
			{ID: "p", ClusterAddr: "127.0.0.1:2", State: membership.Dead},
			{ID: "q", ClusterAddr: "127.0.0.1:3", State: membership.Left},
		}}, nil))
	if got := len(p.snapshot()); got != 1 {
		t.Fatalf("%d clients after retain, want 1 (the dead peer keeps its client)", got)
	}
	if _, err := q.client.Call(ctx, transport.OpPing, nil); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("left peer's client Call = %v, want coordinator.ErrClosed", err)
	}
	p.close()
	if _, err := b.client.Call(ctx, transport.OpPing, nil); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Call after close = %v, want coordinator.ErrClosed", err)
	}
	if p.get("p", "127.0.0.1:2") != nil {
		t.Fatal("get after close created a client")
	}
}

// TestFailingNeverHidesAFailure: a failure recorded before a request
// loads the topology is in that topology, however many other outcomes
// are recorded at once (each publishes a copy of the health it read, so
// a lost update would drop a failure).
func TestFailingNeverHidesAFailure(t *testing.T) {
	n := &Node{cfg: testNodeConfig(t), now: time.Now, log: slog.New(slog.DiscardHandler)}
	ms := []membership.Member{{ID: "a", State: membership.Alive}, {ID: "b", State: membership.Alive}, {ID: "c", State: membership.Alive}}
	n.topo.Store(topology.New(topology.Spec{Self: membership.Member{ID: n.cfg.NodeID, State: membership.Alive},
		Members: ms, VNodes: 8, Health: topology.Health{Retry: time.Minute}}, nil))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				n.callFailed("b", time.Now())
				n.callSucceeded("b")
			}
		})
	}
	for i := range 5000 {
		n.callSucceeded("a")
		now := time.Now()
		n.callFailed("a", now)
		if down := n.topo.Load().Unhealthy(now); down == nil || !down("a") {
			close(stop)
			wg.Wait()
			t.Fatalf("check %d: a's failure recorded just before is not in the topology", i)
		}
	}
	close(stop)
	wg.Wait()
}

// TestNodeCoordinatorRecordLimit: a node's coordinator refuses records
// larger than one replica frame carries.
func TestNodeCoordinatorRecordLimit(t *testing.T) {
	ncfg := DefaultNodeConfig()
	if got := ncfg.coordinatorConfig(nil).MaxRecordBytes; got != transport.MaxRecordBytes(ncfg.Transport.MaxFrameBytes) {
		t.Fatalf("a node's coordinator limit %d, its frame's %d", got, transport.MaxRecordBytes(ncfg.Transport.MaxFrameBytes))
	}
}

// TestNodeLoopsFollowTheirTickers: the dirty-mark flush and the
// anti-entropy rounds run on their tickers' ticks, not on time: a mark
// noted is persisted after one flush tick (a second Dirty over the same
// engine sees it), and two anti-entropy ticks run two rounds.
func TestNodeLoopsFollowTheirTickers(t *testing.T) {
	cfg := testNodeConfig(t)
	cfg.Coordinator.N, cfg.Coordinator.R, cfg.Coordinator.W = 1, 1, 1
	flush, ae := await.NewTicker(), await.NewTicker()
	cfg.DirtyFlushTicker, cfg.AntiEntropy.NewTicker = flush.Start, ae.Start
	n, err := StartNode(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	n.Dirty().Note([][]byte{[]byte("k")})
	flush.Passes(t, 1)
	again, err := antientropy.NewDirty(cfg.Engine, func() int64 { return time.Now().UnixMilli() })
	if err != nil {
		t.Fatal(err)
	}
	if again.Len() != 1 {
		t.Fatalf("%d dirty marks persisted after a flush tick, want 1", again.Len())
	}
	before := n.Repairer().Stats().Rounds
	ae.Passes(t, 2)
	if got := n.Repairer().Stats().Rounds - before; got < 2 {
		t.Fatalf("%d rounds after two ticks", got)
	}
}

func memEngine(t *testing.T) *engine.Engine { return enginetest.Open(t) }
