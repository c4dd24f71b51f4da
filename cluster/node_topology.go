package cluster

import (
	"slices"
	"strings"
	"time"

	"github.com/ringcache/ringcache/cluster/layout"
	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/cluster/topology"
)

// The node's topology. Everything a request needs to know about the
// cluster is one immutable topology.Topology that the node publishes in
// n.topo (the coordinator's Config.Topology): the members and the ring
// built from them, the replica reaching each member, gossip's liveness,
// and what the node learned of its peers beyond gossip (failed calls,
// peers that asked it for their hints, whether it is catching up or was
// cut off). A request loads it once and plans, falls back and replies
// with that one view.
//
// The member list is membership's: every member this node has known, in
// this run or an earlier one (membership persists it), with its liveness
// as gossip reports it. A member is added when gossip first reports it
// and leaves the ring only when it leaves for good (Left, see
// Node.Leave); a member that stops, crashes or is cut off stays in the
// ring (Dead), so a restart or a partition never moves ownership.
//
// Publishing is serialized by topoMu. A new member list (rebuild) builds
// a new topology, keeping the ring when the ring membership is unchanged;
// a change of health (updateHealth) copies the current one with the new
// health. Either way, if the new view puts this node on the small side of
// a cut, the cut-off latch is set in the same snapshot (latchCut), so no
// request can see the cut without the latch.

// rebuild publishes the topology of the member list ms, and closes the
// clients of peers that left or moved. It is membership's OnChange, also
// called once at start with the member list persisted by the last run.
func (n *Node) rebuild(ms []membership.Member) {
	n.topoMu.Lock()
	defer n.topoMu.Unlock()
	n.install(ms)
}

// reassess publishes the current member list again (after seeded
// changed, which isolation depends on).
func (n *Node) reassess() {
	n.topoMu.Lock()
	defer n.topoMu.Unlock()
	n.install(n.topo.Load().Members())
}

// install builds and publishes the topology of ms; topoMu is held.
func (n *Node) install(ms []membership.Member) {
	old := n.topo.Load()
	h := topology.Health{Retry: n.cfg.HealthRetry, Behind: n.catchup.Behind()}
	if old != nil {
		h = old.Health().Clone()
	}
	// A member back alive is tried at once: its past failures are
	// forgotten and its client reconnects. A member that left is never
	// called again, so nothing else would clear its failure: forget it
	// too, or every request would take the slow path of the health check.
	back := n.cameBack(old, ms)
	for _, id := range back {
		delete(h.Failing, id)
	}
	for id := range h.Failing {
		if i := slices.IndexFunc(ms, func(m membership.Member) bool { return m.ID == id }); i < 0 || ms[i].State == membership.Left {
			delete(h.Failing, id)
		}
	}
	lay := n.lay.current()
	ms = withLayoutMembers(ms, lay)
	t := topology.New(topology.Spec{
		Self:     n.selfMember(),
		Members:  ms,
		VNodes:   n.cfg.Membership.VNodes,
		Seeded:   n.seeded.Load(),
		Replicas: n.replicasOf(ms),
		Health:   h,
		Layout:   lay,
	}, old)
	t = n.latchCut(t)
	n.topo.Store(t)
	n.logIsolation(old, t)
	if old == nil || t.Ring() != old.Ring() {
		n.log.Info("cluster: ring rebuilt", "members", t.IDs(), "digest", t.Ring().Digest())
	}
	n.peers.retain(t)
	for _, id := range back {
		n.peers.redial(id)
	}
	n.notifyHandoff(old, t)
	n.catchup.poke() // a peer may have come back: ask it at once
}

