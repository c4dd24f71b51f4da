package clustertest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/bench/await"
	"github.com/ringcache/ringcache/bench/loopback"
	"github.com/ringcache/ringcache/cluster"
	"github.com/ringcache/ringcache/cluster/coordinator"
	"github.com/ringcache/ringcache/cluster/layout"
	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/server"
)

// Options configures a Cluster. The zero value is a usable default.
type Options struct {
	// N, R and W are every node's replication factor and quorums.
	// Defaults 3, 2, 2.
	N, R, W int
	// Timeout bounds each client request. Default 1s: the race detector
	// on a busy machine slows a request several times over.
	Timeout time.Duration
	// VNodes is every node's token count. Default 64.
	VNodes int
	// Secret is the cluster secret of every node. Default "".
	Secret string
	// Seeds returns the indexes of node i's seeds. Default: node 0 for
	// every node.
	Seeds func(i int) []int
	// Deferred lists nodes New does not start; Start starts them.
	Deferred []int
	// Configure, if set, edits node i's config before every start of it
	// (after the harness filled it in).
	Configure func(i int, cfg *cluster.NodeConfig)
	// Engine, if set, edits node i's engine config before every start of
	// it (after the harness filled it in).
	Engine func(i int, cfg *engine.Config)
	// Logger receives every node's logs. Default: discarded, unless the
	// environment sets CLUSTERTEST_LOG=1 (then text on stderr).
	Logger *slog.Logger
	// Wait bounds every wait of the harness. Default 45s: a wait ends
	// as soon as its condition holds, and a loaded machine running the
	// race detector forms and heals clusters many times slower.
	Wait time.Duration
}

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.N, 3)
	def(&o.R, 2)
	def(&o.W, 2)
	def(&o.VNodes, 64)
	if o.Timeout == 0 {
		o.Timeout = time.Second
	}
	if o.Wait == 0 {
		o.Wait = 45 * time.Second
	}
	if o.Seeds == nil {
		o.Seeds = func(int) []int { return []int{0} }
	}
	if o.Logger == nil {
		if os.Getenv("CLUSTERTEST_LOG") != "" {
			o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		} else {
			o.Logger = slog.New(slog.DiscardHandler)
		}
	}
}

// Cluster is a set of in-process nodes. Its methods must be called from
// the test's goroutine (they fail the test with t.Fatal), except the
// read-only accessors, which are safe anywhere.
type Cluster struct {
	t      testing.TB
	opts   Options
	faults *Faults
	nodes  []*member

	addrs struct {
		sync.Mutex
		// of holds each node's addresses; empty until the node first
		// started (or, for gossip, until another node needed it as a
		// seed), then fixed for good.
		of []addrs
	}
}

// addrs are one node's listening addresses, and the id it runs under
// there (set once it started).
type addrs struct{ client, rpc, gossip, id string }

// member is one node slot: its fixed data directory, and the running
// parts while started.
type member struct {
	idx int
	dir string

	mu struct {
		sync.Mutex
		id     string
		eng    *engine.Engine
		node   *cluster.Node
		srv    *server.Server
		served chan struct{} // closed when srv.Serve returned
		redis  *redis.Client
	}
}

// New starts n nodes (except opts.Deferred) and waits until every started
// node sees all started nodes alive and has caught up. Everything stops on t.Cleanup.
func New(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	opts.defaults()
	if os.Getenv("CLUSTERTEST_LOG") != "" {
		opts.Logger = opts.Logger.With("test", t.Name())
	}
	c := &Cluster{t: t, opts: opts, faults: newFaults()}
	c.addrs.of = make([]addrs, n)
	for i := range n {
		m := &member{idx: i, dir: filepath.Join(t.TempDir(), "node"+strconv.Itoa(i))}
		m.mu.id = "n" + strconv.Itoa(i)
		c.nodes = append(c.nodes, m)
	}
	t.Cleanup(c.stopAll)
	var started []int
	for i := range n {
		if slices.Contains(opts.Deferred, i) {
			continue
		}
		if err := c.Start(i); err != nil {
			t.Fatalf("clustertest: start node %d: %v", i, err)
		}
		started = append(started, i)
	}
	if len(started) > 0 {
		c.WaitMembers(len(started), started...)
		c.WaitCaughtUp(started...)
	}
	return c
}

