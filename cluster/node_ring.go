package cluster

import (
	"slices"
	"strings"

	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/ring"
)

// view is one immutable snapshot of what the node knows about the
// cluster: the member list and the ring built from it. Requests load it
// once and use it throughout.
//
// The member list is membership's: every member this node has known, in
// this run or an earlier one (membership persists it), with its liveness
// as gossip reports it. A member is added when gossip first reports it
// and leaves the ring only when it leaves for good (Left, see
// Node.Leave); a member that stops, crashes or is cut off stays in the
// ring (Dead), so a restart or a partition never moves ownership.
type view struct {
	// members is every known member, sorted by id, with its liveness.
	members []membership.Member
	// byID indexes members.
	byID map[string]membership.Member
	// ring places keys on the members that have not Left.
	ring *ring.Ring
	// shares is ring.Shares(), computed once per ring.
	shares map[string]float64
	// ringNodes is what ring was built from, to skip identical rebuilds.
	ringNodes []ring.Node
	// ids lists the ring's member ids: the members DBSIZE and FLUSHALL
	// address.
	ids []string
	// down holds the members gossip does not report Alive (nil: none).
	down map[string]bool
	// rangeIdx holds the ring's replica ranges, computed on first use and
	// shared by the views of one ring.
	rangeIdx *rangeIndex
	// isolated is set when this node reaches no other ring member
	// (node_isolation.go); reachable counts the other ring members it
	// reaches, others all of them.
	isolated          bool
	reachable, others int
}

// ringNodes returns the ring membership for a member list: every member
// that has not Left, dead ones included (a dead owner keeps its keys
// until it returns or leaves for good).
func ringNodes(ms []membership.Member) []ring.Node {
	out := make([]ring.Node, 0, len(ms))
	for _, m := range ms {
		if m.State == membership.Left {
			continue
		}
		out = append(out, ring.Node{ID: m.ID, Addr: m.ClusterAddr, ClientAddr: m.ClientAddr, VNodes: m.VNodes})
	}
	slices.SortFunc(out, func(a, b ring.Node) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// rebuild installs a new view for the member list ms: a new ring when
// the ring membership changed (else the old one is kept, so a liveness
// change costs no rebuild), and closes the clients of peers that left or
// moved. It is membership's OnChange, also called once at start with the
// member list persisted by the last run.
func (n *Node) rebuild(ms []membership.Member) {
	n.viewMu.Lock()
	defer n.viewMu.Unlock()
	ms = withSelf(ms, n.selfMember())
	v := &view{members: ms, byID: make(map[string]membership.Member, len(ms))}
	for _, m := range ms {
		v.byID[m.ID] = m
	}
	v.ringNodes = ringNodes(ms)
	v.down = downMembers(ms, n.cfg.NodeID)
	v.isolated, v.reachable, v.others = isolation(ms, n.cfg.NodeID, n.seeded.Load())
	old := n.view.Load()
	if old != nil && slices.Equal(old.ringNodes, v.ringNodes) {
		v.ring, v.shares, v.ids, v.rangeIdx = old.ring, old.shares, old.ids, old.rangeIdx
	} else {
		v.rangeIdx = &rangeIndex{}
		v.ring = ring.New(v.ringNodes, n.cfg.Membership.VNodes)
		v.shares = v.ring.Shares()
		v.ids = make([]string, len(v.ringNodes))
		for i, rn := range v.ringNodes {
			v.ids[i] = rn.ID
		}
	}
	if len(v.down) > 0 && minoritySide(v.ids, n.cfg.NodeID, v.down, n.heardRecently(), nil) {
		n.wasCutOff.Store(true) // before the view: Strict must never miss it
	}
	n.view.Store(v)
	n.logIsolation(old, v)
	if old == nil || v.ring != old.ring {
		n.coord.SetPlacement(RingPlacement{Ring: v.ring})
		n.log.Info("cluster: ring rebuilt", "members", v.ids, "digest", v.ring.Digest())
	}
	n.peers.retain(v.byID)
	n.notifyHandoff(old, v)
	n.catchup.poke() // a peer may have come back: ask it at once
}

// withSelf returns ms with self's entry as self describes it: this node
// is always an alive member of its own ring, even before gossip lists it
// and when the list persisted by an earlier run has it dead or left.
func withSelf(ms []membership.Member, self membership.Member) []membership.Member {
	i := slices.IndexFunc(ms, func(m membership.Member) bool { return m.ID == self.ID })
	switch {
	case i < 0:
		ms = append(slices.Clone(ms), self)
		slices.SortFunc(ms, func(a, b membership.Member) int { return strings.Compare(a.ID, b.ID) })
	case ms[i].State != membership.Alive && ms[i].State != membership.Suspect:
		ms = slices.Clone(ms)
		self.GossipAddr = ms[i].GossipAddr
		ms[i] = self
	}
	return ms
}

// memberIDs implements Members for the coordinator.
func (n *Node) memberIDs() []string { return n.view.Load().ids }
