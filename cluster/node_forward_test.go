package cluster

import (
	"log/slog"
	"testing"
	"time"

	"github.com/ringcache/ringcache/cluster/membership"
)

// TestStandsBackAfterRestart walks the primary hold of a restarted node
// through its joins: held from the start until a join tells, released by
// a first join that found it not counted down, held again for
// primaryGrace by any join that found it counted down.
func TestStandsBackAfterRestart(t *testing.T) {
	at := time.Unix(1000, 0)
	n := &Node{cfg: NodeConfig{HealthRetry: time.Second}, log: slog.New(slog.DiscardHandler),
		now: func() time.Time { return at }}
	if n.standsBack(at) {
		t.Fatal("a node that never set a hold stands back")
	}

	// A restart: held from the start, until a join tells.
	n.primaryHold.Store(at.Add(n.primaryGrace()).UnixNano())
	if !n.standsBack(at.Add(time.Second)) {
		t.Fatal("a restarted node takes the role before its first join")
	}
	if n.standsBack(at.Add(n.primaryGrace())) {
		t.Fatal("a restarted node whose join never came still stands back after primaryGrace")
	}
	n.joined(false)
	if n.standsBack(at) {
		t.Fatal("a first join that found the node not counted down left it standing back")
	}

	// A later join that finds it counted down (after a cut): held again.
	at = at.Add(time.Minute)
	n.joined(true)
	if !n.standsBack(at.Add(n.primaryGrace() - time.Millisecond)) {
		t.Fatal("a join that found the node counted down did not hold it back")
	}
	n.joined(false) // a later join that did not: the hold stays
	if !n.standsBack(at.Add(time.Second)) {
		t.Fatal("a later join released the hold of a counted-down node early")
	}
	if n.standsBack(at.Add(n.primaryGrace())) {
		t.Fatal("the hold outlived primaryGrace")
	}
}

func TestRestarted(t *testing.T) {
	m := func(id string, st membership.State) membership.Member { return membership.Member{ID: id, State: st} }
	for _, tc := range []struct {
		known []membership.Member
		want  bool
	}{
		{nil, false},
		{[]membership.Member{m("a", membership.Alive)}, false},
		{[]membership.Member{m("a", membership.Alive), m("b", membership.Left)}, false},
		{[]membership.Member{m("a", membership.Alive), m("b", membership.Dead)}, true},
		{[]membership.Member{m("b", membership.Suspect)}, true},
	} {
		if got := restarted(tc.known, "a"); got != tc.want {
			t.Errorf("restarted(%v, a) = %v, want %v", tc.known, got, tc.want)
		}
	}
}
