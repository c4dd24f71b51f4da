package ring

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// checkMoves checks Moves(a, b, n) against the token-by-token oracle:
// the moves cover exactly the space whose replica set differs (moved),
// a random token lies in a move iff its replica sets differ, and each
// move's sets are the rings' own there.
func checkMoves(t *testing.T, a, b *Ring, n int) []Move {
	t.Helper()
	ms := Moves(a, b, n)
	var total float64
	for _, m := range ms {
		total += m.Fraction()
	}
	if want := moved(a, b, n, false); math.Abs(total-want) > 1e-9 {
		t.Fatalf("moves cover %.6f of the space, the replica sets differ on %.6f", total, want)
	}
	rng := rand.New(rand.NewPCG(3, 5))
	for range 20000 {
		tok := rng.Uint64()
		i := slices.IndexFunc(ms, func(m Move) bool { return m.Contains(tok) })
		same := sameReplicas(a, b, tok, n, false)
		if same != (i < 0) {
			t.Fatalf("token %d: replica sets the same %v, in a move %v", tok, same, i >= 0)
		}
		if i >= 0 {
			if f := a.ids(a.AppendPreference(nil, tok, n)); !slices.Equal(ms[i].From, f) {
				t.Fatalf("token %d: From %v, the old ring says %v", tok, ms[i].From, f)
			}
			if to := b.ids(b.AppendPreference(nil, tok, n)); !slices.Equal(ms[i].To, to) {
				t.Fatalf("token %d: To %v, the new ring says %v", tok, ms[i].To, to)
			}
		}
	}
	return ms
}

// TestMovesOfAJoin: after a join every move gives its range to the new
// member alone, and each old member is losing at most what it gave.
func TestMovesOfAJoin(t *testing.T) {
	r := New([]Node{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "d"}}, 64)
	nr := join(t, r, "e", 64)
	ms := checkMoves(t, r, nr, 3)
	if len(ms) == 0 {
		t.Fatal("a join moved nothing")
	}
	for _, m := range ms {
		if g := m.Gaining(); len(g) != 1 || g[0] != "e" || len(m.Losing()) != 1 {
			t.Fatalf("move %+v: gaining %v, losing %v", m, g, m.Losing())
		}
	}
	if got := Moves(r, r, 3); got != nil {
		t.Fatalf("a ring against itself moves %v", got)
	}
}

// TestMovesOfARemoval: removing a member (its tokens gone, nobody
// else's moved) hands each of its ranges to one other member.
func TestMovesOfARemoval(t *testing.T) {
	r := New([]Node{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "d"}, {ID: "e"}}, 64)
	nodes, toks := recorded(r)
	delete(toks, "c")
	nodes = slices.DeleteFunc(nodes, func(n Node) bool { return n.ID == "c" })
	nr, err := FromTokens(nodes, toks)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range checkMoves(t, r, nr, 3) {
		if l := m.Losing(); len(l) != 1 || l[0] != "c" || len(m.Gaining()) != 1 {
			t.Fatalf("move %+v: losing %v, gaining %v", m, l, m.Gaining())
		}
	}
}

// TestMovesBetweenUnrelatedRings: the oracle holds for rings New builds
// from different member sets, whose boundaries all differ.
func TestMovesBetweenUnrelatedRings(t *testing.T) {
	a := New([]Node{{ID: "a"}, {ID: "b"}, {ID: "c"}}, 32)
	b := New([]Node{{ID: "a"}, {ID: "c"}, {ID: "d"}, {ID: "e"}}, 32)
	for n := 1; n <= 4; n++ {
		checkMoves(t, a, b, n)
	}
}
