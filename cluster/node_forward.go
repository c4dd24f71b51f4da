package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/server/store"
)

// A primary per key. The RESP server runs a key's read-modify-write
// commands at its primary, the first owner of its preference list that
// gossip reports alive, so they are serialized by one node's key locks
// (see server's primary.go). The Node implements the server's Router: it
// names the primary in this node's view of gossip, and carries forwarded
// requests to it over the replica transport (OpForward) as opaque bytes
// the server encodes, decodes and runs.

// ForwardHandler runs a request forwarded to this node and returns its
// answer (server.Server.ServeForward).
type ForwardHandler func(ctx context.Context, req []byte) ([]byte, error)

func init() {
	transport.RegisterError(122, store.ErrNotRun)
}

// SetForwardHandler installs the function that runs the requests other
// nodes forward to this one. Until it is set, they are refused as not
// run.
func (n *Node) SetForwardHandler(h ForwardHandler) { n.forward.Store(&h) }

// handleForward registers OpForward on the node's mux.
func (n *Node) handleForward(mux *transport.Mux) {
	mux.Handle(transport.OpForward, transport.HandlerFunc(func(ctx context.Context, _ uint8, p []byte) ([]byte, error) {
		h := n.forward.Load()
		if h == nil {
			return nil, fmt.Errorf("%w: this node does not serve clients yet", store.ErrNotRun)
		}
		return (*h)(ctx, p)
	}))
}

// Primary implements server.Router: the first owner of key that gossip
// reports alive, or the first owner when none is; "" when the ring places
// the key nowhere. This node counts as healthy unless it stands back
// (standsBack): after a stall or a restart, while the others may still
// take the next owner for the primary of its keys, it leaves the role to
// the node they chose.
func (n *Node) Primary(key []byte) (id string, self bool) {
	return n.primaryOf(engine.Token(key))
}

// IsPrimary reports whether this node is the primary of the keys of
// token tok, as Primary decides: the node that evicts them.
func (n *Node) IsPrimary(tok uint64) bool {
	_, self := n.primaryOf(tok)
	return self
}

func (n *Node) primaryOf(tok uint64) (id string, self bool) {
	t := n.topo.Load()
	var buf [8]string
	prefs := t.AppendPreference(buf[:0], tok, n.cfg.Coordinator.N)
	if len(prefs) == 0 {
		return "", false
	}
	now := n.now()
	// Down by gossip only, not by this node's failed calls: gossip's view
	// converges across the members, a failed call is one node's, and two
	// nodes that disagree would both take themselves for the primary.
	down := func(id string) bool { return t.Down(id) && !t.Heard(id, now) }
	if n.standsBack(now) {
		// Just after a stall or a restart this node's own view is stale
		// too (its peers may look down to it for a moment): the role
		// goes to another owner, healthy if one is.
		var other string
		for _, p := range prefs {
			if p == n.cfg.NodeID {
				continue
			}
			if !down(p) {
				return p, false
			}
			if other == "" {
				other = p
			}
		}
		if other != "" {
			return other, false
		}
	}
	for _, p := range prefs {
		if p == n.cfg.NodeID || !down(p) {
			return p, p == n.cfg.NodeID
		}
	}
	return prefs[0], prefs[0] == n.cfg.NodeID
}

// primaryGrace is how long after a stall, or after a join that found it
// counted down, this node leaves the primary role to others: gossip must
// first have spread that it is alive again, and the node that stood in
// must have finished the commands it was running.
func (n *Node) primaryGrace() time.Duration { return 3 * n.cfg.HealthRetry }

// standsBack reports whether this node leaves the primary role of its
// keys to another owner now. It does within primaryGrace of a stall of
// its process (SIGSTOP, a frozen machine), and after a restart into a
// cluster: the members took it for down while it was gone (the next
// owner stood in as primary) and go on doing so until gossip spreads its
// return. It does not know that until its first join exchange with a
// member (restartHoldMax at most; until then it has no member to reach
// anyway), then it stands back for primaryGrace if that member counted
// it down, and not at all if it did not. Any later join exchange that
// finds it counted down (after a cut in the network) holds it back the
// same way. A cluster started anew, whose members know no earlier run,
// never does.
func (n *Node) standsBack(now time.Time) bool {
	return int64(now.Sub(n.started)) < n.primaryHold.Load() || n.stalledWithin(now, n.primaryGrace())
}

// restartHoldMax bounds the hold of a restarted node that no join
// exchange has reached yet.
const restartHoldMax = 30 * time.Second

// holdPrimary makes this node stand back for d from now.
func (n *Node) holdPrimary(d time.Duration) {
	n.primaryHold.Store(int64(n.now().Sub(n.started) + d))
}

// joined hears of each join exchange of this node's gossip
// (membership.Config.OnJoin), one at a time: a first exchange that found
// the node not counted down must not release a hold another one set.
func (n *Node) joined(countedDown bool) {
	n.holdMu.Lock()
	defer n.holdMu.Unlock()
	first := !n.joinedOnce
	n.joinedOnce = true
	switch {
	case countedDown:
		n.holdPrimary(n.primaryGrace())
		n.log.Info("cluster: a member counts this node down; it leaves the primary role of its keys to others for now",
			"for", n.primaryGrace())
	case first:
		// Not counted down (a restart faster than failure detection):
		// nobody stood in for it.
		n.primaryHold.Store(0)
	}
}

// stalledWithin reports whether the process stalled between now-d and
// now.
func (n *Node) stalledWithin(now time.Time, d time.Duration) bool {
	a := n.cfg.Transport.Arrivals
	return a != nil && a.Arrival(now.Add(-d), now).Before(now)
}

// Forward implements server.Router: it sends req to member id and
// returns the answer. A request that could not be sent, or that the peer
// refused before running it, wraps store.ErrNotRun.
func (n *Node) Forward(ctx context.Context, id string, req []byte) ([]byte, error) {
	pc := n.peerConn(id)
	if pc == nil {
		return nil, fmt.Errorf("%w: %w %s", store.ErrNotRun, ErrUnknownMember, id)
	}
	// The sender's deadline (the server puts it in ctx and in the
	// request) bounds the call: one request timeout, longer for a script,
	// which may run as long as in Redis. Without one, a request timeout.
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.Coordinator.Timeout)
		defer cancel()
	}
	resp, err := pc.caller.Call(ctx, transport.OpForward, req)
	switch {
	case err == nil:
		return resp, nil
	case errors.Is(err, store.ErrNotRun):
		return nil, err
	case errors.Is(err, transport.ErrUnavailable), errors.Is(err, transport.ErrExpired),
		errors.Is(err, transport.ErrUnknownOp):
		// Never run by the peer. (A frame too large may be the answer
		// of a request that ran.)
		return nil, fmt.Errorf("%w: %w", store.ErrNotRun, err)
	}
	return nil, err
}

// Peers implements server.Peers: the other ring members this node
// considers healthy now, sorted.
func (n *Node) Peers() []string {
	t := n.topo.Load()
	down := t.Unhealthy(n.now())
	var out []string
	for _, id := range t.IDs() {
		if id != n.cfg.NodeID && (down == nil || !down(id)) {
			out = append(out, id)
		}
	}
	return out
}
