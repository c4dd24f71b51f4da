package ring

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Tokens chosen once and kept.
//
// New derives every member's tokens from the member list, and balances
// them as a whole: a join or a leave therefore shifts other members'
// boundaries too. A ring whose tokens are recorded (in the cluster's
// topology) is built with FromTokens instead, from each member's tokens
// exactly as recorded, and a joining member's tokens are chosen once with
// JoinTokens: each one splits a range of a member that owns more than its
// weight, so the join moves only ranges to the new member and no other
// boundary changes.

// ErrBadTokens is wrapped by FromTokens' errors: a member without tokens,
// or two members claiming one token.
var ErrBadTokens = errors.New("ring: bad tokens")

// FromTokens builds the ring of members whose tokens were chosen before
// (tokens[id], any order). Each member's VNodes becomes its token count.
// Members are sorted and deduplicated by ID as in New.
func FromTokens(nodes []Node, tokens map[string][]uint64) (*Ring, error) {
	ns := normalize(nodes, DefaultVNodes)
	var vs []vnode
	for i, n := range ns {
		ts := tokens[n.ID]
		if len(ts) == 0 {
			return nil, fmt.Errorf("%w: member %s has none", ErrBadTokens, n.ID)
		}
		ns[i].VNodes = len(ts)
		for _, t := range ts {
			vs = append(vs, vnode{token: t, owner: int32(i)})
		}
	}
	sortVNodes(vs)
	for k := 1; k < len(vs); k++ {
		if vs[k].token == vs[k-1].token {
			return nil, fmt.Errorf("%w: token %d claimed by %s and %s", ErrBadTokens, vs[k].token, ns[vs[k-1].owner].ID, ns[vs[k].owner].ID)
		}
	}
	return build(ns, vs), nil
}

// JoinTokens chooses v tokens for member id joining r with weight v,
// leaving every token of r where it is. The new member's target share of
// the token space is v over the total weight; each of its tokens is
// placed inside the largest range of the member that owns the most
// relative to its weight, taking from that range what the new member
// still lacks per token left (never the whole range). The result is
// sorted. Pure: the same ring, id and v give the same tokens. The first
// member of a ring (r empty) takes the raw tokens of its id, as New would.
func JoinTokens(r *Ring, id string, v int) []uint64 {
	v = min(max(v, 1), MaxVNodes)
	m := len(r.tokens)
	if m == 0 {
		out := nodeTokens(Node{ID: id, VNodes: v})
		slices.SortFunc(out, cmp.Compare[uint64])
		return slices.Compact(out)
	}
	// arc[k] is the length of range k, (tokens[k-1], tokens[k]]; load[i]
	// is member i's primary share, in token-space units.
	// start[k] is where range k begins; a split moves it forward.
	arc, start := make([]uint64, m), make([]uint64, m)
	load := make([]float64, len(r.nodes))
	for k := range m {
		start[k] = r.tokens[(k+m-1)%m]
		arc[k] = r.tokens[k] - start[k] // wraps for k == 0
		if m == 1 {
			arc[k] = ^uint64(0)
		}
		load[r.owners[k]] += float64(arc[k])
	}
	weight := 0
	for _, n := range r.nodes {
		weight += n.VNodes
	}
	const space = 1 << 64
	target := space * float64(v) / float64(weight+v)
	var taken float64
	out := make([]uint64, 0, v)
	for j := range v {
		need := (target - taken) / float64(v-j)
		donor := -1
		for i, n := range r.nodes {
			if donor < 0 || load[i]/float64(n.VNodes) > load[donor]/float64(r.nodes[donor].VNodes) {
				donor = i
			}
		}
		best := -1
		for k := range m {
			if int(r.owners[k]) == donor && arc[k] >= 2 && (best < 0 || arc[k] > arc[best]) {
				best = k
			}
		}
		if best < 0 {
			break // the donor's ranges cannot be split any further
		}
		take := uint64(max(need, 1))
		if need >= float64(arc[best]-1) {
			take = arc[best] - 1
		}
		t := start[best] + take // wraps past the top like the range
		out = append(out, t)
		start[best], arc[best] = t, arc[best]-take
		load[donor] -= float64(take)
		taken += float64(take)
	}
	slices.SortFunc(out, cmp.Compare[uint64])
	return out
}
