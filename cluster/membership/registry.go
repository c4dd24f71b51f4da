package membership

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
)

// maxWarned bounds the set of refusals already logged; when it fills up it
// is cleared, so a flood of distinct bad peers costs memory only up to the
// bound and each is logged again at most once per clearing.
const maxWarned = 1024

// registry is this node's table of members. memberlist calls its delegates
// with its own node lock held, so the registry never calls back into
// memberlist: it learns everything from the delegate callbacks and keeps
// its own copy, which Members, Stats and the join loop read.
//
// Lock order: memberlist's node lock, then registry.mu. Nothing holding
// registry.mu calls out of this file except changed, which must not block.
type registry struct {
	log     *slog.Logger
	changed func() // called after every change; must not block
	refused atomic.Uint64

	mu struct {
		sync.Mutex
		// members holds every node ever admitted, keyed by id, including
		// this node; dead and left members stay until they come back.
		members map[string]Member
		// warned holds the refusals already logged (id@addr: reason), so
		// gossip that repeats a bad peer does not repeat the log line.
		warned map[string]struct{}
		// boots holds each member's boot id as last seen in its metadata
		// (0: not known), which tells one run of it from another (see
		// leftstate.go).
		boots map[string]uint64
	}
}

func newRegistry(log *slog.Logger, changed func()) *registry {
	r := &registry{log: log, changed: changed}
	r.mu.members = make(map[string]Member)
	r.mu.warned = make(map[string]struct{})
	r.mu.boots = make(map[string]uint64)
	return r
}

// seed enters the members an earlier run knew (see Config.Known), except
// self and those already present, in the state their roster entry gives
// (Dead, or Left). Called before memberlist starts.
func (r *registry) seed(known []Member, self string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range rosterOf(known) {
		if _, ok := r.mu.members[m.ID]; ok || m.ID == self {
			continue
		}
		r.mu.members[m.ID] = m
	}
}

// admit decides whether a peer announced as alive may enter the member
// list. It refuses undecodable metadata, metadata naming another node, and
// a node id that a live member already holds at a different address. The
// refusal is counted and logged once per peer and reason.
func (r *registry) admit(name, addr string, raw []byte) error {
	err := r.check(name, addr, raw)
	if err != nil {
		r.refuse(name, addr, err)
	}
	return err
}

