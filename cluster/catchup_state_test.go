package cluster

import (
	"slices"
	"testing"
	"time"
)

func TestCatchupStateAfterARestart(t *testing.T) {
	s := newCatchupState(false)
	if !s.behind() {
		t.Fatal("a node that asked nobody yet is not behind")
	}
	s.ask("b", "c")
	s.answer("b", 0, true)
	if !s.behind() || !slices.Equal(s.due(), []string{"c"}) {
		t.Fatalf("c has not answered: behind %v, due %v", s.behind(), s.due())
	}
	s.answer("c", 40, true)
	if !s.behind() || !slices.Equal(s.due(), []string{"c"}) {
		t.Fatalf("c holds hints: behind %v, due %v", s.behind(), s.due())
	}
	s.answer("c", 0, true)
	if s.behind() {
		t.Fatal("behind after every holder delivered, with intact data")
	}
	// A peer comes back: asked again, behind until it answers.
	s.ask("d")
	if !s.behind() {
		t.Fatal("not behind while a returning peer is unasked")
	}
	s.gone("d") // went away again before answering
	if s.behind() {
		t.Fatal("behind because of a peer that is gone")
	}
	// A peer back from its own outage is asked, not waited for; its
	// answer that it holds hints makes the node behind.
	s.query("e")
	if s.behind() || !slices.Contains(s.due(), "e") {
		t.Fatalf("query: behind %v, due %v", s.behind(), s.due())
	}
	s.answer("e", 3, true)
	if !s.behind() {
		t.Fatal("not behind while a returning peer holds hints for it")
	}
}

func TestCatchupStateAlone(t *testing.T) {
	s := newCatchupState(false)
	s.alone(false)
	if s.behind() {
		t.Fatal("a node with data, alone in its ring, is behind")
	}
	w := newCatchupState(true)
	w.alone(false)
	if !w.behind() {
		t.Fatal("a fresh node alone in a ring of N>1 is caught up: a wiped member would answer reads with nothing")
	}
	w.ask("b")
	w.answer("b", 0, true)
	if !w.behind() {
		t.Fatal("the wiped member found a peer with data and owes no repair")
	}
	solo := newCatchupState(true)
	solo.alone(true)
	if solo.behind() {
		t.Fatal("a fresh single-replica node is behind")
	}
}

func TestCatchupStateFreshNode(t *testing.T) {
	// A wiped node among peers holding data owes a complete repair round.
	s := newCatchupState(true)
	s.ask("b")
	s.answer("b", 0, true)
	if !s.behind() {
		t.Fatal("a wiped node is not behind before its repair")
	}
	s.repairDone()
	if s.behind() {
		t.Fatal("behind after the repair")
	}
	s.answer("b", 0, true) // later answers do not ask for another repair
	if s.behind() {
		t.Fatal("a second repair owed")
	}
	// A fresh node in a fresh cluster (no peer holds data) owes none.
	f := newCatchupState(true)
	f.ask("b", "c")
	f.answer("b", 0, false)
	f.answer("c", 0, false)
	if f.behind() {
		t.Fatal("a new cluster's node is behind")
	}
	// Its peers gain data later; one that returns from an outage does not
	// make it owe a repair: it was never without the cluster's data.
	f.ask("b")
	f.answer("b", 0, true)
	if f.behind() {
		t.Fatal("a node of a new cluster owes a repair once a peer returns with data")
	}
}

// TestCatchupStateOracle drives random events and compares behind() with
// its definition recomputed from the full history.
func TestCatchupStateOracle(t *testing.T) {
	peers := []string{"a", "b", "c"}
	for seed := range 200 {
		s := newCatchupState(seed%2 == 0)
		fresh := s.fresh
		asked := false
		waiting := map[string]bool{}
		hints := map[string]int64{}
		repair, repaired := false, false
		x := uint64(seed)*2654435761 + 1
		next := func(n int) int { x = x*6364136223846793005 + 1442695040888963407; return int(x>>33) % n }
		for range 50 {
			p := peers[next(len(peers))]
			switch next(6) {
			case 5:
				s.query(p)
			case 4:
				s.delivering(p)
				if hints[p] == 0 {
					hints[p] = 1
				}
			case 0:
				s.ask(p)
				waiting[p] = true
			case 1:
				h, data := int64(next(3)), next(2) == 0
				s.answer(p, h, data)
				asked = true
				delete(waiting, p)
				if h > 0 {
					hints[p] = h
				} else {
					delete(hints, p)
				}
				if fresh && data && !repaired {
					repair = true
				}
				if len(waiting) == 0 {
					fresh = false
				}
			case 2:
				s.gone(p)
				delete(waiting, p)
				delete(hints, p)
			case 3:
				if next(3) == 0 {
					s.repairDone()
					repair, repaired = false, true
				}
			}
			want := !asked || len(waiting) > 0 || len(hints) > 0 || repair
			if s.behind() != want {
				t.Fatalf("seed %d: behind %v, oracle %v", seed, s.behind(), want)
			}
		}
	}
}

func TestCutLatchSettles(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	var l cutLatch
	// Cut off: 1 of 4 reachable. Strict.
	if l.settled(1, 4, at(0)) {
		t.Fatal("settled while most others are unreachable")
	}
	// Healed, but gossip still holds two down: most reachable, not all.
	if l.settled(2, 4, at(time.Second)) {
		t.Fatal("settled at once with others still down in its view")
	}
	if l.settled(3, 4, at(time.Second+cutSettle-time.Millisecond)) {
		t.Fatal("settled before cutSettle")
	}
	if !l.settled(3, 4, at(time.Second+cutSettle)) {
		t.Fatal("not settled cutSettle after reaching most others")
	}

	// Every other reachable: settled at once.
	l = cutLatch{}
	if !l.settled(4, 4, at(0)) {
		t.Fatal("not settled with every other reachable")
	}

	// Losing the majority again restarts the wait.
	l = cutLatch{}
	l.settled(3, 4, at(0))
	l.settled(1, 4, at(time.Second))
	if l.settled(3, 4, at(cutSettle+time.Millisecond)) {
		t.Fatal("the wait did not restart after the majority was lost again")
	}
	if !l.settled(3, 4, at(time.Second+2*cutSettle)) {
		t.Fatal("not settled cutSettle after reaching most others again")
	}
}
