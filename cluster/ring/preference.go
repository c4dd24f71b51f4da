package ring

import "slices"

// precompute returns, for every token k, the first width distinct owners
// met walking clockwise from k. It runs backwards so each list is derived
// from its successor's in O(width): the list at k is owners[k] followed by
// the list at k+1 without owners[k]. The last token's list, whose
// successor wraps to the front, is walked directly once.
func precompute(owners []int32, width int) []int32 {
	m := len(owners)
	if m == 0 || width == 0 {
		return nil
	}
	prefs := make([]int32, m*width)
	last := prefs[(m-1)*width : m*width]
	walkDistinct(owners, m-1, last)
	for k := m - 2; k >= 0; k-- {
		cur, next := prefs[k*width:(k+1)*width], prefs[(k+1)*width:(k+2)*width]
		cur[0] = owners[k]
		j := 1
		for _, o := range next {
			if j == width {
				break
			}
			if o != owners[k] {
				cur[j] = o
				j++
			}
		}
	}
	return prefs
}

// walkDistinct fills dst with the first len(dst) distinct owners from
// token k clockwise. The caller guarantees that many distinct owners exist.
func walkDistinct(owners []int32, k int, dst []int32) {
	j := 0
	for i := 0; j < len(dst); i++ {
		o := owners[(k+i)%len(owners)]
		if !slices.Contains(dst[:j], o) {
			dst[j] = o
			j++
		}
	}
}

// search returns the index of the token owning position t: the first token
// at or after t, wrapping to 0 past the last one. The ring must have tokens.
func (r *Ring) search(t uint64) int {
	k, _ := slices.BinarySearch(r.tokens, t)
	if k == len(r.tokens) {
		return 0
	}
	return k
}

// Primary returns the index of the node owning token t (the first node of
// its preference list), or -1 on an empty ring.
func (r *Ring) Primary(t uint64) int {
	if len(r.tokens) == 0 {
		return -1
	}
	return int(r.owners[r.search(t)])
}

// AppendPreference appends to dst the indices of the first n distinct
// nodes met walking clockwise from token t (every node holding a token if
// n exceeds that many) and returns the extended slice. It does not allocate when dst has room,
// which makes it the per-key hot path; map indices to nodes with Node.
func (r *Ring) AppendPreference(dst []int, t uint64, n int) []int {
	n = min(n, r.placed)
	if n <= 0 {
		return dst
	}
	k := r.search(t)
	if n <= r.width {
		for _, o := range r.prefs[k*r.width : k*r.width+n] {
			dst = append(dst, int(o))
		}
		return dst
	}
	r.walk(k, func(i int) bool {
		dst = append(dst, i)
		n--
		return n > 0
	})
	return dst
}

// PreferenceList returns the ids of the first n distinct nodes clockwise
// from token t (a key's engine.Token): the key's replicas, primary first.
func (r *Ring) PreferenceList(t uint64, n int) []string {
	var buf [prefWidth]int
	idx := r.AppendPreference(buf[:0], t, n)
	if len(idx) == 0 {
		return nil
	}
	out := make([]string, len(idx))
	for j, i := range idx {
		out[j] = r.nodes[i].ID
	}
	return out
}

// Walk calls fn with the index of every node, each once, in the order met
// walking clockwise from token t, until fn returns false. A sloppy quorum
// uses it to take the first N healthy nodes, skipping unhealthy ones.
func (r *Ring) Walk(t uint64, fn func(node int) bool) {
	if len(r.tokens) == 0 {
		return
	}
	r.walk(r.search(t), fn)
}

// walk yields the distinct owners from token index k: the precomputed
// ones first, then the rest by scanning tokens.
func (r *Ring) walk(k int, fn func(node int) bool) {
	pre := r.prefs[k*r.width : (k+1)*r.width]
	for _, o := range pre {
		if !fn(int(o)) {
			return
		}
	}
	left := r.placed - len(pre)
	if left == 0 {
		return
	}
	seen := newBitset(len(r.nodes))
	for _, o := range pre {
		seen.set(int(o))
	}
	for i := 1; left > 0 && i < len(r.tokens); i++ {
		o := int(r.owners[(k+i)%len(r.tokens)])
		if seen.has(o) {
			continue
		}
		seen.set(o)
		left--
		if !fn(o) {
			return
		}
	}
}

// Owns reports whether node id is among the n replicas of token t.
func (r *Ring) Owns(id string, t uint64, n int) bool {
	i, ok := r.Index(id)
	if !ok {
		return false
	}
	var buf [prefWidth]int
	for _, j := range r.AppendPreference(buf[:0], t, n) {
		if j == i {
			return true
		}
	}
	return false
}

// bitset marks node indices; one word stays on the stack for small rings.
type bitset struct {
	small uint64
	big   []uint64
}

func newBitset(n int) bitset {
	if n <= 64 {
		return bitset{}
	}
	return bitset{big: make([]uint64, (n+63)/64)}
}

func (b *bitset) set(i int) {
	if b.big == nil {
		b.small |= 1 << uint(i)
		return
	}
	b.big[i/64] |= 1 << uint(i%64)
}

func (b *bitset) has(i int) bool {
	if b.big == nil {
		return b.small&(1<<uint(i)) != 0
	}
	return b.big[i/64]&(1<<uint(i%64)) != 0
}
