package membership

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// Node states carried in the metadata. They describe the node's place in
// the ring (as opposed to State, which is what failure detection thinks
// of it). Only NodeLeaving has a meaning here: a member that announced
// NodeLeaving and then disappears is reported Left rather than Dead.
const (
	NodeJoining = "joining"
	NodeNormal  = "normal"
	NodeLeaving = "leaving"
)

// MaxVNodes bounds Config.VNodes and the vnode count accepted from peers.
const MaxVNodes = 1 << 16

// maxNodeIDLen bounds node ids; they appear in RESP replies and logs.
const maxNodeIDLen = 64

// Config configures a Membership. Start from DefaultConfig.
type Config struct {
	// NodeID names this node in the cluster and is its memberlist node
	// name. It must be stable across restarts (ring tokens derive from
	// it) and unique: a second address claiming a live id is refused.
	// 1 to 64 characters from [A-Za-z0-9._-]. Required.
	NodeID string
	// GossipAddr is the host:port memberlist binds (TCP and UDP). Port 0
	// picks a free port; the bound address is what peers are told (for
	// 0.0.0.0, memberlist advertises the host's first private IP).
	// Default "127.0.0.1:7946".
	GossipAddr string
	// ClientAddr is the RESP address clients use to reach this node,
	// carried in the node metadata. Required.
	ClientAddr string
	// ClusterAddr is the replica RPC address, carried in the node
	// metadata. Required.
	ClusterAddr string
	// VNodes is the number of virtual nodes this node takes on the ring,
	// carried in the node metadata. Default 128; 1..MaxVNodes.
	VNodes int
	// NodeState is the initial ring state in the metadata (NodeJoining,
	// NodeNormal, NodeLeaving or another short word). Default NodeNormal.
	NodeState string
	// Seeds are gossip addresses (host:port) of nodes to join through.
	// Any one reachable seed is enough. The node's own address may be
	// listed (it is skipped), so every node can share one seed list.
	// Default none: the node starts a cluster of its own.
	Seeds []string
	// Secret, when not empty, enables gossip encryption: the AES-256 key
	// is the SHA-256 of Secret. Nodes with a different secret (or none)
	// cannot exchange gossip with this node. Default "" (plain text).
	Secret string
	// ClusterName labels every gossip packet and stream (memberlist's
	// Label); traffic labelled for another cluster is dropped. At most
	// 255 bytes. Default "ringcache".
	ClusterName string
	// Known lists the members this node knew in an earlier run (LoadRoster
	// reads them back from Store). They enter the member list as Dead (Left
	// if they had left) until gossip reports them, and the join loop keeps
	// trying to reach those that are not alive, so a restarted node finds
	// the cluster again even when its seeds are down or are itself. The
	// entry for this node is ignored. Default none.
	Known []Member
	// Store, if set, persists the member list (RosterStore): every member
	// this node has seen, with its addresses, vnodes and whether it left
	// for good, written whenever that changes and on Close. Liveness
	// changes are not written. Default nil: nothing is persisted.
	Store RosterStore
	// RejoinInterval is how often the node checks that every seed and
	// every known member is an alive member and joins the seeds that are
	// not and the members it sees dead. This heals a logical
	// partition: two groups that each believe they are the whole cluster
	// merge as soon as one of them reaches a member of the other, and a
	// member that was cut off is probed back within this interval of the
	// cut healing. Default 1s.
	RejoinInterval time.Duration
	// JoinBackoffMin and JoinBackoffMax bound the exponential backoff
	// between join attempts while the node is alone and no seed answers.
	// Defaults 200ms and 2s.
	JoinBackoffMin time.Duration
	JoinBackoffMax time.Duration
	// ProbeInterval is memberlist's failure-detection probe period.
	// Default 500ms (memberlist's LAN default is 1s).
	ProbeInterval time.Duration
	// ProbeTimeout is how long a probe waits for an ack before asking
	// other nodes to probe indirectly. Default 300ms.
	ProbeTimeout time.Duration
	// SuspicionMult scales how long a suspect node has to refute before it
	// is declared dead: SuspicionMult * max(1, log10(n)) * ProbeInterval
	// once enough other members confirmed the suspicion. Default 4 (2s
	// for up to 10 members).
	SuspicionMult int
	// SuspicionMaxTimeoutMult bounds the suspicion timeout when no other
	// member confirms it: SuspicionMaxTimeoutMult times the above.
	// Default 3 (6s for up to 10 members; memberlist's default is 6).
	SuspicionMaxTimeoutMult int
	// GossipInterval is the period of gossip rounds. Default 200ms.
	GossipInterval time.Duration
	// PushPullInterval is the period of full-state exchanges with a random
	// member. Default 5s (memberlist's LAN default is 30s): a full state
	// exchange repairs views that drifted apart, e.g. after a one-way
	// partition, and the member lists here are small.
	PushPullInterval time.Duration
	// GossipToTheDeadTime is how long dead nodes keep receiving gossip
	// (so they learn they were declared dead and refute it) before
	// memberlist forgets them. Default 30s.
	GossipToTheDeadTime time.Duration
	// DeadNodeReclaimTime is how long a member must have been dead before
	// its id may come back from another gossip address (a node restarted
	// with a new IP). Default 2s (memberlist's default never allows it
	// until it forgot the dead node).
	DeadNodeReclaimTime time.Duration
	// TCPTimeout bounds push/pull and join connections. Default 3s.
	TCPTimeout time.Duration
	// LeaveTimeout bounds each of the two broadcasts Leave waits for (the
	// NodeLeaving metadata update and the leave message). Default 2s.
	LeaveTimeout time.Duration
	// WrapTransport, if set, wraps the gossip transport (memberlist's UDP
	// and TCP network transport bound to GossipAddr), e.g. to inject
	// faults in tests. Default nil.
	WrapTransport func(memberlist.NodeAwareTransport) memberlist.NodeAwareTransport
	// Logger receives membership and memberlist messages. Default (nil):
	// discard.
	Logger *slog.Logger
	// OnChange, if set, is called with the full member list (as Members
	// returns it) after membership events. Calls come from one goroutine,
	// never concurrently; events that arrive while a call runs are
	// coalesced into the next call, and a call is skipped when the list
	// did not change. The first call carries the initial list. It is not
	// called after Close returns. Default nil.
	OnChange func([]Member)
	// OnJoin, if set, is called for each join exchange of full state
	// (this node joining a member, or a member joining it), before
	// memberlist merges the remote member list, with whether that list
	// counts this node down: it holds this node suspect, dead or left,
	// or, in the first exchange of a node whose Known list names other
	// members (a restart), does not hold it at all (a member restarted
	// meanwhile knows it only from its own saved list). The members that count it down go on
	// doing so until they learn this node's refutation. Calls come from
	// memberlist's goroutines, possibly several at once; they must not
	// block or call into membership. Not called for an exchange the
	// membership refuses. Default nil.
	OnJoin func(countedDown bool)
}

