package ring

import (
	"math/rand/v2"
	"testing"
)

// setsPerCount is how many random member sets each node count is tried
// with; ids rotate through the styles of idStyles.
const setsPerCount = 200

func TestOwnershipSpread(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for n := 3; n <= 10; n++ {
		var bal, raw []float64
		for s := range setsPerCount {
			nodes := randomNodes(rng, s%len(idStyles), n)
			r := New(nodes, DefaultVNodes)
			x := spread(r)
			if x > 1.25 {
				t.Errorf("%d nodes %v: largest share is %.3fx the smallest", n, nodes, x)
			}
			bal = append(bal, x)
			raw = append(raw, spread(newRaw(nodes, DefaultVNodes)))
		}
		lo, med, hi := stats(bal)
		rlo, rmed, rhi := stats(raw)
		t.Logf("%2d nodes max/min share: balanced %.3f/%.3f/%.3f, raw tokens %.3f/%.3f/%.3f (min/median/max)",
			n, lo, med, hi, rlo, rmed, rhi)
	}
}

// TestJoinMovesLittle checks that a joining node takes about its share
// and little else: the fraction of the token space whose primary changes
// must stay under 2/(n+1). The same pair of rings measures a leave.
func TestJoinMovesLittle(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for n := 3; n <= 10; n++ {
		var prim, repl []float64
		for s := range setsPerCount / 4 {
			nodes := randomNodes(rng, s%len(idStyles), n+1)
			before, after := New(nodes[:n], DefaultVNodes), New(nodes, DefaultVNodes)
			f := moved(before, after, 1, true)
			if f > 2/float64(n+1) {
				t.Errorf("%d→%d nodes moved %.3f of primaries, limit %.3f", n, n+1, f, 2/float64(n+1))
			}
			prim = append(prim, f*float64(n+1))
			repl = append(repl, moved(before, after, 3, false)*float64(n+1))
		}
		lo, med, hi := stats(prim)
		rlo, rmed, rhi := stats(repl)
		t.Logf("%2d→%2d nodes, moved × (n+1): primary %.2f/%.2f/%.2f, N=3 replica set %.2f/%.2f/%.2f (min/median/max)",
			n, n+1, lo, med, hi, rlo, rmed, rhi)
	}
}
