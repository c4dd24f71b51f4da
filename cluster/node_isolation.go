package cluster

import (
	"errors"
	"fmt"

	"github.com/ringcache/ringcache/cluster/coordinator"
	"github.com/ringcache/ringcache/cluster/layout"
	"github.com/ringcache/ringcache/cluster/topology"
)

// Isolation. A node that reaches no other member of its ring by gossip is
// isolated: it may be the one cut off, so it must not act as if it were
// the cluster. The ring stays what it was (members are never dropped for
// being unreachable), and requests are refused with an IsolatedError
// until gossip reports another member again. A node that has nobody to
// reach is not isolated: the first node of a new cluster (no other ring
// member, and no seed other than itself) serves alone. A brand-new node
// whose seeds do not answer is isolated.
//
// Every topology carries the decision (Topology.Isolation), so a request
// reads it with the same atomic load as the ring; the transitions
// are logged once each (warn on becoming isolated, info on recovering)
// and INFO shows cluster_state:ok|isolated and cluster_reachable_members.

// ErrIsolated is wrapped by IsolatedError: this node reaches no other
// cluster member.
var ErrIsolated = errors.New("cluster: isolated")

// IsolatedError is the refusal of a request by an isolated node. It
// wraps both ErrIsolated and ErrNoQuorum, and its RESP reply is a
// NOQUORUM error that says why.
type IsolatedError struct {
	// Members counts the ring's other members, none of them reachable
	// (0 for a new node whose seeds do not answer).
	Members int
}

// Error implements error.
func (e *IsolatedError) Error() string { return "cluster: " + e.RESPError() }

// Unwrap makes errors.Is true for ErrIsolated and ErrNoQuorum.
func (e *IsolatedError) Unwrap() []error { return []error{ErrIsolated, coordinator.ErrNoQuorum} }

// RESPError returns the reply line without the leading '-'.
func (e *IsolatedError) RESPError() string {
	if e.Members == 0 {
		return "NOQUORUM this node reaches no other cluster member (no seed answered yet); requests are refused until it does"
	}
	return fmt.Sprintf("NOQUORUM this node reaches no other cluster member (0 of %d reachable by gossip); requests are refused until it does", e.Members)
}

// Isolated reports whether this node reaches no other ring member (see
// the comment at the top of node_isolation.go).
func (n *Node) Isolated() bool {
	isolated, _, _ := n.topo.Load().Isolation()
	return isolated
}

// isolationErr is the error requests get while the node of topology t is
// isolated, nil when it is not.
func isolationErr(t *topology.Topology) error {
	if err := notJoinedErr(t); err != nil {
		return err
	}
	isolated, _, others := t.Isolation()
	if !isolated {
		return nil
	}
	return &IsolatedError{Members: others}
}

// notJoinedErr is the error requests get while the node of topology t
// is not a member of a cluster (not joined yet, or left), nil when it is.
func notJoinedErr(t *topology.Topology) error {
	if l := t.Layout(); l != nil {
		switch m, ok := l.Member(t.Self()); {
		case !l.Bootstrapped() || !ok:
			return &NotJoinedError{Reason: "this node has not joined a cluster yet"}
		case m.State == layout.Left:
			return &NotJoinedError{Reason: "this node left the cluster"}
		}
	}
	return nil
}

// logIsolation logs a change of isolation between two views, once the
// node announced its state at start.
func (n *Node) logIsolation(old, t *topology.Topology) {
	if !n.announced.Load() || old == nil {
		return
	}
	was, _, _ := old.Isolation()
	isolated, reachable, others := t.Isolation()
	switch {
	case isolated == was:
	case isolated:
		n.log.Warn("cluster: isolated: this node reaches no other cluster member; requests are refused until it does",
			"members", others)
	default:
		n.log.Info("cluster: reaches other members again; serving requests", "reachable", reachable, "members", others)
	}
}

// announceIsolation logs the state the node starts in, once membership
// runs; later changes are logged by logIsolation.
func (n *Node) announceIsolation() {
	n.announced.Store(true)
	if isolated, _, others := n.topo.Load().Isolation(); isolated {
		n.log.Info("cluster: no other cluster member reached yet; requests are refused until one is",
			"members", others, "seeded", n.seeded.Load())
	}
}
