package cluster

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ringcache/ringcache/antientropy"
	"github.com/ringcache/ringcache/cluster/handoff"
	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
)

// Health and hinted handoff on a node.
//
// A peer is healthy when gossip reports it Alive and its last replica
// RPC did not fail within HealthRetry. The coordinator asks once per
// request (Node.health); with every peer healthy that costs two atomic
// loads and no allocation. After HealthRetry a failing peer is tried
// again by the next request: its success makes it healthy at once.
//
// The handoff Manager holds the hints this node keeps for others. The
// node tells it when a member goes down (Down) and comes back (Wake) as
// membership events rebuild the view, and serves its Cluster interface:
// a target's status from the view, delivery over the target's replica
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

// health implements Config.Health: nil while every peer is healthy.
func (n *Node) health() func(string) bool {
	v := n.view.Load()
	failing := n.peers.failing(n.now(), n.cfg.HealthRetry)
	if len(v.down) == 0 && len(failing) == 0 {
		return nil
	}
	var heard map[string]bool
	if len(v.down) > 0 {
		heard = n.heardRecently()
	}
	return func(id string) bool { return (v.down[id] && !heard[id]) || slices.Contains(failing, id) }
}

// Strict implements Strictness for the coordinator: requests use the
// owners alone while this node is catching up, or while it cannot reach
// more than half of the other ring members (it is on the small side of a
// cut, or was a moment ago). Unreachable counts both what gossip says and
// this node's own calls that failed: a cut node's calls fail at once,
// while its gossip may take many seconds to declare the others down (its
// failure detector slows itself when nothing answers). A node that saw
// only the failures would otherwise keep a copy as a stand-in for an
// owner the rest of the cluster sees alive, and acknowledge a write
// through it and one owner that a reader never asks.
func (n *Node) Strict() bool {
	if n.catchup.Behind() || n.wasCutOff.Load() {
		return true
	}
	v := n.view.Load()
	failing := n.peers.failing(n.now(), n.cfg.HealthRetry)
	if len(v.down) == 0 && len(failing) == 0 {
		return false
	}
	if minoritySide(v.ids, n.cfg.NodeID, v.down, n.heardRecently(), failing) {
		n.wasCutOff.Store(true)
		return true
	}
	return false
}

// minoritySide reports whether more than half of the ring members ids
// other than self are unreachable: down in gossip and not heard from
// lately, or failing this node's calls (whether or not they reached it:
// a one-way cut is a cut). Pure.
func minoritySide(ids []string, self string, down, heard map[string]bool, failing []string) bool {
	others, gone := 0, 0
	for _, id := range ids {
		if id == self {
			continue
		}
		others++
		if down[id] && !heard[id] || slices.Contains(failing, id) {
			gone++
		}
	}
	return 2*gone > others
}

// heardFresh is how long a peer that asked this node what it holds for it
// counts as running, whatever gossip says: a node back from a restart
// asks every peer at once, and its peers may need a few seconds of gossip
// to see it alive. Meanwhile they would write its keys' copies to
// stand-ins, and keep it catching up.
const heardFresh = 5 * time.Second

// heard records that peer reached this node now: it is treated as
// healthy for heardFresh, its RPC failures are forgotten, and the hints
// held for it go out now.
func (n *Node) heard(peer string) {
	n.heardMu.Lock()
	if n.heardAt == nil {
		n.heardAt = map[string]time.Time{}
	}
	n.heardAt[peer] = n.now()
	n.heardMu.Unlock()
	n.peers.recovered(peer)
	if n.hints != nil {
		n.hints.Wake(peer)
	}
}

// heardRecently returns the peers heard from within heardFresh (nil if
// none).
func (n *Node) heardRecently() map[string]bool {
	n.heardMu.Lock()
	defer n.heardMu.Unlock()
	var out map[string]bool
	cut := n.now().Add(-heardFresh)
	for id, at := range n.heardAt {
		if at.Before(cut) {
			delete(n.heardAt, id)
			continue
		}
		if out == nil {
			out = map[string]bool{}
		}
		out[id] = true
	}
	return out
}

// downMembers returns the ids of members gossip does not report Alive.
func downMembers(ms []membership.Member, self string) map[string]bool {
	var down map[string]bool
	for _, m := range ms {
		if m.ID == self || m.State == membership.Alive || m.State == membership.Left {
			continue
		}
		if down == nil {
			down = map[string]bool{}
		}
		down[m.ID] = true
	}
	return down
}