// DefaultConfig returns a Config with every default filled in. NodeID,
// ClientAddr and ClusterAddr are left empty: they must be set.
func DefaultConfig() Config {
	lan := memberlist.DefaultLANConfig()
	return Config{
		GossipAddr:              "127.0.0.1:7946",
		VNodes:                  128,
		NodeState:               NodeNormal,
		ClusterName:             "ringcache",
		RejoinInterval:          time.Second,
		JoinBackoffMin:          200 * time.Millisecond,
		JoinBackoffMax:          2 * time.Second,
		ProbeInterval:           500 * time.Millisecond,
		ProbeTimeout:            300 * time.Millisecond,
		SuspicionMult:           lan.SuspicionMult,
		SuspicionMaxTimeoutMult: 3,
		GossipInterval:          lan.GossipInterval,
		PushPullInterval:        5 * time.Second,
		GossipToTheDeadTime:     lan.GossipToTheDeadTime,
		DeadNodeReclaimTime:     2 * time.Second,
		TCPTimeout:              3 * time.Second,
		LeaveTimeout:            2 * time.Second,
	}
}

// Validate reports the first problem with c, wrapping ErrInvalidConfig
// (or ErrMetaTooLarge when the metadata does not fit).
func (c Config) Validate() error {
	if err := validNodeID(c.NodeID); err != nil {
		return fmt.Errorf("%w: NodeID: %w", ErrInvalidConfig, err)
	}
	if err := validHostPort(c.GossipAddr, true); err != nil {
		return fmt.Errorf("%w: GossipAddr: %w", ErrInvalidConfig, err)
	}
	for _, f := range []struct{ name, v string }{{"ClientAddr", c.ClientAddr}, {"ClusterAddr", c.ClusterAddr}} {
		if f.v == "" {
			return fmt.Errorf("%w: %s is required", ErrInvalidConfig, f.name)
		}
	}
	for _, s := range c.Seeds {
		if err := validHostPort(s, false); err != nil {
			return fmt.Errorf("%w: seed %q: %w", ErrInvalidConfig, s, err)
		}
	}
	if c.VNodes < 1 || c.VNodes > MaxVNodes {
		return fmt.Errorf("%w: VNodes %d not in 1..%d", ErrInvalidConfig, c.VNodes, MaxVNodes)
	}
	if c.NodeState == "" {
		return fmt.Errorf("%w: NodeState is required", ErrInvalidConfig)
	}
	if c.ClusterName == "" || len(c.ClusterName) > memberlist.LabelMaxSize {
		return fmt.Errorf("%w: ClusterName must be 1..%d bytes", ErrInvalidConfig, memberlist.LabelMaxSize)
	}
	if err := c.validateDurations(); err != nil {
		return err
	}
	if c.SuspicionMult < 1 || c.SuspicionMaxTimeoutMult < 1 {
		return fmt.Errorf("%w: SuspicionMult %d and SuspicionMaxTimeoutMult %d must be at least 1",
			ErrInvalidConfig, c.SuspicionMult, c.SuspicionMaxTimeoutMult)
	}
	for _, k := range c.Known {
		if err := validNodeID(k.ID); err != nil {
			return fmt.Errorf("%w: known member %q: %w", ErrInvalidConfig, k.ID, err)
		}
	}
	if _, err := encodeMeta(c.localMeta()); err != nil {
		return err
	}
	return nil
}

