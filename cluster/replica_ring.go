package cluster

import "github.com/ringcache/ringcache/cluster/ring"

// RingPlacement adapts a consistent-hash ring snapshot to Placement. On a
// membership change the owner builds a new ring and installs
// RingPlacement{new} with Coordinator.SetPlacement.
type RingPlacement struct {
	Ring *ring.Ring
}

// AppendPreference implements Placement: the ids of the first n distinct
// nodes clockwise from token. It does not allocate when dst has room.
func (p RingPlacement) AppendPreference(dst []string, token uint64, n int) []string {
	var buf [16]int
	idx := buf[:0]
	if n > len(buf) {
		idx = make([]int, 0, n)
	}
	for _, i := range p.Ring.AppendPreference(idx, token, n) {
		dst = append(dst, p.Ring.Node(i).ID)
	}
	return dst
}