// WaitCaughtUp waits until none of nodes (every running node if none are
// named) is catching up: each has heard from its peers, so the state a
// test sets up next is not read against a node still asking what it
// missed at start.
func (c *Cluster) WaitCaughtUp(nodes ...int) {
	c.t.Helper()
	if len(nodes) == 0 {
		nodes = c.Running()
	}
	c.Eventually(fmt.Sprintf("nodes %v to catch up", nodes), func() error {
		for _, i := range nodes {
			n := c.Node(i)
			if n == nil {
				return fmt.Errorf("node %d is stopped", i)
			}
			if n.CatchingUp() {
				return fmt.Errorf("node %d is catching up", i)
			}
		}
		return nil
	})
}

// Faults returns the fault injector between the nodes.
func (c *Cluster) Faults() *Faults { return c.faults }

// Len returns the number of node slots.
func (c *Cluster) Len() int { return len(c.nodes) }

// ID returns node i's id.
func (c *Cluster) ID(i int) string {
	m := c.nodes[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.id
}

// Index returns the index of the node with id, or -1.
func (c *Cluster) Index(id string) int {
	for i := range c.nodes {
		if c.ID(i) == id {
			return i
		}
	}
	return -1
}

// Node returns node i, nil while it is stopped.
func (c *Cluster) Node(i int) *cluster.Node {
	m := c.nodes[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.node
}

// Engine returns node i's engine, nil while it is stopped: tests use it
// to put a replica in a state no client request would (a record only it
// holds).
func (c *Cluster) Engine(i int) *engine.Engine {
	m := c.nodes[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.eng
}

// Client returns a go-redis client of node i's RESP server, nil while
// the node is stopped. The harness closes it.
func (c *Cluster) Client(i int) *redis.Client {
	m := c.nodes[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.redis
}

// ClientAddr returns node i's RESP address ("" before its first start).
func (c *Cluster) ClientAddr(i int) string { return c.addrsOf(i).client }

// GossipAddr returns node i's gossip address ("" before its first start,
// unless another node has it as a seed).
func (c *Cluster) GossipAddr(i int) string { return c.addrsOf(i).gossip }

func (c *Cluster) addrsOf(i int) addrs {
	c.addrs.Lock()
	defer c.addrs.Unlock()
	return c.addrs.of[i]
}

// seedAddr returns node i's gossip address, reserving a free port for it
// if it never ran: its seeders need the address before it exists.
func (c *Cluster) seedAddr(i int) (string, error) {
	c.addrs.Lock()
	defer c.addrs.Unlock()
	if a := c.addrs.of[i].gossip; a != "" {
		return a, nil
	}
	a, err := loopback.Addr()
	if err != nil {
		return "", err
	}
	c.addrs.of[i].gossip = a
	return a, nil
}

// setAddrs records where node i listens, fixing it for restarts.
func (c *Cluster) setAddrs(i int, a addrs) {
	c.addrs.Lock()
	defer c.addrs.Unlock()
	c.addrs.of[i] = a
}

// orAny returns addr, or a free loopback address if it is empty (one a
// restart can bind again: loopback.Addr; port 0 if none is found).
func orAny(addr string) string {
	if addr != "" {
		return addr
	}
	if a, err := loopback.Addr(); err == nil {
		return a
	}
	return "127.0.0.1:0"
}

// Running returns the indexes of the started nodes.
func (c *Cluster) Running() []int {
	var out []int
	for i := range c.nodes {
		if c.Node(i) != nil {
			out = append(out, i)
		}
	}
	return out
}

// config returns node i's configuration, its RESP server listening on
// clientAddr.
func (c *Cluster) config(m *member, eng *engine.Engine, clientAddr string, seeds []string) cluster.NodeConfig {
	o := c.opts
	a := c.addrsOf(m.idx)
	cfg := cluster.DefaultNodeConfig()
	cfg.NodeID = m.mu.id
	cfg.ClientAddr = clientAddr
	cfg.ClusterListen = orAny(a.rpc)
	cfg.GossipListen = orAny(a.gossip)
	cfg.Seeds = seeds
	cfg.Secret = o.Secret
	cc := &cfg.Coordinator
	cc.N, cc.R, cc.W, cc.Timeout = o.N, o.R, o.W, o.Timeout
	cfg.Membership.VNodes = o.VNodes
	cfg.Engine = eng
	cfg.Logger = o.Logger.With("node", m.mu.id)
	cfg.SkewInterval = 200 * time.Millisecond
	mc := &cfg.Membership
	mc.RejoinInterval = 300 * time.Millisecond
	mc.JoinBackoffMin = 20 * time.Millisecond
	mc.JoinBackoffMax = 200 * time.Millisecond
	// Failure detection a few times faster than the defaults, with room
	// for a probe's answer to wait on a busy machine: a node that misses
	// probes goes suspect, and on a loaded CI machine with the race
	// detector 100ms was not enough.
	mc.ProbeInterval = 400 * time.Millisecond
	mc.ProbeTimeout = 250 * time.Millisecond
	mc.SuspicionMult = 4
	mc.SuspicionMaxTimeoutMult = 6
	mc.GossipInterval = 20 * time.Millisecond
	mc.PushPullInterval = 1 * time.Second
	mc.GossipToTheDeadTime = 2 * time.Second
	mc.DeadNodeReclaimTime = 500 * time.Millisecond
	mc.TCPTimeout = 1 * time.Second
	mc.LeaveTimeout = time.Second
	// Anti-entropy runs when a test asks (RINGCACHE REPAIR) unless it
	// turns the loop on.
	cfg.AntiEntropy.Interval = 0
	// Topology operations: joins of an empty cluster go through their
	// stages in a few hundred milliseconds.
	cfg.JoinRetry = 50 * time.Millisecond
	cfg.TransitionInterval = 50 * time.Millisecond
	cfg.Transport.DialTimeout = time.Second
	cfg.Transport.MinBackoff = 5 * time.Millisecond
	cfg.Transport.MaxBackoff = 100 * time.Millisecond
	if o.Configure != nil {
		o.Configure(m.idx, &cfg)
	}
	from := cfg.NodeID
	wrap := cfg.WrapCaller
	cfg.WrapCaller = func(to string, cl transport.Caller) transport.Caller {
		if wrap != nil {
			cl = wrap(to, cl)
		}
		return c.faults.Wrap(from, to, cl)
	}
	wrapGossip := cfg.WrapGossip
	cfg.WrapGossip = func(t memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
		if wrapGossip != nil {
			t = wrapGossip(t)
		}
		return c.faults.WrapGossip(from, c.idAtGossip, t)
	}
	return cfg
}

// idAtGossip returns the id of the node gossiping on addr, "" if none.
func (c *Cluster) idAtGossip(addr string) string {
	c.addrs.Lock()
	defer c.addrs.Unlock()
	for _, a := range c.addrs.of {
		if a.gossip == addr {
			return a.id
		}
	}
	return ""
}

// Start starts node i (engine, node, RESP server, client) and returns
// without waiting for it to join. It fails if the node runs already.
func (c *Cluster) Start(i int) error {
	var seeds []string
	for _, s := range c.opts.Seeds(i) {
		if s == i && c.GossipAddr(i) == "" {
			continue // its own address is not known yet, and not needed
		}
		a, err := c.seedAddr(s)
		if err != nil {
			return err
		}
		seeds = append(seeds, a)
	}
	m := c.nodes[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.node != nil {
		return fmt.Errorf("clustertest: node %d already running", i)
	}
	// The RESP listener comes first: the node advertises its address.
	ln, err := net.Listen("tcp", orAny(c.addrsOf(i).client))
	if err != nil {
		return err
	}
	if err := c.startLocked(m, ln, seeds); err != nil {
		_ = ln.Close()
		return err
	}
	return nil
}

// startLocked starts node m serving RESP on ln; m.mu is held.
func (c *Cluster) startLocked(m *member, ln net.Listener, seeds []string) error {
	ecfg := engine.DefaultConfig()
	ecfg.Dir = m.dir
	ecfg.Fsync = engine.FsyncNo
	ecfg.CacheBytes, ecfg.MemTableBytes, ecfg.RowCacheBytes = 4<<20, 2<<20, 4<<20
	ecfg.Logger = c.opts.Logger.With("node", m.mu.id)
	// Tombstone purge asks the node, as the binary wires it.
	var running atomic.Pointer[cluster.Node]
	ecfg.PurgeAllowed = func(key []byte, r engine.Record, storedAt int64) bool {
		n := running.Load()
		return n != nil && n.PurgeAllowed(key, r, storedAt)
	}
	if c.opts.Engine != nil {
		c.opts.Engine(m.idx, &ecfg)
	}
	eng, err := engine.Open(ecfg)
	if err != nil {
		return err
	}
	cfg := c.config(m, eng, ln.Addr().String(), seeds)
	m.mu.id = cfg.NodeID
	node, err := cluster.StartNode(context.Background(), cfg)
	if err != nil {
		_ = eng.Close()
		return err
	}
	running.Store(node)
	scfg := server.DefaultConfig()
	scfg.Addr = cfg.ClientAddr
	scfg.Logger = cfg.Logger
	scfg.Consistency = coordinator.ConsistencyContext
	scfg.ForwardTimeout = cfg.Coordinator.Timeout
	srv, err := server.New(scfg, node)
	if err != nil {
		_ = node.Close()
		_ = eng.Close()
		return err
	}
	node.SetForwardHandler(srv.ServeForward)
	c.setAddrs(m.idx, addrs{client: cfg.ClientAddr, rpc: node.ClusterAddr(), gossip: node.GossipAddr(), id: cfg.NodeID})
	m.mu.served = make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		_ = srv.Serve(ln)
	}(m.mu.served)
	m.mu.eng, m.mu.node, m.mu.srv = eng, node, srv
	m.mu.redis = redis.NewClient(&redis.Options{
		Addr: cfg.ClientAddr, Protocol: 2, MaxRetries: -1,
		DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
	})
	return nil
}

// Wipe stops node i if it runs and deletes its data, as a disk loss
// would; Start brings it back empty under the same id.
func (c *Cluster) Wipe(i int) {
	c.t.Helper()
	if err := c.stop(i); err != nil {
		c.t.Errorf("clustertest: stop node %d: %v", i, err)
	}
	m := c.nodes[i]
	if err := os.RemoveAll(m.dir); err != nil {
		c.t.Fatalf("clustertest: wipe node %d: %v", i, err)
	}
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		c.t.Fatalf("clustertest: wipe node %d: %v", i, err)
	}
}

// Stop stops node i gracefully, as SIGTERM does: its RESP server, then
// the node (which stops gossiping without leaving: the others see it
// dead and keep it in the ring), then its engine. The data directory
// stays for Restart. Stopping a stopped node does nothing.
func (c *Cluster) Stop(i int) {
	c.t.Helper()
	if err := c.stop(i); err != nil {
		c.t.Errorf("clustertest: stop node %d: %v", i, err)
	}
}

// Leave makes node i leave the cluster for good (cluster.Node.Leave), then
// stops it like Stop: the others see it Left and drop it from the ring.
func (c *Cluster) Leave(i int) {
	c.t.Helper()
	if err := c.stopWith(i, func(n *cluster.Node) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return n.Leave(ctx)
	}); err != nil {
		c.t.Errorf("clustertest: leave node %d: %v", i, err)
	}
}

func (c *Cluster) stop(i int) error {
	return c.stopWith(i, (*cluster.Node).Close)
}

// stopWith stops node i, stopping the node itself with closeNode.
func (c *Cluster) stopWith(i int, closeNode func(*cluster.Node) error) error {
	m := c.nodes[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.node == nil {
		return nil
	}
	var errs []error
	_ = m.mu.redis.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.mu.srv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("resp shutdown: %w", err))
	}
	<-m.mu.served
	if err := closeNode(m.mu.node); err != nil {
		errs = append(errs, fmt.Errorf("node close: %w", err))
	}
	if err := m.mu.eng.Close(); err != nil {
		errs = append(errs, fmt.Errorf("engine close: %w", err))
	}
	m.mu.eng, m.mu.node, m.mu.srv, m.mu.redis = nil, nil, nil, nil
	return errors.Join(errs...)
}

// Restart stops node i if it runs and starts it again with the same id,
// data directory and addresses, then waits until it and every other
// running node see each other.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.Stop(i)
	if err := c.Start(i); err != nil {
		c.t.Fatalf("clustertest: restart node %d: %v", i, err)
	}
	run := c.Running()
	c.WaitMembers(len(run), run...)
}

