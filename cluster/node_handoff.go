package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/ringcache/ringcache/antientropy"
	"github.com/ringcache/ringcache/cluster/coordinator"
	"github.com/ringcache/ringcache/cluster/handoff"
	"github.com/ringcache/ringcache/cluster/layout"
	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/cluster/topology"
	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/server/store"
)

// Health and hinted handoff on a node.
//
// A peer is healthy when gossip reports it Alive and its last replica
// RPC did not fail within HealthRetry. Every call's outcome is recorded
// (healthCaller); a failure, a recovery, a peer asking for its hints
// (heard) publish the node's topology with the new health
// (node_topology.go), which the coordinator reads once per request;
// with every peer healthy that costs nothing more. After HealthRetry a
// failing peer is tried again by the next request: its success makes it
// healthy at once.
//
// The handoff Manager holds the hints this node keeps for others. The
// node tells it when a member goes down (Down) and comes back (Wake) as
// membership events rebuild the topology, and serves its Cluster interface:
// a target's status from the topology, delivery over the target's replica
// client, handover to a departed target's successors through the
// coordinator.

// goneAfter is how long a hint target may be unknown to gossip before it
// counts as departed: long enough for a restarted node to learn the
// member list from its seeds.
const goneAfter = time.Minute

// startHandoff creates the hint manager and the dirty set and installs
// them in the local replica. Called before the transport serves.
func (n *Node) startHandoff() error {
	dirty, err := antientropy.NewDirty(n.cfg.Engine, func() int64 { return n.now().UnixMilli() })
	if err != nil {
		return err
	}
	n.dirty = dirty
	if !n.cfg.HintedHandoff {
		return nil
	}
	hc := n.cfg.Handoff
	hc.Store, hc.Cluster, hc.Logger, hc.Now = n.cfg.Engine, nodeHandoff{n}, n.log, n.now
	// A hint older than the tombstone grace may carry a value whose delete
	// was purged on the target already: such hints are dropped, not
	// replayed.
	hc.MaxAge = n.cfg.Engine.TombstoneGrace()
	// A hint travels in one replica frame, or not at all.
	hc.MaxRecordBytes = transport.MaxRecordBytes(n.cfg.Transport.MaxFrameBytes)
	m, err := handoff.New(hc)
	if err != nil {
		return err
	}
	n.hints = m
	n.local.SetHandoff(m, dirty)
	return nil
}

// HintStats returns the hint manager's figures per target, none when
// hinted handoff is off.
func (n *Node) HintStats() []handoff.TargetStats {
	if n.hints == nil {
		return nil
	}
	return n.hints.Stats()
}

// Dirty returns the node's anti-entropy dirty set.
func (n *Node) Dirty() *antientropy.Dirty { return n.dirty }

// notifyHandoff tells the peer clients and the hint manager about members
// that changed between two views: a member back alive gets its client
// reconnected at once and its hints sent.
func (n *Node) notifyHandoff(old, t *topology.Topology) {
	for _, m := range t.Members() {
		if m.ID == n.cfg.NodeID {
			continue
		}
		// A member this node had not seen (it restarted since) counts as
		// coming back: a hint kept from before may be waiting for it.
		was := membership.Dead
		if old != nil {
			if om, ok := old.Member(m.ID); ok {
				was = om.State
			}
		}
		if n.hints == nil {
			continue
		}
		switch {
		case leftLayout(t, m.ID) && (old == nil || !leftLayout(old, m.ID)):
			n.hints.Wake(m.ID) // gone for good: its hints go to the keys' owners
		case m.State == membership.Alive && was != membership.Alive:
			n.hints.Wake(m.ID)
		case (m.State == membership.Suspect || m.State == membership.Dead) && was == membership.Alive:
			n.hints.Down(m.ID, n.now())
		case m.State == membership.Left && was != membership.Left:
			n.hints.Wake(m.ID)
		}
	}
}

