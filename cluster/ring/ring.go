package ring

import (
	"cmp"
	"encoding/binary"
	"slices"

	"github.com/cespare/xxhash/v2"
)

// DefaultVNodes is the number of tokens a node gets when neither its own
// VNodes nor the ring's default says otherwise.
const DefaultVNodes = 128

// MaxVNodes bounds one node's token count, so a misconfigured weight costs
// at most a few hundred kilobytes and milliseconds per ring build.
const MaxVNodes = 4096

// prefWidth is how many distinct nodes the ring precomputes per token. It
// covers every practical replication factor (and the extra candidates a
// sloppy quorum walks to); longer walks fall back to scanning the tokens.
const prefWidth = 8

// Node is one cluster member as the ring sees it.
type Node struct {
	// ID is the stable node identity. Token placement depends on it alone
	// (and, for balance, on the other members' ids), so it must survive
	// restarts.
	ID string
	// Addr is the cluster RPC address (host:port) replicas are reached on.
	Addr string
	// ClientAddr is the RESP address clients use (host:port).
	ClientAddr string
	// VNodes is the node's token count, its weight in the ring. Zero or
	// less means the default passed to New; values above MaxVNodes are
	// capped.
	VNodes int
}

// Ring is an immutable placement snapshot. Build a new one with New on
// every membership change and swap it in atomically; a *Ring is safe for
// concurrent use.
type Ring struct {
	// nodes is sorted by ID; node indices everywhere refer to it. VNodes
	// holds the effective count (default applied, capped).
	nodes []Node
	// tokens is sorted ascending and free of duplicates. Token k owns the
	// range (tokens[k-1], tokens[k]], token 0 the range wrapping past the
	// top of the token space.
	tokens []uint64
	// owners[k] is the node index of tokens[k].
	owners []int32
	// prefs[k*width : (k+1)*width] are the first width distinct nodes
	// met walking clockwise from tokens[k], starting with owners[k].
	prefs []int32
	// placed is the number of nodes holding at least one token: all of
	// them unless a node lost every token to collisions.
	placed int
	// width is min(prefWidth, placed).
	width int
	// digest fingerprints the placement; see Digest.
	digest uint64
}

// New builds the ring for a member list. The order of nodes does not
// matter. If two entries share an ID, the one that sorts first by
// (Addr, ClientAddr, VNodes) is kept, so every caller still agrees.
// vnodesDefault is the token count for nodes with VNodes <= 0 (itself
// defaulting to DefaultVNodes when <= 0).
func New(nodes []Node, vnodesDefault int) *Ring {
	ns := normalize(nodes, vnodesDefault)
	vs := placeTokens(ns, nodeTokens)
	balance(vs, weights(ns))
	return build(ns, vs)
}

// normalize sorts the members by ID, drops duplicate IDs and applies the
// vnode default and cap.
func normalize(nodes []Node, vnodesDefault int) []Node {
	if vnodesDefault <= 0 {
		vnodesDefault = DefaultVNodes
	}
	ns := slices.Clone(nodes)
	slices.SortFunc(ns, func(a, b Node) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Addr, b.Addr),
			cmp.Compare(a.ClientAddr, b.ClientAddr), cmp.Compare(a.VNodes, b.VNodes))
	})
	ns = slices.CompactFunc(ns, func(a, b Node) bool { return a.ID == b.ID })
	for i := range ns {
		if ns[i].VNodes <= 0 {
			ns[i].VNodes = vnodesDefault
		}
		ns[i].VNodes = min(ns[i].VNodes, MaxVNodes)
	}
	return ns
}

func weights(ns []Node) []uint64 {
	w := make([]uint64, len(ns))
	for i, n := range ns {
		w[i] = uint64(n.VNodes)
	}
	return w
}

// build freezes sorted, duplicate-free vnodes into a Ring.
func build(ns []Node, vs []vnode) *Ring {
	r := &Ring{nodes: ns}
	r.tokens = make([]uint64, len(vs))
	r.owners = make([]int32, len(vs))
	seen := make([]bool, len(ns))
	for k, v := range vs {
		r.tokens[k], r.owners[k] = v.token, v.owner
		if !seen[v.owner] {
			seen[v.owner] = true
			r.placed++
		}
	}
	r.width = min(prefWidth, r.placed)
	r.prefs = precompute(r.owners, r.width)
	r.digest = digest(ns, r.tokens, r.owners)
	return r
}

// digest hashes every token with its owner's id.
func digest(ns []Node, tokens []uint64, owners []int32) uint64 {
	d := xxhash.New()
	var b [8]byte
	for k, t := range tokens {
		binary.BigEndian.PutUint64(b[:], t)
		_, _ = d.Write(b[:])
		_, _ = d.WriteString(ns[owners[k]].ID)
		_, _ = d.Write([]byte{0})
	}
	return d.Sum64()
}

// Len returns the number of members.
func (r *Ring) Len() int { return len(r.nodes) }

// Node returns member i (0 <= i < Len()), members sorted by ID.
func (r *Ring) Node(i int) Node { return r.nodes[i] }

// Nodes returns a copy of the members, sorted by ID.
func (r *Ring) Nodes() []Node { return slices.Clone(r.nodes) }

// Index returns the index of the member with the given id.
func (r *Ring) Index(id string) (int, bool) {
	return slices.BinarySearchFunc(r.nodes, id, func(n Node, id string) int {
		return cmp.Compare(n.ID, id)
	})
}

// Tokens returns the tokens of member i in ascending order.
func (r *Ring) Tokens(i int) []uint64 {
	var out []uint64
	for k, o := range r.owners {
		if int(o) == i {
			out = append(out, r.tokens[k])
		}
	}
	return out
}

// Digest fingerprints the placement (every token and its owner's id). Two
// nodes whose rings have equal digests place every key identically, which
// lets members detect that their views of the membership differ.
func (r *Ring) Digest() uint64 { return r.digest }
