package ring

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// naivePreference is the oracle: scan the sorted tokens from the first one
// at or after t, wrapping, collecting owners not seen yet.
func naivePreference(r *Ring, t uint64, n int) []int {
	out := []int{}
	if len(r.tokens) == 0 {
		return out
	}
	start := 0
	for start < len(r.tokens) && r.tokens[start] < t {
		start++
	}
	for i := 0; i < len(r.tokens) && len(out) < n; i++ {
		o := int(r.owners[(start+i)%len(r.tokens)])
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

// randomRing returns a ring of 1 to 20 members, some with their own vnode
// counts.
func randomRing(rng *rand.Rand) (*Ring, []Node, int) {
	n := 1 + rng.IntN(20)
	nodes := randomNodes(rng, rng.IntN(len(idStyles)), n)
	for i := range nodes {
		if rng.IntN(3) == 0 {
			nodes[i].VNodes = 1 + rng.IntN(40)
		}
	}
	def := 1 + rng.IntN(64)
	return New(nodes, def), nodes, def
}

func TestPreferenceMatchesOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		r, _, _ := randomRing(rng)
		for range 50 {
			tok := rng.Uint64()
			if rng.IntN(4) == 0 { // land exactly on a boundary
				tok = r.tokens[rng.IntN(len(r.tokens))]
			}
			n := rng.IntN(r.Len() + 3)
			got := r.AppendPreference(nil, tok, n)
			want := naivePreference(r, tok, n)
			if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("AppendPreference(%x, %d) = %v, oracle %v", tok, n, got, want)
			}
			if len(got) != min(n, r.Len()) {
				t.Fatalf("got %d replicas, want min(%d, %d)", len(got), n, r.Len())
			}
			var walked []int
			r.Walk(tok, func(i int) bool { walked = append(walked, i); return true })
			if !slices.Equal(walked, naivePreference(r, tok, r.Len())) {
				t.Fatalf("Walk = %v, oracle %v", walked, naivePreference(r, tok, r.Len()))
			}
			for _, i := range got {
				if !r.Owns(r.Node(i).ID, tok, n) {
					t.Fatalf("Owns(%s) false for a listed replica", r.Node(i).ID)
				}
			}
		}
	}
}

func TestWalkStopsEarly(t *testing.T) {
	r := New(randomNodes(rand.New(rand.NewPCG(5, 6)), 0, 12), 16)
	for stop := 1; stop <= 12; stop++ {
		calls := 0
		r.Walk(42, func(int) bool { calls++; return calls < stop })
		if calls != stop {
			t.Errorf("Walk made %d calls after false at %d", calls, stop)
		}
	}
}

func TestDeterministicUnderInputOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 100 {
		r, nodes, def := randomRing(rng)
		shuffled := slices.Clone(nodes)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		shuffled = append(shuffled, shuffled[0]) // a member listed twice
		r2 := New(shuffled, def)
		if r.Digest() != r2.Digest() || !slices.Equal(r.tokens, r2.tokens) ||
			!slices.Equal(r.owners, r2.owners) || !slices.Equal(r.prefs, r2.prefs) {
			t.Fatal("input order changed the ring")
		}
	}
}

func TestRestartKeepsTokens(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for range 50 {
		nodes := randomNodes(rng, rng.IntN(len(idStyles)), 3+rng.IntN(8))
		before := New(nodes, 128)
		// The node restarts on new ports: its id, and so its tokens, stay.
		moved := slices.Clone(nodes)
		moved[0].Addr, moved[0].ClientAddr = "127.0.0.1:1", "127.0.0.1:2"
		after := New(moved, 128)
		if before.Digest() != after.Digest() {
			t.Fatal("restart with new addresses changed placement")
		}
		for i := range nodes {
			if !slices.Equal(before.Tokens(i), after.Tokens(i)) {
				t.Fatalf("node %s changed tokens across restart", nodes[i].ID)
			}
		}
		if i, _ := after.Index(nodes[0].ID); after.Node(i).Addr != "127.0.0.1:1" {
			t.Fatal("ring kept the old address")
		}
	}
}

func TestBalanceKeepsWalkOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for range 50 {
		nodes := randomNodes(rng, rng.IntN(len(idStyles)), 2+rng.IntN(9))
		raw, bal := newRaw(nodes, 64), New(nodes, 64)
		if !isRotation(raw.owners, bal.owners) {
			t.Fatal("balancing reordered tokens")
		}
		for k := 1; k < len(bal.tokens); k++ {
			if bal.tokens[k-1] >= bal.tokens[k] {
				t.Fatal("balanced tokens not strictly increasing")
			}
		}
	}
}

func isRotation(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for s := range b {
		if slices.Equal(a, append(slices.Clone(b[s:]), b[:s]...)) {
			return true
		}
	}
	return len(a) == 0
}

func TestRangesCoverRing(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for range 100 {
		r, _, _ := randomRing(rng)
		n := 1 + rng.IntN(4)
		rs := r.ReplicaRanges(n)
		var sum float64
		for k, g := range rs {
			if prev := rs[(k+len(rs)-1)%len(rs)]; prev.End != g.Start {
				t.Fatalf("range %d starts at %x, previous ends at %x", k, g.Start, prev.End)
			}
			sum += g.Fraction()
			for _, tok := range []uint64{g.Start + 1, g.End} {
				if !g.Contains(tok) {
					t.Fatalf("range %+v does not contain %x", g.Range, tok)
				}
				if want := ids(r, r.AppendPreference(nil, tok, n)); !slices.Equal(g.Replicas, want) {
					t.Fatalf("range replicas %v, preference list %v", g.Replicas, want)
				}
			}
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Fatalf("ranges cover %v of the ring", sum)
		}
		var total float64
		for _, f := range r.ReplicaShares(n) {
			total += f
		}
		if want := float64(min(n, r.Len())); math.Abs(total-want) > 1e-9 {
			t.Fatalf("replica shares sum to %v, want %v", total, want)
		}
	}
}

func TestWeightedShares(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for range 20 {
		nodes := randomNodes(rng, 1, 5)
		nodes[0].VNodes = 256
		sh := New(nodes, 128).Shares()
		for _, n := range nodes[1:] {
			if ratio := sh[nodes[0].ID] / sh[n.ID]; math.Abs(ratio-2) > 0.02 {
				t.Fatalf("256-vnode node holds %.3fx a 128-vnode node, want 2x", ratio)
			}
		}
	}
}