func (c Config) validateDurations() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"RejoinInterval", c.RejoinInterval},
		{"JoinBackoffMin", c.JoinBackoffMin},
		{"JoinBackoffMax", c.JoinBackoffMax},
		{"ProbeInterval", c.ProbeInterval},
		{"ProbeTimeout", c.ProbeTimeout},
		{"GossipInterval", c.GossipInterval},
		{"PushPullInterval", c.PushPullInterval},
		{"GossipToTheDeadTime", c.GossipToTheDeadTime},
		{"DeadNodeReclaimTime", c.DeadNodeReclaimTime},
		{"TCPTimeout", c.TCPTimeout},
		{"LeaveTimeout", c.LeaveTimeout},
	} {
		if d.v <= 0 {
			return fmt.Errorf("%w: %s must be positive", ErrInvalidConfig, d.name)
		}
	}
	if c.JoinBackoffMax < c.JoinBackoffMin {
		return fmt.Errorf("%w: JoinBackoffMax < JoinBackoffMin", ErrInvalidConfig)
	}
	if c.ProbeTimeout > c.ProbeInterval {
		return fmt.Errorf("%w: ProbeTimeout > ProbeInterval", ErrInvalidConfig)
	}
	return nil
}

// localMeta is the metadata this node advertises.
func (c Config) localMeta() meta {
	return meta{
		NodeID:      c.NodeID,
		ClientAddr:  c.ClientAddr,
		ClusterAddr: c.ClusterAddr,
		VNodes:      c.VNodes,
		NodeState:   c.NodeState,
	}
}

func validNodeID(id string) error {
	if id == "" || len(id) > maxNodeIDLen {
		return fmt.Errorf("length %d not in 1..%d", len(id), maxNodeIDLen)
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		ok := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
			b == '.' || b == '_' || b == '-'
		if !ok {
			return fmt.Errorf("byte %q not in [A-Za-z0-9._-]", b)
		}
	}
	return nil
}

// validHostPort checks a host:port; port 0 ("pick one") only if allowZero.
func validHostPort(s string, allowZero bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if host == "" {
		return fmt.Errorf("missing host")
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 || p == 0 && !allowZero {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}
