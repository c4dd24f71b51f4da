package ring

import "math/bits"

// Balancing.
//
// Raw tokens are uniform random positions, so a node's primary share is a
// sum of V random gaps: with V = 128 its relative spread is about 1/sqrt(V),
// and across 10 nodes the largest share is typically 1.3x to 1.5x the
// smallest. balance removes that spread by nudging token positions, never
// reordering them:
//
// Every boundary between two ranges of different owners a and b (the token
// ending a's range and starting b's) moves toward the node with too much
// space, by (e_a/d_a - e_b/d_b)/2, where e is a node's excess over its
// weighted target and d its number of such boundaries. Each round therefore
// sheds half of every node's excess across all of its boundaries and takes
// in a share of its neighbours' excess: a diffusion (a lazy random walk on
// the graph of adjacent nodes), which converges geometrically because
// every pair of nodes shares many boundaries. A boundary never moves by
// more than just under half of the range it shrinks, so tokens stay
// distinct and in order and the walk order of nodes (hence replica sets)
// is that of the raw tokens.
//
// Everything is integer arithmetic on the sorted member set, so every
// member computes the same positions. The trade-off: a token's final
// position depends on the other members as well as on its node id. A
// membership change therefore shifts other nodes' boundaries by the change
// in their corrections, on top of the ranges the joining or leaving node
// takes or gives up. The spread tests measure both (spread_test.go).

const (
	// maxRounds bounds the diffusion; it normally stops far earlier.
	maxRounds = 200
	// tolDiv: stop once every node is within target/tolDiv of its target.
	tolDiv = 1000
)

// balance adjusts vs (sorted, distinct tokens) in place so that node i's
// primary share approaches w[i]/sum(w), then restores sorted order.
func balance(vs []vnode, w []uint64) {
	if len(w) < 2 || len(vs) < 2 {
		return
	}
	var sum uint64
	for _, x := range w {
		sum += x
	}
	// Shares are kept in quarter units of the token space so that one
	// node's load (< 2^64) and signed differences fit in an int64.
	target := make([]int64, len(w))
	for i, x := range w {
		q, _ := bits.Div64(x, 0, sum) // 2^64 * x / sum, exact for x < sum
		target[i] = int64(q >> 2)
	}
	deg := degrees(vs, len(w))
	b := balancer{vs: vs, target: target, deg: deg,
		load: make([]int64, len(w)), excess: make([]int64, len(w)),
		delta: make([]int64, len(vs))}
	for range maxRounds {
		if b.measure() {
			break
		}
		b.step()
	}
	sortVNodes(vs) // a token moved past 2^64-1 wraps to the front
}

type balancer struct {
	vs     []vnode
	target []int64 // per node, quarter units
	deg    []int64 // per node: boundaries with another node
	load   []int64 // per node, quarter units
	excess []int64 // load - target
	delta  []int64 // per token: how far it moves down this round
}

// gap returns the length of range k, (vs[k-1], vs[k]], in token units.
func (b *balancer) gap(k int) uint64 {
	prev := b.vs[(k+len(b.vs)-1)%len(b.vs)].token
	return b.vs[k].token - prev // wraps for k == 0
}

// measure computes loads and excesses and reports whether every node is
// within tolerance of its target.
func (b *balancer) measure() bool {
	clear(b.load)
	for k, v := range b.vs {
		b.load[v.owner] += int64(b.gap(k) >> 2)
	}
	done := true
	for i := range b.load {
		b.excess[i] = b.load[i] - b.target[i]
		if abs(b.excess[i]) > b.target[i]/tolDiv {
			done = false
		}
	}
	return done
}

// step moves every boundary once, all computed from the same loads.
func (b *balancer) step() {
	m := len(b.vs)
	for k := range b.vs {
		a, c := b.vs[k].owner, b.vs[(k+1)%m].owner
		if a == c {
			b.delta[k] = 0
			continue
		}
		f := b.excess[a]/b.deg[a]/2 - b.excess[c]/b.deg[c]/2
		// f > 0 moves token k down, shrinking range k; f < 0 moves it
		// up, shrinking range k+1. Limit to just under half the range so
		// the neighbouring boundary can take the other half.
		if f > 0 {
			f = min(f, room(b.gap(k)))
		} else {
			f = max(f, -room(b.gap((k+1)%m)))
		}
		b.delta[k] = f
	}
	for k, d := range b.delta {
		b.vs[k].token -= uint64(d) << 2 // two's complement: moves up when d < 0
	}
}

// degrees counts, per node, the boundaries it shares with another node.
func degrees(vs []vnode, n int) []int64 {
	deg := make([]int64, n)
	for k, v := range vs {
		next := vs[(k+1)%len(vs)].owner
		if next != v.owner {
			deg[v.owner]++
			deg[next]++
		}
	}
	for i := range deg {
		deg[i] = max(deg[i], 1) // a node with no boundary just never moves
	}
	return deg
}

// room returns how far (in quarter units) one end of a range of gap token
// units may move inward, leaving the other end the same room and the range
// non-empty.
func room(gap uint64) int64 {
	q := gap >> 2
	if q < 2 {
		return 0
	}
	return int64((q - 1) / 2)
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
