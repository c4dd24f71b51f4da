package membership

import (
	"fmt"
	"slices"
	"strings"
)

// State is what failure detection currently believes about a member.
type State int

const (
	// Alive members answer probes (or have not yet failed one).
	Alive State = iota
	// Suspect members failed this node's last probe of them and have not
	// answered one since; the cluster may still refute the suspicion.
	Suspect
	// Dead members failed probes long enough to be declared failed. A
	// dead member still owns its place in the ring: failures are treated
	// as transient, and the member becomes Alive again when it returns.
	Dead
	// Left members announced NodeLeaving and then left the cluster.
	Left
)

// String returns "alive", "suspect", "dead" or "left".
func (s State) String() string {
	switch s {
	case Alive:
		return "alive"
	case Suspect:
		return "suspect"
	case Dead:
		return "dead"
	case Left:
		return "left"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Member is one node as this node sees it.
type Member struct {
	// ID is the node id (memberlist's node name).
	ID string
	// GossipAddr is the ip:port the member gossips on.
	GossipAddr string
	// ClientAddr is the member's RESP address, from its metadata.
	ClientAddr string
	// ClusterAddr is the member's replica RPC address, from its metadata.
	ClusterAddr string
	// VNodes is the member's virtual node count, from its metadata.
	VNodes int
	// NodeState is the member's ring state ("joining", "normal",
	// "leaving", ...), from its metadata.
	NodeState string
	// State is the member's liveness.
	State State
}

// Stats is a snapshot of membership counters.
type Stats struct {
	// Alive, Suspect, Dead and Left count the known members (this node
	// included) in each state.
	Alive, Suspect, Dead, Left int
	// JoinAttempts counts joins of the seeds tried, JoinFailures those
	// that reached no seed.
	JoinAttempts, JoinFailures uint64
	// Refused counts peers ignored because they claimed a live node id
	// from a second address or sent undecodable metadata.
	Refused uint64
}

// sortMembers orders members by id, the order Members promises.
func sortMembers(ms []Member) {
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
}
