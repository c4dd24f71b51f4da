package topology

import (
	"maps"
	"slices"
	"time"

	"github.com/ringcache/ringcache/cluster/membership"
)

// HeardFresh is how long a peer that asked this node what it holds for
// it counts as running, whatever gossip says: a node back from a restart
// asks every peer at once, and its peers may need a few seconds of gossip
// to see it alive. Meanwhile they would write its keys' copies to
// stand-ins, and keep it catching up.
const HeardFresh = 5 * time.Second

// Health is what a node has learned of its peers beyond gossip, and of
// itself, as of one snapshot. The judgements (Unhealthy, Strict) take the
// time they are made at, so a snapshot stays right as time passes: a
// failure older than Retry no longer counts, nor a peer heard from longer
// than HeardFresh ago.
type Health struct {
	// Failing maps a peer to when its latest replica call failed; a
	// success removes it.
	Failing map[string]time.Time
	// Heard maps a peer to when it last asked this node what it holds for
	// it (it runs, whatever gossip says yet).
	Heard map[string]time.Time
	// Retry is how long a failed call keeps its peer unhealthy; the next
	// request after it tries the peer again.
	Retry time.Duration
	// Behind is set while this node is catching up on writes it missed.
	Behind bool
	// CutOff is set once this node was on the small side of a cut, and
	// stays set until its view has settled (the node clears it).
	CutOff bool
}

// Clone returns a copy of h whose maps may be changed.
func (h Health) Clone() Health {
	h.Failing = maps.Clone(h.Failing)
	h.Heard = maps.Clone(h.Heard)
	return h
}

// failing reports whether id's last call failed within Retry of now.
func (h Health) failing(id string, now time.Time) bool {
	at, ok := h.Failing[id]
	return ok && now.Sub(at) < h.Retry
}

// heard reports whether id asked this node within HeardFresh of now.
func (h Health) heard(id string, now time.Time) bool {
	at, ok := h.Heard[id]
	return ok && now.Sub(at) < HeardFresh
}

// Heard reports whether member id asked this node what it holds for it
// lately: it runs, whatever gossip says.
func (t *Topology) Heard(id string, now time.Time) bool { return t.health.heard(id, now) }

// Failing returns the peers whose latest call failed within Retry of now,
// sorted (nil if none).
func (t *Topology) Failing(now time.Time) []string {
	var out []string
	for id := range t.health.Failing {
		if t.health.failing(id, now) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Unhealthy returns, for a request at now, which nodes to avoid: members
// gossip does not report alive (unless they asked this node lately) and
// peers whose calls failed within Retry. Nil when every node is healthy,
// which costs no allocation.
func (t *Topology) Unhealthy(now time.Time) func(id string) bool {
	if len(t.down) == 0 && len(t.health.Failing) == 0 {
		return nil
	}
	return func(id string) bool { return t.unreachable(id, now) }
}

// unreachable reports whether member id counts as out of reach: down in
// gossip and not heard from lately, or failing this node's calls
// (whether or not they reached it: a one-way cut is a cut).
func (t *Topology) unreachable(id string, now time.Time) bool {
	return t.down[id] && !t.health.heard(id, now) || t.health.failing(id, now)
}

// MinoritySide reports whether more than half of the other ring members
// are out of reach of this node at now: it is on the small side of a cut.
func (t *Topology) MinoritySide(now time.Time) bool {
	if len(t.down) == 0 && len(t.health.Failing) == 0 {
		return false
	}
	others, gone := 0, 0
	for _, id := range t.ring.ids {
		if id == t.self {
			continue
		}
		others++
		if t.unreachable(id, now) {
			gone++
		}
	}
	return 2*gone > others
}

// Reachable counts the other ring members gossip reports alive and whose
// calls do not fail at now, and how many other ring members there are.
func (t *Topology) Reachable(now time.Time) (reachable, others int) {
	for _, id := range t.ring.ids {
		if id == t.self {
			continue
		}
		others++
		if m := t.byID[id]; m.State == membership.Alive && !t.health.failing(id, now) {
			reachable++
		}
	}
	return reachable, others
}

// Strict reports whether requests at now must use the key's owners
// alone, although sloppy quorum is on: while this node is catching up,
// and while it cannot reach more than half of the other ring members (it
// is on the small side of a cut, or was a moment ago: CutOff). A node
// whose view of who is down may be the cut's would otherwise keep a copy
// as a stand-in for an owner the rest of the cluster sees alive, and
// acknowledge a write through it and one owner that a reader never asks.
func (t *Topology) Strict(now time.Time) bool {
	return t.health.Behind || t.health.CutOff || t.MinoritySide(now)
}
