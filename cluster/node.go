package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/ringcache/ringcache/antientropy"
	"github.com/ringcache/ringcache/cluster/consensus"
	"github.com/ringcache/ringcache/cluster/coordinator"
	"github.com/ringcache/ringcache/cluster/handoff"
	"github.com/ringcache/ringcache/cluster/layout"
	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/cluster/topology"
	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine/hlc"
)

// Node is a running cluster member. Create it with StartNode and stop it
// with Close; its methods are safe for concurrent use.
type Node struct {
	cfg   NodeConfig
	log   *slog.Logger
	now   func() time.Time
	local *replica.Local
	clock *hlc.Clock
	coord *coordinator.Coordinator

	rpc     *transport.Server
	rpcAddr string // advertised replica RPC address
	members *membership.Membership
	peers   *peerSet
	skew    *skewMonitor
	hints   *handoff.Manager // nil when hinted handoff is off
	dirty   *antientropy.Dirty
	// repairer runs anti-entropy; created once the first topology exists.
	repairer *antientropy.Repairer
	// catchup tells the local replica's reads whether this node may still
	// lack writes it missed (catchup.go).
	catchup *catchup
	// topo is the current topology (node_topology.go), published on
	// every change of membership or health and read by every request;
	// never nil after StartNode returns. topoMu serializes publishing.
	topo   topology.Current
	topoMu sync.Mutex
	// started is when StartNode began.
	started time.Time
	// seeded is membership's Seeded (a guess from the config until
	// membership runs); isolation depends on it.
	seeded atomic.Bool
	// announced is set once StartNode logged the isolation state the
	// node starts in; later changes are logged as they happen.
	announced atomic.Bool
	// keys caches the DBSIZE estimate INFO reports (node_keys.go).
	keys keyCount
	// streams caches the operation's streaming on every member that
	// TRANSFERS and INFO report (node_transfers.go).
	streams opStreams
	// forward runs the requests other nodes forward to this one as their
	// keys' primary (SetForwardHandler).
	forward atomic.Pointer[ForwardHandler]
	// isolatedRefusals counts requests refused while isolated.
	isolatedRefusals atomic.Int64
	// primaryHold is when this node takes the primary role of its keys
	// back after a restart, in nanoseconds since started (monotonic; see
	// standsBack), and joinedOnce is set by the first join exchange.
	primaryHold atomic.Int64
	joinedOnce  bool
	holdMu      sync.Mutex // serializes joined

	// The layout (node_layout.go, node_join.go, node_transition.go):
	// lay is the state the consensus log cons replicates; incarnation
	// identifies this node's data (drawn when its disk was empty).
	lay         *layoutMachine
	cons        *consensus.Log
	incarnation uint64
	// raftPeers maps the consensus ids of members that sent this node a
	// message to their node ids (for members the layout lacks yet).
	raftPeers sync.Map
	// departing is set once this node, Left, began handing over its
	// hints before it stops.
	departing atomic.Bool
	// joining is set once the join loop started.
	joining atomic.Bool
	// layoutCh is closed and replaced at every layout change; stageSeen
	// is the operation stage this node logged last ("" none).
	layoutMu  sync.Mutex
	layoutCh  chan struct{}
	stageSeen string
	// layoutLive is set once start published the first topology: layout
	// changes publish from then on.
	layoutLive atomic.Bool
	// advertised is the gossip node state last set.
	advertised atomic.Value
	// transfers is this node's part in the topology operation.
	transfers   transfers
	streamLimit *rate.Limiter
	// done is closed when the node stops on its own (Done, Err).
	done     chan struct{}
	doneOnce sync.Once
	doneErr  error

	// life is cancelled by Close; the skew loop runs under it.
	life context.Context
	stop context.CancelFunc
	// loops counts the goroutines the node starts itself: the transport
	// accept loop, the skew, flush and key count loops.
	loops     sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// StartNode binds the replica RPC address, starts serving the local
// engine to peers, starts the coordinator and joins the gossip. It
// returns once all of them run; joining the seeds continues in the
// background. On error everything started so far is stopped.
func StartNode(ctx context.Context, cfg NodeConfig) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	n := &Node{cfg: cfg, log: cfg.Logger, now: cfg.Now, started: cfg.Now()}
	n.layoutCh, n.done = make(chan struct{}), make(chan struct{})
	n.transfers.now = cfg.Now
	n.streamLimit = newStreamLimit(cfg.StreamRate)
	n.keys.kick = make(chan struct{}, 1)
	n.streams.kick = make(chan struct{}, 1)
	n.life, n.stop = context.WithCancel(context.Background())
	n.local = replica.NewLocal(cfg.Engine, cfg.Now)
	// One clock stamps this node's writes and travels in every frame to
	// and from its peers (transport.Config.Clock).
	n.clock = hlc.New(cfg.NodeID, cfg.Now)
	// Writes are stamped above the last flush even before a peer's frame
	// says so (engine/floor.go).
	n.clock.Observe(cfg.Engine.Floor())
	n.cfg.Transport.Clock = n.clock
	n.skew = newSkewMonitor(cfg.MaxClockSkew, cfg.SkewWarnEvery, cfg.Now, cfg.Logger)
	n.peers = newPeerSet(n.cfg, n.observe)
	// Whether the engine started empty is read before anything can write.
	n.catchup = newCatchup(n, cfg.Engine.LiveRecords() == 0)
	n.local.SetCatching(n.catchup)
	n.local.SetEpoch(&n.topo)
	n.peers.failed, n.peers.succeeded = n.callFailed, n.callSucceeded
	if err := n.start(); err != nil {
		n.Close()
		return nil, err
	}
	n.loops.Add(5)
	go n.skewLoop()
	go n.flushLoop()
	go n.keyCountLoop()
	go n.streamsLoop()
	go n.transitionLoop()
	n.catchup.start()
	t := n.topo.Load()
	n.log.Info("cluster: node started", "id", cfg.NodeID, "client", cfg.ClientAddr,
		"cluster", n.rpcAddr, "gossip", n.members.LocalNode().GossipAddr,
		"ring_members", len(t.IDs()), "ring_digest", t.Ring().Digest())
	n.announceIsolation()
	return n, nil
}

