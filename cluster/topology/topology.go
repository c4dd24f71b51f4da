package topology

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ringcache/ringcache/cluster/layout"
	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/cluster/ring"
)

// Topology is one immutable snapshot of the cluster as a node sees it:
// the members with their addresses and liveness, the ring built from
// them, the replica that reaches each of them, and what the node has
// learned of their health. Build it with New; derive the next one with
// New (a new member list) or WithHealth (new health, same members).
type Topology struct {
	self     string
	members  []membership.Member // sorted by id
	byID     map[string]membership.Member
	ring     *ringState
	layout   *layout.Layout // nil: a static ring built from the members
	replicas map[string]replica.Replica
	// down holds the members gossip does not report Alive (nil: none).
	down map[string]bool
	// isolated, reachable and others: see Isolation.
	isolated          bool
	reachable, others int
	health            Health
}

// ringState is a ring and what is derived from it, shared by every
// snapshot of one ring: a liveness change costs no rebuild.
type ringState struct {
	ring *ring.Ring
	// also, during a topology operation's write-both stages, is the
	// other ring a write must reach W replicas of (nil otherwise).
	also *ring.Ring
	// nodes is what ring was built from, to detect an identical rebuild
	// of a static ring.
	nodes []ring.Node
	// ids lists the member ids of ring and also, sorted.
	ids    []string
	shares map[string]float64

	rangesOnce sync.Once
	ranges     []ring.ReplicaRange
}

// Spec is what New builds a topology from.
type Spec struct {
	// Self describes this node: it is an alive member of its own
	// topology whatever the member list says (it may predate gossip, or
	// come from an earlier run that saw the node dead).
	Self membership.Member
	// Members is every member the node knows, with its liveness. A
	// member that Left is not in the ring.
	Members []membership.Member
	// VNodes is the ring's default virtual node count.
	VNodes int
	// Seeded reports that the node has a seed other than itself, so a
	// node whose ring holds it alone is isolated until it reaches one.
	Seeded bool
	// Replicas maps member ids to the replicas that reach them.
	Replicas map[string]replica.Replica
	// Health is what the node learned of its peers beyond gossip.
	Health Health
	// Layout is the cluster's layout: the ring and its transitions come
	// from it. Nil: a static ring of the members that have not Left,
	// their tokens derived from their ids (tests and tools).
	Layout *layout.Layout
}

// New builds the topology of spec. The ring of prev is kept when the
// ring membership is unchanged (prev may be nil).
func New(spec Spec, prev *Topology) *Topology {
	ms := withSelf(spec.Members, spec.Self)
	t := &Topology{
		self:     spec.Self.ID,
		members:  ms,
		byID:     make(map[string]membership.Member, len(ms)),
		replicas: spec.Replicas,
		down:     downMembers(ms, spec.Self.ID),
		health:   spec.Health,
	}
	for _, m := range ms {
		t.byID[m.ID] = m
	}
	t.layout = spec.Layout
	switch {
	case spec.Layout != nil && prev != nil && prev.layout == spec.Layout:
		t.ring = prev.ring
	case spec.Layout != nil:
		t.ring = layoutRings(spec.Layout)
	default:
		nodes := ringNodes(ms)
		if prev != nil && prev.layout == nil && slices.Equal(prev.ring.nodes, nodes) {
			t.ring = prev.ring
		} else {
			t.ring = newRingState(ring.New(nodes, spec.VNodes), nil)
			t.ring.nodes = nodes
		}
	}
	t.isolated, t.reachable, t.others = isolation(ms, spec.Self.ID, spec.Seeded, t.ring.ids)
	return t
}

// layoutRings returns the rings requests use at l's stage: reads and
// writes go to the current ring until the operation reads from the new
// one (write-both/read-new), writes also to the other ring while the
// operation writes both.
func layoutRings(l *layout.Layout) *ringState {
	cur, next := l.Rings()
	if l.Op == nil {
		return newRingState(cur, nil)
	}
	switch l.Op.Stage {
	case layout.WriteBothReadOld, layout.Streaming:
		return newRingState(cur, next)
	case layout.WriteBothReadNew:
		return newRingState(next, cur)
	}
	return newRingState(next, nil)
}

func newRingState(r, also *ring.Ring) *ringState {
	var ids []string
	for _, x := range []*ring.Ring{r, also} {
		if x == nil {
			continue
		}
		for _, n := range x.Nodes() {
			ids = append(ids, n.ID)
		}
	}
	slices.Sort(ids)
	return &ringState{ring: r, also: also, ids: slices.Compact(ids), shares: r.Shares()}
}

// WithHealth returns a copy of t with health h.
func (t *Topology) WithHealth(h Health) *Topology {
	c := *t
	c.health = h
	return &c
}

// Self returns this node's id.
func (t *Topology) Self() string { return t.self }

// Members returns every known member, sorted by id, with its liveness.
// The caller must not modify it.
func (t *Topology) Members() []membership.Member { return t.members }