// notifyHandoff tells the peer clients and the hint manager about members
// that changed between two views: a member back alive gets its client
// reconnected at once and its hints sent.
func (n *Node) notifyHandoff(old, v *view) {
	for _, m := range v.members {
		if m.ID == n.cfg.NodeID {
			continue
		}
		// A member this node had not seen (it restarted since) counts as
		// coming back: a hint kept from before may be waiting for it.
		was := membership.Dead
		if old != nil {
			if om, ok := old.byID[m.ID]; ok {
				was = om.State
			}
		}
		if m.State == membership.Alive && was != membership.Alive {
			n.peers.recovered(m.ID)
		}
		if n.hints == nil {
			continue
		}
		switch {
		case m.State == membership.Alive && was != membership.Alive:
			n.hints.Wake(m.ID)
		case (m.State == membership.Suspect || m.State == membership.Dead) && was == membership.Alive:
			n.hints.Down(m.ID, n.now())
		case m.State == membership.Left && was != membership.Left:
			n.hints.Wake(m.ID)
		}
	}
}

// nodeHandoff is the node as the hint manager's Cluster.
type nodeHandoff struct{ n *Node }

// Status implements handoff.Cluster.
func (h nodeHandoff) Status(target string) handoff.Status {
	n := h.n
	v := n.view.Load()
	if v == nil {
		return handoff.Down
	}
	m, ok := v.byID[target]
	switch {
	case ok && m.State == membership.Left:
		return handoff.Gone
	case !ok && n.now().Sub(n.started) > goneAfter && len(v.members) > 1:
		return handoff.Gone
	case ok && (m.State == membership.Alive || n.heardRecently()[target]):
		// Recent RPC failures do not hold the replay back: it fails fast if
		// the target is still unreachable, and retries with backoff. A
		// target that asked for its hints is alive, whatever gossip says.
		return handoff.Alive
	}
	return handoff.Down
}

// Deliver implements handoff.Cluster over the target's replica client.
func (h nodeHandoff) Deliver(ctx context.Context, target string, keys [][]byte, recs []engine.Record) error {
	rep, ok := h.n.peer(target)
	if !ok {
		return ErrUnknownPeer
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

// failing returns the peers whose last RPC failed within retry of now.
func (p *peerSet) failing(now time.Time, retry time.Duration) []string {
	gen := p.failGen.Load()
	if gen == p.clearGen.Load() {
		return nil
	}
	var out []string
	marked := false
	cut := now.Add(-retry).UnixNano()
	p.mu.RLock()
	for id, pc := range p.mu.conns {
		at := pc.failedAt.Load()
		if at == 0 {
			continue
		}
		marked = true
		if at > cut {
			out = append(out, id)
		}
	}
	p.mu.RUnlock()
	if !marked {
		// No failure on record up to gen: the fast path holds until the
		// next one (recorded after its failedAt, so never lost).
		for {
			c := p.clearGen.Load()
			if c >= gen || p.clearGen.CompareAndSwap(c, gen) {
				break
			}
		}
	}
	return out
}

// recovered forgets peer id's last RPC failure and makes its client
// reconnect now if it is waiting out a backoff: the peer is known to run
// (it reached this node, or gossip reports it alive again).
func (p *peerSet) recovered(id string) {
	p.mu.RLock()
	pc := p.mu.conns[id]
	p.mu.RUnlock()
	if pc != nil {
		pc.failedAt.Store(0)
		pc.client.Redial()
	}
}

// recordOutcome updates pc's health after an RPC.
func (p *peerSet) recordOutcome(pc *peerConn, err error, now time.Time) {
	if err == nil {
		if pc.failedAt.Load() != 0 && pc.failedAt.Swap(0) != 0 && p.onRecover != nil {
			p.onRecover(pc.id)
		}
		return
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, transport.ErrFrameTooLarge) {
		// A request or answer too large for a frame says nothing about
		// the peer's health.
		return
	}
	pc.failedAt.Store(now.UnixNano())
	p.failGen.Add(1)
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
	h.p.recordOutcome(h.pc, err, h.p.now())
	return resp, err
}
