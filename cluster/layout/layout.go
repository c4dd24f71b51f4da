package layout

import (
	"cmp"
	"slices"
	"strings"

	"github.com/ringcache/ringcache/cluster/ring"
)

// State is a member's place in the layout: what it owns now and what
// the operation in progress does with it.
type State uint8

const (
	// Joining members take ranges in the operation in progress: they
	// receive writes from its first stage and serve reads from its
	// read-new stage on.
	Joining State = iota + 1
	// Normal members own their tokens' ranges.
	Normal
	// Leaving members give their ranges away in the operation in
	// progress (RINGCACHE LEAVE); they still own them until it ends.
	Leaving
	// Removing members are dead and their ranges are being moved to the
	// next owners by the others (RINGCACHE REMOVE).
	Removing
	// Replacing members are dead and a new member is taking over their
	// tokens (ringcache --replace).
	Replacing
	// Left members own nothing and are never called again; their id
	// cannot be used by another node.
	Left
)

// String returns the state's name as RINGCACHE NODES shows it.
func (s State) String() string {
	switch s {
	case Joining:
		return "joining"
	case Normal:
		return "normal"
	case Leaving:
		return "leaving"
	case Removing:
		return "removing"
	case Replacing:
		return "replacing"
	case Left:
		return "left"
	}
	return "unknown"
}

// owns reports whether a member in state s owns its ranges before the
// operation in progress completes.
func (s State) owns() bool {
	return s == Normal || s == Leaving || s == Removing || s == Replacing
}

// Member is one node of the layout.
type Member struct {
	// ID is the node id.
	ID string `json:"id"`
	// RaftID is the member's id in the consensus group, unique to this
	// incarnation of the id.
	RaftID uint64 `json:"raft_id"`
	// Incarnation is a random number the node drew when it first
	// started with an empty disk: a join repeated by the same node is
	// recognised, an empty node claiming the id of a member is not.
	Incarnation uint64 `json:"incarnation,omitempty"`
	// ClusterAddr, ClientAddr and GossipAddr are where the member said
	// it listens when it joined (gossip has the current ones).
	ClusterAddr string `json:"cluster_addr"`
	ClientAddr  string `json:"client_addr,omitempty"`
	GossipAddr  string `json:"gossip_addr,omitempty"`
	// Tokens are the member's ring tokens, sorted, chosen once when it
	// joined (or taken over from the member it replaced); nil once Left.
	Tokens []uint64 `json:"tokens,omitempty"`
	// State is the member's place in the layout.
	State State `json:"state"`
}

// Kind is the kind of a topology operation.
type Kind uint8

const (
	// Join gives a new member tokens and streams it their ranges.
	Join Kind = iota + 1
	// Leave moves a live member's ranges to their next owners.
	Leave
	// Remove moves a dead member's ranges to their next owners, from
	// the surviving replicas.
	Remove
	// Replace gives a dead member's tokens to a new member, streamed
	// from the surviving replicas.
	Replace
)

// String returns "join", "leave", "remove" or "replace".
func (k Kind) String() string {
	switch k {
	case Join:
		return "join"
	case Leave:
		return "leave"
	case Remove:
		return "remove"
	case Replace:
		return "replace"
	}
	return "unknown"
}

// Stage is where an operation is. Each stage is entered with a new
// epoch, and the next one only once every live member has seen it.
type Stage uint8

const (
	// WriteBothReadOld: writes go to the old and the new replicas of
	// every moved range (W of each), reads to the old ones.
	WriteBothReadOld Stage = iota + 1
	// Streaming: as WriteBothReadOld, while the members gaining ranges
	// pull them from the old replicas.
	Streaming
	// WriteBothReadNew: writes still go to both, reads to the new
	// replicas, which hold everything by now.
	WriteBothReadNew
	// UseNew: reads and writes go to the new replicas only. When every
	// live member has seen it the operation is done and the layout is
	// the new one.
	UseNew
)

// String returns the stage's name as RINGCACHE TRANSFERS shows it.
func (s Stage) String() string {
	switch s {
	case WriteBothReadOld:
		return "write-both/read-old"
	case Streaming:
		return "streaming"
	case WriteBothReadNew:
		return "write-both/read-new"
	case UseNew:
		return "use-new"
	}
	return "unknown"
}

