package ring

// Range is an arc of the token space: the tokens t with Start < t <= End,
// wrapping past the top of the token space when End < Start. Start == End
// occurs only on a ring with a single token and then covers every token.
type Range struct {
	Start, End uint64
}

// Contains reports whether token t lies in the range.
func (g Range) Contains(t uint64) bool {
	if g.Start < g.End {
		return g.Start < t && t <= g.End
	}
	return t > g.Start || t <= g.End
}

// Fraction returns the range's share of the token space, in (0, 1].
func (g Range) Fraction() float64 {
	if g.Start == g.End {
		return 1
	}
	return float64(g.End-g.Start) / (1 << 64) // wrapping subtraction
}

// ReplicaRange is a range and the ids of its replicas, primary first.
type ReplicaRange struct {
	Range
	Replicas []string
}

// Ranges returns the ranges between consecutive tokens, in token order:
// range k ends at the k-th smallest token, and the first one wraps around.
// Every member computes the same boundaries from the same member list,
// which is what lets replicas compare data range by range.
func (r *Ring) Ranges() []Range {
	m := len(r.tokens)
	if m == 0 {
		return nil
	}
	out := make([]Range, m)
	for k := range out {
		out[k] = Range{Start: r.tokens[(k+m-1)%m], End: r.tokens[k]}
	}
	return out
}

// ReplicaRanges returns Ranges with the n replicas of each (every node
// holding a token if n exceeds that many). Keys in a range share one replica set.
func (r *Ring) ReplicaRanges(n int) []ReplicaRange {
	rs := r.Ranges()
	n = min(max(n, 0), r.placed)
	ids := make([]string, 0, len(rs)*n)
	var buf []int
	out := make([]ReplicaRange, len(rs))
	for k, g := range rs {
		buf = r.AppendPreference(buf[:0], g.End, n)
		start := len(ids)
		for _, i := range buf {
			ids = append(ids, r.nodes[i].ID)
		}
		out[k] = ReplicaRange{Range: g, Replicas: ids[start:len(ids):len(ids)]}
	}
	return out
}

// Shares returns each node's fraction of the token space as primary owner.
// The fractions sum to 1 (nodes without a token are absent).
func (r *Ring) Shares() map[string]float64 { return r.ReplicaShares(1) }

// ReplicaShares returns, for each node, the fraction of the token space it
// holds a replica of with replication factor n. The fractions sum to
// min(n, Len()), Len() not counting a node without tokens.
func (r *Ring) ReplicaShares(n int) map[string]float64 {
	out := make(map[string]float64, len(r.nodes))
	for _, g := range r.ReplicaRanges(n) {
		f := g.Fraction()
		for _, id := range g.Replicas {
			out[id] += f
		}
	}
	return out
}