// leftLayout reports whether t's layout has member id Left.
func leftLayout(t *topology.Topology, id string) bool {
	l := t.Layout()
	if l == nil {
		return false
	}
	m, ok := l.Member(id)
	return ok && m.State == layout.Left
}

// nodeHandoff is the node as the hint manager's Cluster.
type nodeHandoff struct{ n *Node }

// Status implements handoff.Cluster.
func (h nodeHandoff) Status(target string) handoff.Status {
	n := h.n
	t := n.topo.Load()
	if t == nil {
		return handoff.Down
	}
	m, ok := t.Member(target)
	switch {
	case ok && m.State == membership.Left, leftLayout(t, target):
		return handoff.Gone
	case leftLayout(t, n.cfg.NodeID):
		// This node left: what it holds for others goes to the keys'
		// owners now, before it exits.
		return handoff.Gone
	case !ok && n.now().Sub(n.started) > goneAfter && len(t.Members()) > 1:
		return handoff.Gone
	case ok && (m.State == membership.Alive || t.Heard(target, n.now())):
		// Recent RPC failures do not hold the replay back: it fails fast if
		// the target is still unreachable, and retries with backoff. A
		// target that asked for its hints is alive, whatever gossip says.
		return handoff.Alive
	}
	return handoff.Down
}

// Deliver implements handoff.Cluster over the target's replica client.
func (h nodeHandoff) Deliver(ctx context.Context, target string, keys [][]byte, recs []engine.Record) error {
	rep, ok := h.n.topo.Load().Replica(target)
	if !ok || target == h.n.cfg.NodeID {
		return coordinator.ErrUnknownPeer
	}
	// The target learns where the hints come from, and reads count it as
	// behind until this node has none left for it. A newer version held
	// there is no failure.
	_, err := rep.Apply(ctx, replica.ApplyRequest{Keys: keys, Recs: recs, From: h.n.cfg.NodeID})
	return err
}

// Handover implements handoff.Cluster through the coordinator.
func (h nodeHandoff) Handover(ctx context.Context, keys [][]byte, recs []engine.Record) error {
	return h.n.coord.Replicate(ctx, keys, recs)
}

// redial makes peer id's client reconnect now if it is waiting out a
// backoff: the peer is known to run (it reached this node, or gossip
// reports it alive again).
func (p *peerSet) redial(id string) {
	p.mu.RLock()
	pc := p.mu.conns[id]
	p.mu.RUnlock()
	if pc != nil {
		pc.client.Redial()
	}
}

// recordOutcome updates pc's health after an RPC.
func (p *peerSet) recordOutcome(pc *peerConn, err error, now time.Time) {
	if err == nil {
		if p.succeeded != nil {
			p.succeeded(pc.id)
		}
		return
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, transport.ErrFrameTooLarge) ||
		errors.Is(err, replica.ErrStaleEpoch) ||
		(errors.Is(err, store.ErrNotRun) || errors.Is(err, transport.ErrUnknownOp)) && errors.Is(err, transport.ErrRemote) {
		// A request or answer too large for a frame says nothing about
		// the peer's health; a refusal as stale, of a forwarded request
		// the peer is not the primary of, or of an operation a peer of
		// an older version does not know, proves it well.
		return
	}
	if p.failed != nil {
		p.failed(pc.id, now)
	}
}

// healthCaller records every call's outcome in its peer's health.
type healthCaller struct {
	next transport.Caller
	pc   *peerConn
	p    *peerSet
}

// Call implements transport.Caller.
func (h healthCaller) Call(ctx context.Context, op uint8, payload []byte) ([]byte, error) {
	resp, err := h.next.Call(ctx, op, payload)
	if err != nil && op >= transport.OpLayoutMessage && op <= transport.OpLayoutTransfers {
		// The layout's own traffic (a member not started yet, a
		// proposal refused) does not judge the data path.
		return resp, err
	}
	h.p.recordOutcome(h.pc, err, h.p.now())
	return resp, err
}