// start brings up the transport server, the coordinator and membership,
// in that order: a peer that learns of this node through gossip can
// reach it at once, and the first ring is installed before the gossip
// can report changes.
func (n *Node) start() error {
	if err := n.startHandoff(); err != nil {
		return err
	}
	if err := n.openLayout(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", n.cfg.ClusterListen)
	if err != nil {
		return fmt.Errorf("cluster: listen %s: %w", n.cfg.ClusterListen, err)
	}
	n.rpcAddr = n.cfg.ClusterAdvertise
	if n.rpcAddr == "" {
		n.rpcAddr = ln.Addr().String()
	}
	mux := replica.NewHandler(n.local, n.now)
	n.handleLayout(mux)
	n.handleForward(mux)
	var h transport.Handler = mux
	if n.cfg.WrapHandler != nil {
		h = n.cfg.WrapHandler(h)
	}
	srv, err := transport.NewServer(h, n.cfg.transportConfig())
	if err != nil {
		_ = ln.Close()
		return err
	}
	n.rpc = srv
	n.loops.Add(1)
	go func() {
		defer n.loops.Done()
		if err := srv.Serve(ln); !errors.Is(err, transport.ErrClosed) {
			n.log.Error("cluster: replica server stopped", "err", err)
		}
	}()

	cc := n.cfg.coordinatorConfig(&n.topo)
	cc.Clock = n.clock
	if n.hints != nil {
		cc.Hints = n.hints
	}
	if n.coord, err = coordinator.New(cc); err != nil {
		return err
	}
	// The first ring is the one the last run knew; until gossip reports,
	// every other member counts as down.
	known := n.loadMembers()
	n.seeded.Store(n.cfg.seededGuess())
	n.rebuild(known)
	if err := n.startAntiEntropy(); err != nil {
		return err
	}

	if membership.KnowsOthers(known, n.cfg.NodeID) {
		// Other members may count this node down from its last run:
		// hold back from the primary role until a join tells.
		n.holdPrimary(restartHoldMax)
	}
	mc := n.cfg.membershipConfig(n.rpcAddr, known, n.rebuild)
	mc.OnJoin = n.joined
	mc.NodeState = gossipNew
	if n.member() {
		mc.NodeState = gossipMember
	}
	n.advertised.Store(mc.NodeState)
	ms, err := membership.Start(mc)
	if err != nil {
		return err
	}
	// The first OnChange call, already queued, carries the initial list.
	n.members = ms
	n.seeded.Store(ms.Seeded())
	n.reassess()
	n.layoutLive.Store(true)
	if n.left() {
		// Restarted after it left for good: nothing to serve.
		n.stopWith(fmt.Errorf("%w: this node left the cluster for good; start a new node with a new --node-id and an empty data directory", ErrNotJoined))
	}
	if err := n.startLayout(); err != nil {
		return err
	}
	n.layoutChanged(n.lay.current())
	return nil
}

// loadMembers returns the member list persisted by the last run. A list
// that cannot be read is logged and ignored: the node then knows its
// seeds only, and stays isolated until it reaches one.
func (n *Node) loadMembers() []membership.Member {
	known, err := membership.LoadRoster(n.cfg.Engine)
	if err != nil {
		n.log.Warn("cluster: ignoring the persisted member list", "err", err)
		return nil
	}
	return known
}

// selfMember describes this node before membership knows it.
func (n *Node) selfMember() membership.Member {
	return membership.Member{
		ID:          n.cfg.NodeID,
		ClientAddr:  n.cfg.ClientAddr,
		ClusterAddr: n.rpcAddr,
		VNodes:      n.cfg.Membership.VNodes,
		NodeState:   membership.NodeNormal,
		State:       membership.Alive,
	}
}

// flushLoop persists the anti-entropy dirty marks every
// DirtyFlushInterval until Close.
func (n *Node) flushLoop() {
	defer n.loops.Done()
	var ticks <-chan time.Time
	if n.cfg.DirtyFlushTicker != nil {
		c, stop := n.cfg.DirtyFlushTicker(n.cfg.DirtyFlushInterval)
		defer stop()
		ticks = c
	} else {
		t := time.NewTicker(n.cfg.DirtyFlushInterval)
		defer t.Stop()
		ticks = t.C
	}
	for {
		select {
		case <-n.life.Done():
			return
		case <-ticks:
			if err := n.dirty.Flush(); err != nil {
				n.log.Warn("cluster: persist dirty marks", "err", err)
			}
		}
	}
}

// ID returns the node id.
func (n *Node) ID() string { return n.cfg.NodeID }

// ClusterAddr returns the advertised replica RPC address.
func (n *Node) ClusterAddr() string { return n.rpcAddr }

// GossipAddr returns the address the node gossips on.
func (n *Node) GossipAddr() string { return n.members.LocalNode().GossipAddr }

// Coordinator returns the node's coordinator.
func (n *Node) Coordinator() *coordinator.Coordinator { return n.coord }

// Members returns every member this node knows (in this run or, through
// the persisted list, an earlier one), sorted by id, with its liveness as
// gossip reports it.
func (n *Node) Members() []membership.Member { return n.topo.Load().Members() }

// RingDigest fingerprints the current ring: members that agree on the
// member list compute the same digest.
func (n *Node) RingDigest() uint64 { return n.topo.Load().Ring().Digest() }

// Close stops everything the node started, in the order the file
// comment gives, without leaving the cluster: the other members see this
// node dead and keep its place in the ring until it returns (a node the
// layout has Left says goodbye to gossip too). The engine stays open.
// Idempotent; later calls (and Leave) return the first call's result.
func (n *Node) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.Membership.LeaveTimeout)
	defer cancel()
	return n.closeWith(ctx)
}