// stopAll stops every node, in parallel.
func (c *Cluster) stopAll() {
	var wg sync.WaitGroup
	for i := range c.nodes {
		wg.Go(func() {
			if err := c.stop(i); err != nil {
				c.t.Errorf("clustertest: stop node %d: %v", i, err)
			}
		})
	}
	wg.Wait()
}

// Partition cuts the replica RPCs between the two groups of nodes (by
// index) in both directions. Gossip is not affected.
func (c *Cluster) Partition(groupA, groupB []int) {
	c.faults.Cut(c.ids(groupA), c.ids(groupB))
}

// Isolate cuts node i off from every other node.
func (c *Cluster) Isolate(i int) {
	var rest []int
	for j := range c.nodes {
		if j != i {
			rest = append(rest, j)
		}
	}
	c.Partition([]int{i}, rest)
}

// CutGossip cuts gossip from the nodes in from to the nodes in to (by
// index), one way: see Faults.CutGossip. Replica RPCs are not affected.
func (c *Cluster) CutGossip(from, to []int) {
	c.faults.CutGossip(c.ids(from), c.ids(to))
}

// IsolateGossip cuts node i's gossip with every other node: both ways
// when both is set, else only what node i sends.
func (c *Cluster) IsolateGossip(i int, both bool) {
	var rest []int
	for j := range c.nodes {
		if j != i {
			rest = append(rest, j)
		}
	}
	c.CutGossip([]int{i}, rest)
	if both {
		c.CutGossip(rest, []int{i})
	}
}

