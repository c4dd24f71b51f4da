package ring

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/cespare/xxhash/v2"
)

// vnode is one token and the index of the node that owns it.
type vnode struct {
	token uint64
	owner int32
}

// nodeTokens returns a node's raw tokens: xxhash64 of "<id>#<i>" for
// i in [0, VNodes). They depend on the id alone, so every member computes
// them without coordination, and a node keeps them across restarts.
func nodeTokens(n Node) []uint64 {
	out := make([]uint64, n.VNodes)
	buf := make([]byte, 0, len(n.ID)+1+8)
	buf = append(buf, n.ID...)
	buf = append(buf, '#')
	for i := range out {
		out[i] = xxhash.Sum64(strconv.AppendInt(buf, int64(i), 10))
	}
	return out
}

// placeTokens collects every node's tokens, sorted by position. When two
// vnodes land on the same token (a 64-bit hash collision, about one in
// 10^13 for a 1,000-token ring) the one of the node with the smaller id
// keeps it and the other is dropped: a deterministic rule every member
// applies the same way, at the cost of one vnode's worth of weight.
func placeTokens(ns []Node, tokensOf func(Node) []uint64) []vnode {
	var vs []vnode
	for i, n := range ns {
		for _, t := range tokensOf(n) {
			vs = append(vs, vnode{token: t, owner: int32(i)})
		}
	}
	sortVNodes(vs)
	return slices.CompactFunc(vs, func(a, b vnode) bool { return a.token == b.token })
}

// sortVNodes orders vnodes by token, then by owner (so that the smallest
// node index comes first among equal tokens).
func sortVNodes(vs []vnode) {
	slices.SortFunc(vs, func(a, b vnode) int {
		return cmp.Or(cmp.Compare(a.token, b.token), cmp.Compare(a.owner, b.owner))
	})
}