// Member returns the member id.
func (t *Topology) Member(id string) (membership.Member, bool) {
	m, ok := t.byID[id]
	return m, ok
}

// Ring returns the ring requests read from and write to.
func (t *Topology) Ring() *ring.Ring { return t.ring.ring }

// Also returns the ring a write must also reach W replicas of, during
// a topology operation's write-both stages; nil otherwise. Its replicas
// are the owners themselves: no stand-in counts for them.
func (t *Topology) Also() *ring.Ring { return t.ring.also }

// Layout returns the layout t was built from (nil for a static ring).
func (t *Topology) Layout() *layout.Layout { return t.layout }

// Epoch returns the layout's epoch (0 for a static ring): requests carry
// it, and a replica that knows a later one refuses them.
func (t *Topology) Epoch() uint64 {
	if t.layout == nil {
		return 0
	}
	return t.layout.Epoch
}

// IDs returns the member ids of both rings, sorted: the members DBSIZE
// and FLUSHALL address. The caller must not modify it.
func (t *Topology) IDs() []string { return t.ring.ids }

// Shares returns each ring member's primary share of the ring. The
// caller must not modify it.
func (t *Topology) Shares() map[string]float64 { return t.ring.shares }

// ReplicaRanges returns the ring's ranges with their n replicas, in token
// order, computed once per ring (n must be the same on every call).
func (t *Topology) ReplicaRanges(n int) []ring.ReplicaRange {
	rs := t.ring
	rs.rangesOnce.Do(func() { rs.ranges = rs.ring.ReplicaRanges(n) })
	return rs.ranges
}

// AppendPreference appends to dst the ids of the first n distinct nodes
// clockwise from token, in preference order (fewer when the ring has
// fewer nodes). It does not allocate when dst has room.
func (t *Topology) AppendPreference(dst []string, token uint64, n int) []string {
	var buf [16]int
	idx := buf[:0]
	if n > len(buf) {
		idx = make([]int, 0, n)
	}
	r := t.ring.ring
	for _, i := range r.AppendPreference(idx, token, n) {
		dst = append(dst, r.Node(i).ID)
	}
	return dst
}

// AppendAlsoPreference is AppendPreference on the other ring (Also); it
// appends nothing when there is none.
func (t *Topology) AppendAlsoPreference(dst []string, token uint64, n int) []string {
	r := t.ring.also
	if r == nil {
		return dst
	}
	var buf [16]int
	idx := buf[:0]
	if n > len(buf) {
		idx = make([]int, 0, n)
	}
	for _, i := range r.AppendPreference(idx, token, n) {
		dst = append(dst, r.Node(i).ID)
	}
	return dst
}

// Replica returns the replica that reaches member id: this node's own
// for Self, a peer's client for the others. Members that Left, and
// unknown ids, have none.
func (t *Topology) Replica(id string) (replica.Replica, bool) {
	r, ok := t.replicas[id]
	return r, ok && r != nil
}

// Down reports whether gossip does not report member id Alive.
func (t *Topology) Down(id string) bool { return t.down[id] }

// Isolation reports whether this node reaches no other ring member by
// gossip while it has someone to reach (isolated), how many of the
// other ring members it reaches, and how many there are.
func (t *Topology) Isolation() (isolated bool, reachable, others int) {
	return t.isolated, t.reachable, t.others
}

// Health returns what the node had learned of its peers beyond gossip
// when t was published. Its maps are shared: copy before changing.
func (t *Topology) Health() Health { return t.health }

// Current holds the topology a node publishes: the node stores a new
// snapshot whenever what it knows changes, and each request loads one
// and works with it from planning to reply.
type Current struct{ p atomic.Pointer[Topology] }

// Load returns the current topology, nil before the first Store.
func (c *Current) Load() *Topology { return c.p.Load() }

// Epoch returns the current topology's layout epoch (0 before the first
// Store).
func (c *Current) Epoch() uint64 {
	if t := c.p.Load(); t != nil {
		return t.Epoch()
	}
	return 0
}

// Store publishes t.
func (c *Current) Store(t *Topology) { c.p.Store(t) }

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

// isolation decides a topology's isolation from its member list:
// reachable counts the ring members (ids) other than self that gossip
// reports Alive or Suspect (a suspect still answers gossip until it is
// declared dead); others counts all of them. The node is isolated when
// it reaches none while it has someone to reach: another ring member, or
// a seed that is not itself.
func isolation(ms []membership.Member, self string, seeded bool, ids []string) (isolated bool, reachable, others int) {
	for _, m := range ms {
		if _, in := slices.BinarySearch(ids, m.ID); m.ID == self || m.State == membership.Left || !in {
			continue
		}
		others++
		if m.State == membership.Alive || m.State == membership.Suspect {
			reachable++
		}
	}
	return reachable == 0 && (others > 0 || seeded), reachable, others
}
