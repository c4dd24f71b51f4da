package ring

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// recorded returns every member's tokens of r, as a topology would
// record them.
func recorded(r *Ring) ([]Node, map[string][]uint64) {
	toks := map[string][]uint64{}
	for i, n := range r.nodes {
		toks[n.ID] = r.Tokens(i)
	}
	return r.Nodes(), toks
}

// weightedSpread is the largest over the smallest primary share per
// unit of weight.
func weightedSpread(r *Ring) float64 {
	lo, hi := math.Inf(1), 0.0
	shares := r.Shares()
	for _, n := range r.nodes {
		s := shares[n.ID] / float64(n.VNodes)
		lo, hi = min(lo, s), max(hi, s)
	}
	return hi / lo
}

// join adds member id with weight v to r through JoinTokens and
// FromTokens.
func join(t testing.TB, r *Ring, id string, v int) *Ring {
	t.Helper()
	nodes, toks := recorded(r)
	toks[id] = JoinTokens(r, id, v)
	nr, err := FromTokens(append(nodes, Node{ID: id}), toks)
	if err != nil {
		t.Fatal(err)
	}
	return nr
}

// TestJoinMovesOnlyToTheNewMember: after a join every old token is where
// it was, and every token's primary is unchanged or the new member.
func TestJoinMovesOnlyToTheNewMember(t *testing.T) {
	r := New([]Node{{ID: "a"}, {ID: "b"}, {ID: "c"}}, 128)
	nr := join(t, r, "d", 128)
	for i, n := range r.nodes {
		j, _ := nr.Index(n.ID)
		if got, want := nr.Tokens(j), r.Tokens(i); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s's tokens changed", n.ID)
		}
	}
	d, _ := nr.Index("d")
	rng := rand.New(rand.NewPCG(1, 2))
	moved := 0
	const samples = 100000
	for range samples {
		tok := rng.Uint64()
		before, after := r.nodes[r.Primary(tok)].ID, nr.nodes[nr.Primary(tok)].ID
		if after != before {
			if nr.Primary(tok) != d {
				t.Fatalf("token %d moved from %s to %s", tok, before, after)
			}
			moved++
		}
	}
	if f := float64(moved) / samples; math.Abs(f-0.25) > 0.01 {
		t.Fatalf("the new member took %.3f of the keys, want 0.25", f)
	}
}

// TestJoinSpread reports the ownership spread after 1..10 joins into a
// 3-member ring, each member with 128 tokens, and what each join moved
// (the fraction of the token space whose primary, or whose N=3 replica
// set, changed, times the new member count). Every join takes from the
// members that own the most, so the spread stays close to New's, and a
// join moves exactly the new member's share of primaries: 1/(n+1).
func TestJoinSpread(t *testing.T) {
	r := New([]Node{{ID: "n00"}, {ID: "n01"}, {ID: "n02"}}, 128)
	t.Logf("members  3: spread %.3f", weightedSpread(r))
	for j := 1; j <= 10; j++ {
		nr := join(t, r, fmt.Sprintf("n%02d", 2+j), 128)
		n := float64(nr.Len())
		s, primary, set := weightedSpread(nr), moved(r, nr, 1, false)*n, moved(r, nr, 3, false)*n
		t.Logf("members %2d: spread %.3f, moved x (n+1): primary %.3f, N=3 replica set %.2f", nr.Len(), s, primary, set)
		if s > 1.05 || primary > 1.01 {
			t.Fatalf("after %d joins: spread %.3f, primary moved x (n+1) %.3f", j, s, primary)
		}
		r = nr
	}
}

// TestJoinWeights: a member with twice the tokens takes twice the share.
func TestJoinWeights(t *testing.T) {
	r := New([]Node{{ID: "a"}, {ID: "b"}}, 64)
	nr := join(t, r, "big", 128)
	if s := nr.Shares()["big"]; math.Abs(s-0.5) > 0.01 {
		t.Fatalf("share of the weight-128 member among two of 64: %.3f, want 0.5", s)
	}
}

// TestJoinFirstAndSecond: the first member takes its raw tokens; the
// second splits them evenly.
func TestJoinFirstAndSecond(t *testing.T) {
	empty, err := FromTokens(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := JoinTokens(empty, "a", 16)
	if len(first) != 16 {
		t.Fatalf("%d tokens for the first member", len(first))
	}
	r, err := FromTokens([]Node{{ID: "a"}}, map[string][]uint64{"a": first})
	if err != nil {
		t.Fatal(err)
	}
	r = join(t, r, "b", 16)
	if s := r.Shares()["b"]; math.Abs(s-0.5) > 0.01 {
		t.Fatalf("second member's share %.3f, want 0.5", s)
	}
}

func TestFromTokensRefusesBadTokens(t *testing.T) {
	if _, err := FromTokens([]Node{{ID: "a"}}, nil); !errors.Is(err, ErrBadTokens) {
		t.Fatalf("no tokens: %v", err)
	}
	_, err := FromTokens([]Node{{ID: "a"}, {ID: "b"}}, map[string][]uint64{"a": {1, 2}, "b": {2, 3}})
	if !errors.Is(err, ErrBadTokens) {
		t.Fatalf("a shared token: %v", err)
	}
}

// TestFromTokensRebuildsNew: a ring rebuilt from the tokens New placed is
// the same ring.
func TestFromTokensRebuildsNew(t *testing.T) {
	r := New([]Node{{ID: "a"}, {ID: "b", VNodes: 32}, {ID: "c"}}, 64)
	nodes, toks := recorded(r)
	fr, err := FromTokens(nodes, toks)
	if err != nil {
		t.Fatal(err)
	}
	if fr.Digest() != r.Digest() {
		t.Fatal("the rebuilt ring differs")
	}
}

// TestJoinTokensProperty: over random member sets and weights, a join
// keeps every old token, adds exactly v distinct new ones, and gives the
// new member its weight's share within 2%.
func TestJoinTokensProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for trial := range 200 {
		var nodes []Node
		for i := range 1 + rng.IntN(12) {
			nodes = append(nodes, Node{ID: fmt.Sprintf("m%d-%d", trial, i), VNodes: 8 + rng.IntN(249)})
		}
		r := New(nodes, 0)
		v := 8 + rng.IntN(249)
		toks := JoinTokens(r, "new", v)
		if len(toks) != v {
			t.Fatalf("trial %d: %d tokens, want %d", trial, len(toks), v)
		}
		nr := join(t, r, "new", v)
		if nr.Len() != r.Len()+1 || len(nr.tokens) != len(r.tokens)+v {
			t.Fatalf("trial %d: %d tokens on the new ring, want %d", trial, len(nr.tokens), len(r.tokens)+v)
		}
		weight := v
		for _, n := range r.nodes {
			weight += n.VNodes
		}
		want := float64(v) / float64(weight)
		if got := nr.Shares()["new"]; math.Abs(got-want) > 0.02*want {
			t.Fatalf("trial %d: share %.4f, want %.4f", trial, got, want)
		}
	}
}