// closeWith stops the node once, for Close and Leave alike: a node the
// layout has Left says goodbye to gossip as well, bounded by ctx; any
// other stops as for a restart. Later calls return the first call's
// result.
func (n *Node) closeWith(ctx context.Context) error {
	n.closeOnce.Do(func() { n.closeErr = n.shutdown(ctx, n.lay != nil && n.left()) })
	return n.closeErr
}

// Leave takes this node out of the cluster for good (StartLeave), waits
// until the others have streamed its ranges and the layout has it Left,
// or ctx ends, then stops as Close does: it announces the departure to
// gossip only if the layout has it Left. A leave that failed or did not
// finish in time stops the node as a restart would, and the others see
// it dead and keep its place, hints and replicas until it returns or is
// removed; a goodbye would have them take it for gone while the layout
// still has it own its ranges. A restart or a crash is not a departure.
func (n *Node) Leave(ctx context.Context) error {
	err := n.StartLeave(ctx)
	if err == nil {
		err = n.awaitLeft(ctx)
	}
	return errors.Join(err, n.closeWith(ctx))
}

// StartLeave proposes this node's departure (RINGCACHE LEAVE) and
// returns once the layout has it leaving; Done is closed when it has
// left. Another operation in progress is waited for until ctx ends.
func (n *Node) StartLeave(ctx context.Context) error {
	return n.proposeOp(ctx, layout.Command{Kind: layout.CmdLeave, Node: n.cfg.NodeID})
}

// awaitLeft waits until the layout has this node Left.
func (n *Node) awaitLeft(ctx context.Context) error {
	for {
		ch := n.layoutUpdated()
		if _, ok := n.lay.current().Member(n.cfg.NodeID); !ok || n.left() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: leave: %w", ctx.Err())
		case <-ch:
		}
	}
}

// shutdown stops the node; with leave it leaves the cluster first, its
// goodbye bounded by ctx.
func (n *Node) shutdown(ctx context.Context, leave bool) error {
	var errs []error
	if n.catchup != nil {
		n.catchup.close()
	}
	if n.members != nil {
		if leave {
			// A goodbye nobody acknowledged (the peers are gone or slow)
			// is not a failure to stop; peers that missed it declare the
			// node dead instead of left.
			if err := n.members.Leave(ctx); err != nil {
				n.log.Warn("cluster: leaving the cluster", "err", err)
			}
		} else if err := n.members.Close(); err != nil {
			n.log.Warn("cluster: stopping gossip", "err", err)
		}
	}
	n.stop()
	if n.cons != nil {
		if err := n.cons.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if n.repairer != nil {
		if err := n.repairer.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if n.coord != nil {
		if err := n.coord.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if n.hints != nil {
		if err := n.hints.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	n.peers.close()
	if n.rpc != nil {
		if err := n.rpc.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	n.loops.Wait()
	if n.dirty != nil {
		if err := n.dirty.Flush(); err != nil {
			errs = append(errs, err)
		}
	}
	n.log.Info("cluster: node closed", "id", n.cfg.NodeID)
	return errors.Join(errs...)
}