// Heal removes every fault, gossip cuts included.
func (c *Cluster) Heal() { c.faults.Heal() }

// Drop makes replica calls to node i hang until they time out.
func (c *Cluster) Drop(i int, drop bool) { c.faults.Drop(c.ID(i), drop) }

// Delay delays replica calls to node i by d.
func (c *Cluster) Delay(i int, d time.Duration) { c.faults.Delay(c.ID(i), d) }

func (c *Cluster) ids(idx []int) []string {
	out := make([]string, len(idx))
	for k, i := range idx {
		out[k] = c.ID(i)
	}
	return out
}

// WaitMembers waits until each of the given nodes (default: every running
// node) sees exactly want alive members, no suspect one, no dead one
// apart from nodes that are stopped, and all of them agree on the ring
// digest.
func (c *Cluster) WaitMembers(want int, nodes ...int) {
	c.t.Helper()
	if len(nodes) == 0 {
		nodes = c.Running()
	}
	stopped := map[string]bool{}
	for i := range c.nodes {
		if c.Node(i) == nil {
			stopped[c.ID(i)] = true
		}
	}
	c.Eventually(fmt.Sprintf("nodes %v to see %d alive members and agree on the ring", nodes, want), func() error {
		var digest uint64
		for k, i := range nodes {
			n := c.Node(i)
			if n == nil {
				return fmt.Errorf("node %d is stopped", i)
			}
			alive := 0
			lay := n.Layout()
			for _, m := range n.Members() {
				if lm, ok := lay.Member(m.ID); ok && lm.State == layout.Left {
					continue // gone for good, whatever gossip last heard
				}
				switch {
				case m.State == membership.Alive:
					alive++
				case m.State == membership.Suspect, m.State == membership.Dead && !stopped[m.ID]:
					return fmt.Errorf("node %d sees %s %s", i, m.ID, m.State)
				}
			}
			if alive != want {
				return fmt.Errorf("node %d sees %d alive members", i, alive)
			}
			if err := c.settled(n, nodes); err != nil {
				return fmt.Errorf("node %d: %w", i, err)
			}
			if d := n.RingDigest(); k == 0 {
				digest = d
			} else if d != digest {
				return fmt.Errorf("node %d ring digest %x differs from node %d's %x", i, d, nodes[0], digest)
			}
		}
		return nil
	})
}