// Op is the topology operation in progress (at most one at a time).
type Op struct {
	// Kind is what the operation does.
	Kind Kind `json:"kind"`
	// Node is the member joining, leaving, removed, or the replacement.
	Node string `json:"node"`
	// Old is the member replaced (Replace only).
	Old string `json:"old,omitempty"`
	// Stage is where the operation is.
	Stage Stage `json:"stage"`
	// Epoch is the layout epoch the stage began at.
	Epoch uint64 `json:"epoch"`
	// Started is the layout epoch the operation began at.
	Started uint64 `json:"started"`
	// Pending lists, sorted, the members gaining ranges that have not
	// finished streaming them yet.
	Pending []string `json:"pending,omitempty"`
	// Gaining lists, sorted, every member gaining ranges.
	Gaining []string `json:"gaining,omitempty"`
	// Forced is set when the operation was forced past a check that
	// data may be lost (Remove with too few survivors).
	Forced bool `json:"forced,omitempty"`
}

// Layout is the cluster's topology as the consensus log has it: the
// members with their tokens and states, the operation in progress, and
// the epoch that numbers every change. A Layout is a value: Apply
// returns a new one and never changes its argument.
type Layout struct {
	// ClusterID names the cluster; set by Bootstrap.
	ClusterID string `json:"cluster_id"`
	// Epoch counts the changes applied; every change increments it.
	Epoch uint64 `json:"epoch"`
	// Members holds every member, sorted by id, Left ones included.
	Members []Member `json:"members"`
	// Op is the operation in progress, nil when none is.
	Op *Op `json:"op,omitempty"`
	// VNodes is the token count a joining member gets when it asks for
	// none.
	VNodes int `json:"vnodes"`
}

// Member returns member id.
func (l *Layout) Member(id string) (Member, bool) {
	i, ok := l.index(id)
	if !ok {
		return Member{}, false
	}
	return l.Members[i], true
}

func (l *Layout) index(id string) (int, bool) {
	return slices.BinarySearchFunc(l.Members, id, func(m Member, id string) int { return strings.Compare(m.ID, id) })
}

// Bootstrapped reports whether the layout has a cluster.
func (l *Layout) Bootstrapped() bool { return l.ClusterID != "" }

// Voters returns the consensus ids of the members that have not left:
// the consensus group follows the layout.
func (l *Layout) Voters() []uint64 {
	var out []uint64
	for _, m := range l.Members {
		if m.State != Left {
			out = append(out, m.RaftID)
		}
	}
	slices.Sort(out)
	return out
}

// Rings returns the ring of the members that own ranges now (cur), and
// the ring they will own once the operation in progress completes
// (next; the same ring when none is in progress).
func (l *Layout) Rings() (cur, next *ring.Ring) {
	cur = l.ringOf(func(m Member) bool { return m.State.owns() }, nil)
	if l.Op == nil {
		return cur, cur
	}
	var over map[string]string
	if l.Op.Kind == Replace {
		over = map[string]string{l.Op.Old: l.Op.Node}
	}
	next = l.ringOf(func(m Member) bool {
		switch m.State {
		case Joining:
			return l.Op.Kind == Join
		case Normal:
			return true
		}
		return false
	}, over)
	return cur, next
}

// ringOf builds the ring of the members keep selects; over maps a member
// to the one that takes over its tokens.
func (l *Layout) ringOf(keep func(Member) bool, over map[string]string) *ring.Ring {
	var nodes []ring.Node
	tokens := map[string][]uint64{}
	for _, m := range l.Members {
		if to, ok := over[m.ID]; ok {
			n, _ := l.Member(to)
			nodes = append(nodes, ring.Node{ID: n.ID, Addr: n.ClusterAddr, ClientAddr: n.ClientAddr})
			tokens[n.ID] = m.Tokens
			continue
		}
		if !keep(m) {
			continue
		}
		nodes = append(nodes, ring.Node{ID: m.ID, Addr: m.ClusterAddr, ClientAddr: m.ClientAddr})
		tokens[m.ID] = m.Tokens
	}
	r, err := ring.FromTokens(nodes, tokens)
	if err != nil {
		// Apply keeps every owner's tokens present and distinct.
		panic("layout: " + err.Error())
	}
	return r
}

// Clone returns a deep copy of l.
func (l *Layout) Clone() *Layout {
	c := *l
	c.Members = slices.Clone(l.Members)
	for i := range c.Members {
		c.Members[i].Tokens = slices.Clone(c.Members[i].Tokens)
	}
	if l.Op != nil {
		op := *l.Op
		op.Pending = slices.Clone(op.Pending)
		op.Gaining = slices.Clone(op.Gaining)
		c.Op = &op
	}
	return &c
}

func sortMembers(ms []Member) {
	slices.SortFunc(ms, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
}