func (r *registry) check(name, addr string, raw []byte) error {
	m, err := decodeMeta(raw)
	if err != nil {
		return err
	}
	if m.NodeID != name {
		return fmt.Errorf("%w: metadata names %q", ErrBadMeta, m.NodeID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	known, ok := r.mu.members[name]
	if ok && known.GossipAddr != addr && (known.State == Alive || known.State == Suspect) {
		return fmt.Errorf("%w: %s is already at %s", ErrConflict, name, known.GossipAddr)
	}
	return nil
}

// refuse counts and logs (once per peer and reason) a refused peer.
func (r *registry) refuse(name, addr string, err error) {
	r.refused.Add(1)
	key := name + "@" + addr + ": " + err.Error()
	r.mu.Lock()
	_, seen := r.mu.warned[key]
	if !seen {
		if len(r.mu.warned) >= maxWarned {
			clear(r.mu.warned)
		}
		r.mu.warned[key] = struct{}{}
	}
	r.mu.Unlock()
	if !seen {
		r.log.Warn("membership: refused peer", "id", name, "addr", addr, "err", err)
	}
}

// alive records a member that joined, came back or changed its metadata.
func (r *registry) alive(name, addr string, raw []byte) {
	m, err := decodeMeta(raw)
	if err != nil {
		// admit refused this peer already; memberlist added it anyway
		// only if it bypassed the alive delegate, so keep it out.
		r.refuse(name, addr, err)
		return
	}
	r.mu.Lock()
	r.mu.boots[name] = m.Boot
	r.mu.members[name] = Member{
		ID:          name,
		GossipAddr:  addr,
		ClientAddr:  m.ClientAddr,
		ClusterAddr: m.ClusterAddr,
		VNodes:      m.VNodes,
		NodeState:   m.NodeState,
		State:       Alive,
	}
	r.mu.Unlock()
	r.changed()
}

// gone records a member that memberlist declared dead or that left. The
// two look the same to an event delegate; a member whose last metadata
// said NodeLeaving announced its departure and is Left, any other is Dead.
func (r *registry) gone(name string, raw []byte) {
	r.mu.Lock()
	m, ok := r.mu.members[name]
	if !ok {
		r.mu.Unlock()
		return
	}
	if md, err := decodeMeta(raw); err == nil {
		m.NodeState = md.NodeState
		r.mu.boots[name] = md.Boot
	}
	m.State = Dead
	if m.NodeState == NodeLeaving {
		m.State = Left
	}
	r.mu.members[name] = m
	r.mu.Unlock()
	r.changed()
}

// suspect marks an alive member whose probe by this node just failed.
func (r *registry) suspect(name string) {
	r.setState(name, Alive, Suspect)
}

// acked clears a suspicion once a probe of the member succeeds again.
func (r *registry) acked(name string) {
	r.setState(name, Suspect, Alive)
}

// setLeft marks a member Left: this node, once it left the cluster.
func (r *registry) setLeft(name string) {
	r.mu.Lock()
	m, ok := r.mu.members[name]
	if ok {
		m.State, m.NodeState = Left, NodeLeaving
		r.mu.members[name] = m
	}
	r.mu.Unlock()
}

// leftRuns returns the runs of the members that left, those whose boot id
// is known, sorted by id: what this node tells its peers (leftstate.go).
func (r *registry) leftRuns() []leftRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	var runs []leftRun
	for id, m := range r.mu.members {
		if b := r.mu.boots[id]; m.State == Left && b != 0 {
			runs = append(runs, leftRun{ID: id, Boot: b})
		}
	}
	slices.SortFunc(runs, func(a, b leftRun) int { return cmp.Compare(a.ID, b.ID) })
	return runs
}

// mergeLeft takes a peer's word that runs left: a member this node holds
// Dead in the same run (the same boot id) becomes Left, as if its goodbye
// had reached this node. Members alive, suspect, already left, unknown or
// seen in another run are left alone.
func (r *registry) mergeLeft(runs []leftRun) {
	r.mu.Lock()
	hit := false
	for _, run := range runs {
		m, ok := r.mu.members[run.ID]
		if !ok || m.State != Dead || run.Boot == 0 || r.mu.boots[run.ID] != run.Boot {
			continue
		}
		m.State, m.NodeState = Left, NodeLeaving
		r.mu.members[run.ID] = m
		hit = true
	}
	r.mu.Unlock()
	if hit {
		r.changed()
	}
}

func (r *registry) setState(name string, from, to State) {
	r.mu.Lock()
	m, ok := r.mu.members[name]
	hit := ok && m.State == from
	if hit {
		m.State = to
		r.mu.members[name] = m
	}
	r.mu.Unlock()
	if hit {
		r.changed()
	}
}

// get returns one member.
func (r *registry) get(name string) (Member, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.mu.members[name]
	return m, ok
}

// members returns every known member sorted by id.
func (r *registry) members() []Member {
	r.mu.Lock()
	out := make([]Member, 0, len(r.mu.members))
	for _, m := range r.mu.members {
		out = append(out, m)
	}
	r.mu.Unlock()
	sortMembers(out)
	return out
}

// counts returns how many members are in each state.
func (r *registry) counts() (s Stats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.mu.members {
		switch m.State {
		case Alive:
			s.Alive++
		case Suspect:
			s.Suspect++
		case Dead:
			s.Dead++
		case Left:
			s.Left++
		}
	}
	s.Refused = r.refused.Load()
	return s
}

// addrs returns the gossip addresses of alive members (seeds among them
// need no join) and, sorted, those of the dead ones (the join loop tries
// to reach them). Suspects are left alone: memberlist still gossips with
// them, and they turn dead or alive within the suspicion timeout.
func (r *registry) addrs() (alive map[string]bool, lost []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	alive = make(map[string]bool, len(r.mu.members))
	for _, m := range r.mu.members {
		switch {
		case m.State == Alive:
			alive[m.GossipAddr] = true
		case m.State == Dead && m.GossipAddr != "":
			lost = append(lost, m.GossipAddr)
		}
	}
	slices.Sort(lost)
	return alive, lost
}
