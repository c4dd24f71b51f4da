package ring

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// idStyles generate member ids the way deployments name nodes.
var idStyles = []struct {
	name string
	gen  func(r *rand.Rand, i int) string
}{
	{"random", func(r *rand.Rand, _ int) string {
		b := make([]byte, 4+r.IntN(12))
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		return string(b)
	}},
	{"uuid", func(r *rand.Rand, _ int) string {
		return fmt.Sprintf("node-%08x-%04x-%04x-%04x-%012x", r.Uint32(), r.Uint32()&0xffff,
			r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint64()&0xffffffffffff)
	}},
	{"ip", func(r *rand.Rand, i int) string {
		return fmt.Sprintf("10.0.%d.%d:7000", r.IntN(4), i+1)
	}},
}

// randomNodes returns n members with distinct ids of one style.
func randomNodes(r *rand.Rand, style, n int) []Node {
	seen := map[string]bool{}
	var out []Node
	for i := 0; len(out) < n; i++ {
		id := idStyles[style].gen(r, i)
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, Node{ID: id, Addr: id + "-rpc", ClientAddr: id + "-client"})
	}
	return out
}

// newRaw builds a ring from the raw hashed tokens, without balancing.
func newRaw(nodes []Node, vnodes int) *Ring {
	ns := normalize(nodes, vnodes)
	return build(ns, placeTokens(ns, nodeTokens))
}

// spread returns the largest primary share divided by the smallest.
func spread(r *Ring) float64 {
	sh := r.Shares()
	lo, hi := math.Inf(1), 0.0
	for _, n := range r.nodes {
		lo, hi = min(lo, sh[n.ID]), max(hi, sh[n.ID])
	}
	return hi / lo
}

// moved returns the exact fraction of the token space whose replica set
// (the first n nodes, compared as an ordered list of ids when ordered is
// set, else as a set) differs between a and b.
func moved(a, b *Ring, n int, ordered bool) float64 {
	pts := append(slices.Clone(a.tokens), b.tokens...)
	slices.Sort(pts)
	pts = slices.Compact(pts)
	var total float64
	for j, p := range pts {
		prev := pts[(j+len(pts)-1)%len(pts)]
		if !sameReplicas(a, b, p, n, ordered) {
			total += Range{Start: prev, End: p}.Fraction()
		}
	}
	return total
}

func sameReplicas(a, b *Ring, t uint64, n int, ordered bool) bool {
	ids := func(r *Ring) []string {
		var out []string
		for _, i := range r.AppendPreference(nil, t, n) {
			out = append(out, r.nodes[i].ID)
		}
		if !ordered {
			slices.Sort(out)
		}
		return out
	}
	return slices.Equal(ids(a), ids(b))
}

// stats returns the minimum, median and maximum of xs.
func stats(xs []float64) (lo, med, hi float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[0], s[len(s)/2], s[len(s)-1]
}
