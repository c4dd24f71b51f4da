package cluster

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/ringcache/ringcache/antientropy"
	"github.com/ringcache/ringcache/cluster/consensus"
	"github.com/ringcache/ringcache/cluster/coordinator"
	"github.com/ringcache/ringcache/cluster/handoff"
	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/topology"
	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
)

// NodeConfig configures a Node. Start from DefaultNodeConfig.
type NodeConfig struct {
	// NodeID names this node; stable across restarts (ring tokens derive
	// from it) and unique in the cluster. Required.
	NodeID string
	// ClientAddr is the RESP address clients reach this node on, as
	// advertised to the other members (RINGCACHE NODES). Required.
	ClientAddr string
	// ClusterListen is the replica RPC bind address (host:port; port 0
	// picks a free one). Default "127.0.0.1:7380".
	ClusterListen string
	// ClusterAdvertise is the replica RPC address peers are told. Default
	// (""): the address ClusterListen bound; set it when binding 0.0.0.0.
	ClusterAdvertise string
	// GossipListen is the memberlist bind address (TCP and UDP; port 0
	// picks a free one). Default "127.0.0.1:7946".
	GossipListen string
	// Seeds are gossip addresses of members to join through. Default
	// none: the node starts a cluster of its own.
	Seeds []string
	// Secret, when set, encrypts gossip and authenticates replica RPC
	// connections; members must share it. Default "" (neither).
	Secret string
	// ClusterName separates clusters sharing a network: it labels gossip
	// and is checked in the RPC handshake. Default "ringcache".
	ClusterName string
	// Coordinator holds the request knobs: N, R, W, Timeout (which also
	// bounds a clock-skew ping and a catch-up question), FlushTimeout,
	// ReadSpeculation, RepairWorkers and Fallbacks. The node sets the
	// rest (Self, Logger, Now, Clock, Topology, Sloppy, Hints,
	// MaxRecordBytes). Default DefaultConfig().
	Coordinator coordinator.Config
	// Membership holds the gossip knobs: VNodes (this node's token count
	// on the ring), the join and rejoin intervals, memberlist's probe,
	// suspicion, gossip and push-pull timing, and the TCP and leave
	// timeouts. The node sets the rest (NodeID, the addresses, Seeds,
	// Secret, ClusterName, Known, Store, WrapTransport, Logger,
	// OnChange). Default membership.DefaultConfig(); tests shorten it.
	Membership membership.Config
	// MaxClockSkew is how far this node's clock may run ahead of a peer's
	// before it warns. Default 500ms.
	MaxClockSkew time.Duration
	// SkewInterval is the period of the clock-skew pings; the first round
	// starts at a random offset within it. Default 5s.
	SkewInterval time.Duration
	// SkewWarnEvery rate-limits the skew warning: at most one per peer per
	// period. Default 1m.
	SkewWarnEvery time.Duration
	// Engine is the local store. Required; the caller closes it after
	// Close.
	Engine *engine.Engine
	// Logger receives node, membership, transport and coordinator events.
	// Default (nil): discard.
	Logger *slog.Logger
	// Now is the wall clock: versions, expiry, and the time this node
	// reports to peers' pings. Default (nil): time.Now.
	Now func() time.Time
	// WrapGossip, if set, wraps this node's gossip transport, e.g. to
	// inject faults in tests (membership.Config.WrapTransport). Default
	// nil.
	WrapGossip func(memberlist.NodeAwareTransport) memberlist.NodeAwareTransport
	// KeyCountMaxAge is how old the key count INFO reports (the DBSIZE
	// estimate, which asks every member) may be before reading it starts
	// a refresh in the background. INFO never waits for peers. Default 2s.
	KeyCountMaxAge time.Duration
	// Transport holds the replica transport's local knobs (frame limit,
	// connections per peer, timeouts, backoff). Its Secret, ClusterName,
	// Logger and Observe are overwritten from this config. Default
	// transport.DefaultConfig().
	Transport transport.Config
	// ObserveRPC, if set, is called after every replica RPC to a peer with
	// the peer's id, the operation, the latency and the error (nil on
	// success). It runs on the caller's goroutine and must be cheap: it is
	// the hook for per-peer latency metrics. Default nil.
	ObserveRPC func(peer string, op uint8, d time.Duration, err error)
	// WrapCaller, if set, wraps the transport client of each peer, e.g.
	// to inject faults in tests. Called once per client created. Default
	// nil.
	WrapCaller func(peerID string, c transport.Caller) transport.Caller
	// WrapHandler, if set, wraps the handler that serves this node's
	// replica to its peers, e.g. to make handlers hang in tests. Called
	// once, at start. Default nil.
	WrapHandler func(h transport.Handler) transport.Handler
	// HintedHandoff enables sloppy quorum and hinted handoff: writes for
	// an unhealthy owner go to the next healthy node as hints and are
	// handed over when the owner returns. Off: requests use the owners
	// only. Default true.
	HintedHandoff bool
	// Handoff holds the hint knobs (ReplayRate, MaxWindow, MaxBytes,
	// RetryInterval, batch sizes, Timeout); its Store, Cluster, Logger
	// and Now are set by the node. Default handoff.DefaultConfig().
	Handoff handoff.Config
	// HealthRetry is how long a peer whose RPC failed counts as unhealthy
	// (requests route around it) before requests try it again. Default 1s.
	HealthRetry time.Duration
	// AntiEntropy holds the repair knobs: Interval (the period of the
	// background rounds; 0 turns the loop off, RINGCACHE REPAIR still
	// runs a round), Rate, Timeout, ProofMargin, Limits and NewTicker
	// (tests pace the rounds with a ticker they drive). The node sets the
	// rest (Store, Meta, Ring, Dirty, Logger, Now, MinReplicas and
	// Limits.MaxRecordBytes). Default antientropy.DefaultConfig().
	AntiEntropy antientropy.Config
	// DirtyFlushInterval is how often the anti-entropy dirty marks are
	// persisted. Default 5s.
	DirtyFlushInterval time.Duration
	// NoJoin keeps an empty node from joining a cluster when it starts
	// (RINGCACHE JOIN joins it later). Default false: an empty node with
	// seeds joins, one without founds a cluster.
	NoJoin bool
	// Replace names a dead member this empty node takes the place of:
	// its tokens, streamed from the surviving replicas. Default "".
	Replace string
	// JoinRetry is the pause between two attempts to join. Default 300ms.
	JoinRetry time.Duration
	// ProposeTimeout bounds one change of the layout (its consensus
	// round). Default 10s.
	ProposeTimeout time.Duration
	// TransitionInterval is how often the node looks at the topology
	// operation in progress (besides every layout change). Default 100ms.
	TransitionInterval time.Duration
	// LeaveHandoverTimeout bounds how long a node that left hands the
	// hints it holds to the keys' owners before it stops. Default 1m.
	LeaveHandoverTimeout time.Duration
	// AbortJoinAfter is how long the node a join or replacement brings in
	// may be down before the operation is rolled back (only while reads
	// still go to the old replicas; 0: never), and how long a forced
	// operation waits for a member that gains ranges and is down before
	// it goes on without its streaming (skipGoneStreamers). Default 1m.
	AbortJoinAfter time.Duration
	// StreamRate bounds, in bytes per second, what this node receives
	// when it streams ranges it gains in a topology operation. 0: no
	// limit. Default 50 MB/s.
	StreamRate int64
	// Consensus holds the layout log's knobs: TickInterval,
	// ElectionTicks, HeartbeatTicks, SnapshotEvery, NewTicker. The node
	// sets the rest. Default: consensus's defaults.
	Consensus consensus.Config
	// DirtyFlushTicker, when set, paces the persisting of dirty marks
	// instead of time: it starts a ticker with period DirtyFlushInterval
	// and returns its channel and its stop. Tests pass a ticker they
	// drive. Default nil.
	DirtyFlushTicker func(d time.Duration) (ticks <-chan time.Time, stop func())
}