// withLayoutMembers returns ms with the members of l that gossip has
// not reported (yet): Dead, at the addresses they joined with, so that
// they have a replica and count as owners that are down.
func withLayoutMembers(ms []membership.Member, l *layout.Layout) []membership.Member {
	var add []membership.Member
	for _, lm := range l.Members {
		if lm.State == layout.Left || slices.ContainsFunc(ms, func(m membership.Member) bool { return m.ID == lm.ID }) {
			continue
		}
		add = append(add, membership.Member{
			ID: lm.ID, GossipAddr: lm.GossipAddr, ClientAddr: lm.ClientAddr, ClusterAddr: lm.ClusterAddr,
			VNodes: len(lm.Tokens), State: membership.Dead,
		})
	}
	if len(add) == 0 {
		return ms
	}
	out := append(slices.Clone(ms), add...)
	slices.SortFunc(out, func(a, b membership.Member) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// cameBack returns the members of ms other than this node that gossip
// reports Alive and old did not (a member old did not know counts: it
// may have restarted since).
func (n *Node) cameBack(old *topology.Topology, ms []membership.Member) []string {
	var back []string
	for _, m := range ms {
		if m.ID == n.cfg.NodeID || m.State != membership.Alive {
			continue
		}
		if old != nil {
			if om, ok := old.Member(m.ID); ok && om.State == membership.Alive {
				continue
			}
		}
		back = append(back, m.ID)
	}
	return back
}

// replicasOf returns the replica of every member of ms that has not
// Left: the local one for this node, the client for its current cluster
// address for a peer (created on first use; it connects on its first
// call).
func (n *Node) replicasOf(ms []membership.Member) map[string]replica.Replica {
	out := make(map[string]replica.Replica, len(ms)+1)
	out[n.cfg.NodeID] = n.local
	for _, m := range ms {
		if m.ID == n.cfg.NodeID || m.State == membership.Left || m.ClusterAddr == "" {
			continue
		}
		if pc := n.peers.get(m.ID, m.ClusterAddr); pc != nil {
			out[m.ID] = pc.replica
		}
	}
	return out
}

// updateHealth publishes the current topology with its health changed
// by fn (which gets a copy it may change).
func (n *Node) updateHealth(fn func(h *topology.Health)) {
	n.topoMu.Lock()
	defer n.topoMu.Unlock()
	old := n.topo.Load()
	if old == nil {
		return // the first topology reads what it needs itself
	}
	h := old.Health().Clone()
	fn(&h)
	n.topo.Store(n.latchCut(old.WithHealth(h)))
}

// latchCut returns t with the cut-off latch set if t puts this node on
// the small side of a cut now (the catch-up loop clears it once the
// node's view has settled, see catchup.pass).
func (n *Node) latchCut(t *topology.Topology) *topology.Topology {
	h := t.Health()
	if h.CutOff || !t.MinoritySide(n.now()) {
		return t
	}
	h.CutOff = true
	return t.WithHealth(h)
}

// callFailed records that a call to peer id failed at now. A failure
// recorded less than half a HealthRetry ago is not published again: the
// peer stays unhealthy either way.
func (n *Node) callFailed(id string, now time.Time) {
	t := n.topo.Load()
	if t == nil {
		return
	}
	if at, ok := t.Health().Failing[id]; ok && now.Sub(at) < n.cfg.HealthRetry/2 {
		return
	}
	n.updateHealth(func(h *topology.Health) {
		if h.Failing == nil {
			h.Failing = map[string]time.Time{}
		}
		h.Failing[id] = now
	})
}

// callSucceeded records that a call to peer id succeeded: a failure on
// record is forgotten, and the hints held for the peer go out now.
func (n *Node) callSucceeded(id string) {
	t := n.topo.Load()
	if t == nil {
		return
	}
	if _, ok := t.Health().Failing[id]; !ok {
		return
	}
	n.updateHealth(func(h *topology.Health) { delete(h.Failing, id) })
	if n.hints != nil {
		n.hints.Wake(id)
	}
}

// heard records that peer reached this node now: it is treated as
// healthy for topology.HeardFresh whatever gossip says, its failures are
// forgotten, its client reconnects at once and the hints held for it go
// out now.
func (n *Node) heard(peer string) {
	now := n.now()
	n.updateHealth(func(h *topology.Health) {
		for id, at := range h.Heard {
			if now.Sub(at) >= topology.HeardFresh {
				delete(h.Heard, id)
			}
		}
		if h.Heard == nil {
			h.Heard = map[string]time.Time{}
		}
		h.Heard[peer] = now
		delete(h.Failing, peer)
	})
	n.peers.redial(peer)
	if n.hints != nil {
		n.hints.Wake(peer)
	}
}