// settled reports why n's layout is not yet the settled layout of the
// nodes: each of them a normal member, no operation in progress.
func (c *Cluster) settled(n *cluster.Node, nodes []int) error {
	l := n.Layout()
	if l.Op != nil {
		return fmt.Errorf("topology operation %s of %s at %s", l.Op.Kind, l.Op.Node, l.Op.Stage)
	}
	for _, j := range nodes {
		if m, ok := l.Member(c.ID(j)); !ok || m.State != layout.Normal {
			return fmt.Errorf("the layout does not have node %d normal", j)
		}
	}
	return nil
}

// WaitDown waits until every running node sees node i dead: it stopped
// (or is cut off) and failure detection has noticed. A stopped node is
// never Left; seeing it so fails the test.
func (c *Cluster) WaitDown(i int) {
	c.t.Helper()
	id := c.ID(i)
	c.Eventually(fmt.Sprintf("node %d seen dead", i), func() error {
		for _, j := range c.Running() {
			if j == i {
				continue
			}
			for _, m := range c.Node(j).Members() {
				if m.ID != id {
					continue
				}
				if m.State == membership.Left {
					c.t.Fatalf("clustertest: node %d sees node %d as left", j, i)
				}
				if m.State != membership.Dead {
					return fmt.Errorf("node %d sees %s %s", j, id, m.State)
				}
			}
		}
		return nil
	})
}

// Eventually retries cond until it returns nil, failing the test with the
// last error once the harness's wait deadline (Options.Wait) passes.
func (c *Cluster) Eventually(what string, cond func() error) {
	c.t.Helper()
	await.T(c.t, c.opts.Wait, what, cond)
}