// DefaultNodeConfig returns the defaults of every field that has one.
func DefaultNodeConfig() NodeConfig {
	return NodeConfig{
		ClusterListen:        "127.0.0.1:7380",
		GossipListen:         "127.0.0.1:7946",
		ClusterName:          "ringcache",
		Coordinator:          coordinator.DefaultConfig(),
		Membership:           membership.DefaultConfig(),
		MaxClockSkew:         500 * time.Millisecond,
		SkewInterval:         5 * time.Second,
		SkewWarnEvery:        time.Minute,
		KeyCountMaxAge:       2 * time.Second,
		Transport:            transport.DefaultConfig(),
		HintedHandoff:        true,
		Handoff:              handoff.DefaultConfig(),
		HealthRetry:          time.Second,
		DirtyFlushInterval:   5 * time.Second,
		AntiEntropy:          antientropy.DefaultConfig(),
		JoinRetry:            300 * time.Millisecond,
		ProposeTimeout:       10 * time.Second,
		TransitionInterval:   100 * time.Millisecond,
		StreamRate:           50_000_000,
		AbortJoinAfter:       time.Minute,
		LeaveHandoverTimeout: time.Minute,
	}
}

// Validate reports the first invalid field; the error wraps
// ErrInvalidConfig (or the subpackage's own sentinel for the settings
// passed on to the coordinator, membership, transport and handoff).
func (c NodeConfig) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.NodeID == "":
		return bad("NodeID is empty")
	case c.Engine == nil:
		return bad("Engine is nil")
	case c.ClusterListen == "":
		return bad("ClusterListen is empty")
	case c.MaxClockSkew <= 0:
		return bad("MaxClockSkew %v must be positive", c.MaxClockSkew)
	case c.SkewInterval <= 0 || c.SkewWarnEvery <= 0:
		return bad("SkewInterval and SkewWarnEvery must be positive")
	case c.HealthRetry <= 0:
		return bad("HealthRetry %v must be positive", c.HealthRetry)
	case c.DirtyFlushInterval <= 0:
		return bad("DirtyFlushInterval %v must be positive", c.DirtyFlushInterval)
	case c.KeyCountMaxAge <= 0:
		return bad("KeyCountMaxAge %v must be positive", c.KeyCountMaxAge)
	case c.JoinRetry <= 0 || c.ProposeTimeout <= 0 || c.TransitionInterval <= 0 || c.LeaveHandoverTimeout <= 0:
		return bad("JoinRetry, ProposeTimeout, TransitionInterval and LeaveHandoverTimeout must be positive")
	case c.StreamRate < 0 || c.AbortJoinAfter < 0:
		return bad("StreamRate and AbortJoinAfter must not be negative")
	case c.Replace == c.NodeID:
		return bad("Replace names this node itself")
	}
	lc := c.Consensus
	lc.ID, lc.Store, lc.Machine, lc.Transport = 1, c.Engine, newLayoutMachine(1), layoutTransport{}
	if err := lc.Validate(); err != nil {
		return err
	}
	if c.HintedHandoff {
		hc := c.Handoff
		hc.Store, hc.Cluster = c.Engine, nodeHandoff{}
		if err := hc.Validate(); err != nil {
			return err
		}
	}
	if err := c.antientropyConfig(nodeRing{}, nil).Validate(); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(c.ClusterListen); err != nil {
		return bad("ClusterListen %q: %w", c.ClusterListen, err)
	}
	cc := c.coordinatorConfig(&topology.Current{})
	if err := cc.Validate(); err != nil {
		return err
	}
	if err := c.transportConfig().Validate(); err != nil {
		return err
	}
	// The cluster address is only known once bound; any valid one will do.
	mc := c.membershipConfig("127.0.0.1:1", nil, nil)
	return mc.Validate()
}

