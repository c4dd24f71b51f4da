package cluster

import (
	"slices"
	"time"
)

// Catching up. A node that was down, cut off or wiped may lack writes the
// cluster acknowledged meanwhile: they wait as hints on other nodes, or,
// if its data is gone, only on the other replicas. Until it has them its
// reads are Behind (ReadReply.Behind): they take part in choosing the
// newest version but do not count toward a read quorum, so a read asks
// the key's other replicas instead of trusting an answer that may be
// missing the newest write.
//
// catchupState decides, with no I/O, whether the node is behind. The
// node asks every alive peer how many hints it holds for this node and
// whether it holds data (catchup.go): at start, and again for a peer
// whenever that peer comes back alive in this node's view (the two may
// have been cut off from each other). The node is behind while
//
//   - a peer it must ask has not answered yet, or nobody answered yet
//     since the start while the ring has other members (a restarted
//     node that reaches none of them knows nothing of what it missed).
//     A node must hear from every peer alive at its start, and from the
//     peers that come back after it saw more than half of the others
//     down (it was on the small side of a cut). A peer that comes back to a node that
//     kept reaching most of the cluster is asked too, but the node does
//     not wait for its answer: the others took the writes it may have
//     missed, and only a peer that says it holds hints for it makes it
//     behind;
//   - some alive peer holds hints for it (their replay is on its way);
//   - its own data started empty while a peer holds data: a wiped disk,
//     or a new node, that only a complete anti-entropy round over its
//     ranges can fill (hints cover only the writes made while it was
//     away).
type catchupState struct {
	// fresh is set when the node's engine held no records at start,
	// until the peers asked at start have all answered: a repair is owed
	// only if one of them held data then. Data that reaches the node
	// later comes through writes, hints and repair like anywhere else.
	fresh bool
	// asked is set once some peer answered since the start.
	asked bool
	// waiting holds the peers whose answer the node waits for; asking
	// those it asks without waiting.
	waiting, asking []string
	// holders maps the peers that hold hints for this node to how many.
	holders map[string]int64
	// repair is set while a complete repair round is owed (fresh, and a
	// peer holds data); repaired once one completed.
	repair, repaired bool
}

// cutSettle is how long a node that was cut off stays on strict quorum
// once it reaches most of the others again, unless it sees every one of
// them alive sooner. Its own gossip may still hold others down or
// suspect for a few seconds after a heal (it declared them while it heard
// nothing, and their refutations take gossip rounds to arrive), and a
// request that believed them down would write their copies to stand-ins
// that the rest of the cluster, which sees them alive, never reads.
const cutSettle = 5 * time.Second

// cutLatch decides, with no I/O, when a node that was cut off (it saw, by
// gossip or by its own calls failing, more than half of the others
// unreachable) may use stand-ins again.
type cutLatch struct {
	// reachedAt is when the node first reached most of the others again,
	// zero while it does not.
	reachedAt time.Time
}

// settled records one look at the cluster, reachable of the others alive
// in gossip with calls that do not fail, and reports whether strict
// quorum may end: every other reachable, or most of them for cutSettle.
func (l *cutLatch) settled(reachable, others int, now time.Time) bool {
	if 2*(others-reachable) > others {
		l.reachedAt = time.Time{}
		return false
	}
	if l.reachedAt.IsZero() {
		l.reachedAt = now
	}
	if reachable >= others || now.Sub(l.reachedAt) >= cutSettle {
		l.reachedAt = time.Time{}
		return true
	}
	return false
}

func newCatchupState(fresh bool) *catchupState {
	return &catchupState{fresh: fresh, holders: map[string]int64{}}
}

// behind reports whether the node may still lack acknowledged writes.
func (s *catchupState) behind() bool {
	return !s.asked || len(s.waiting) > 0 || len(s.holders) > 0 || s.repair
}

// ask adds peers whose answer is now awaited (peers alive at the start,
// or back after this node was cut off).
func (s *catchupState) ask(peers ...string) {
	for _, p := range peers {
		if !slices.Contains(s.waiting, p) {
			s.waiting = append(s.waiting, p)
		}
	}
}

// query adds peers to ask without waiting for them (peers back after an
// outage of theirs).
func (s *catchupState) query(peers ...string) {
	for _, p := range peers {
		if !slices.Contains(s.asking, p) && !slices.Contains(s.waiting, p) {
			s.asking = append(s.asking, p)
		}
	}
}

// due returns the peers to ask on this pass: those awaited or queried,
// and those still holding hints.
func (s *catchupState) due() []string {
	out := slices.Clone(s.waiting)
	for _, p := range s.asking {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for p := range s.holders {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// answer records a peer's answer: the hints it holds for this node, and
// whether it holds data of its own.
func (s *catchupState) answer(peer string, hints int64, hasData bool) {
	s.asked = true
	s.waiting = slices.DeleteFunc(s.waiting, func(p string) bool { return p == peer })
	s.asking = slices.DeleteFunc(s.asking, func(p string) bool { return p == peer })
	if hints > 0 {
		s.holders[peer] = hints
	} else {
		delete(s.holders, peer)
	}
	if s.fresh && hasData && !s.repaired {
		s.repair = true
	}
	if len(s.waiting) == 0 {
		s.fresh = false
	}
}

// alone records that the ring has no member but this node: there is no
// one to ask. A node with data of its own can have missed nothing then.
// A fresh one stays behind unless it is meant to hold every key alone
// (solo: N is 1): it may be a wiped member that has not found its peers
// yet, and what it would answer for now is nothing.
func (s *catchupState) alone(solo bool) {
	if !s.fresh || solo {
		s.asked, s.fresh = true, false
	}
}

// delivering records that holder is delivering hints to this node (it
// may not have answered a question yet: the node was not asking it, for
// it never saw the holder go away).
func (s *catchupState) delivering(holder string) {
	if s.holders[holder] == 0 {
		s.holders[holder] = 1 // some; the next answer says how many
	}
}

// gone forgets a peer that is no longer alive: it can deliver nothing
// now, and is asked again when it comes back.
func (s *catchupState) gone(peer string) {
	s.waiting = slices.DeleteFunc(s.waiting, func(p string) bool { return p == peer })
	s.asking = slices.DeleteFunc(s.asking, func(p string) bool { return p == peer })
	delete(s.holders, peer)
}

// repairDone records a complete repair round over the node's ranges.
func (s *catchupState) repairDone() {
	s.repair, s.repaired = false, true
}