// seededGuess tells, before membership resolved the seeds, whether some
// seed is not this node: a seed spelled like GossipListen is this node.
// membership.Seeded gives the exact answer once gossip runs.
func (c NodeConfig) seededGuess() bool {
	for _, s := range c.Seeds {
		if s != c.GossipListen {
			return true
		}
	}
	return false
}

// coordinatorConfig derives the Coordinator's configuration.
func (c NodeConfig) coordinatorConfig(topo *topology.Current) coordinator.Config {
	cc := c.Coordinator
	cc.Self, cc.Logger, cc.Now = c.NodeID, c.Logger, c.Now
	cc.Clock, cc.Hints, cc.Topology = nil, nil, topo
	cc.Sloppy = c.HintedHandoff
	cc.MaxRecordBytes = max(0, transport.MaxRecordBytes(c.Transport.MaxFrameBytes))
	return cc
}

// antientropyConfig fills in what the node owns of the repairer's
// configuration: ring is the node's, dirty its marks.
func (c NodeConfig) antientropyConfig(ring antientropy.Ring, dirty *antientropy.Dirty) antientropy.Config {
	ac := c.AntiEntropy
	ac.Store, ac.Meta, ac.Ring, ac.Dirty = c.Engine, c.Engine, ring, dirty
	ac.Logger, ac.Now = c.Logger, c.Now
	ac.MinReplicas = min(c.Coordinator.N, 2)
	ac.Limits.MaxRecordBytes = transport.MaxRecordBytes(c.Transport.MaxFrameBytes)
	return ac
}

// transportConfig derives the transport configuration shared by the
// server and every peer client.
func (c NodeConfig) transportConfig() transport.Config {
	tc := c.Transport
	tc.Secret, tc.ClusterName, tc.Logger, tc.Observe = c.Secret, c.ClusterName, c.Logger, nil
	return tc
}

// membershipConfig derives the membership configuration: known is the
// member list persisted by an earlier run, which membership keeps
// persisted in the engine from then on.
func (c NodeConfig) membershipConfig(clusterAddr string, known []membership.Member, onChange func([]membership.Member)) membership.Config {
	mc := c.Membership
	mc.NodeID, mc.GossipAddr = c.NodeID, c.GossipListen
	mc.ClientAddr, mc.ClusterAddr = c.ClientAddr, clusterAddr
	mc.Seeds = c.Seeds
	mc.Secret, mc.ClusterName = c.Secret, c.ClusterName
	mc.Known, mc.WrapTransport = known, c.WrapGossip
	mc.Store = nil
	if c.Engine != nil {
		mc.Store = c.Engine
	}
	mc.Logger, mc.OnChange = c.Logger, onChange
	return mc
}
