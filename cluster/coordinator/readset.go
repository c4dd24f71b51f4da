package coordinator

import "slices"

// readTargets picks the batches a read asks at once: every batch of this
// node (self), then, for each key still short of its requirement need[i],
// further batches that hold it until it has need[i]. Among a key's
// candidates the choice rotates with rot, so that successive reads spread
// evenly over its replicas (and each replica is asked, and repaired when
// stale, within a few reads); batches marked in avoid (may be nil: a
// replica down, unresolved or not answering) are taken only when no other
// candidate is left. The rest are the reserve: asked only when a chosen
// replica fails or is slow (speculative retry). Pure: no I/O.
func readTargets(batches []batch, need []int, self string, rot uint64, avoid []bool) []bool {
	ask := make([]bool, len(batches))
	have := make([]int, len(need))
	take := func(b int) {
		ask[b] = true
		for _, i := range batches[b].idx {
			have[i]++
		}
	}
	for b := range batches {
		if batches[b].id == self {
			take(b)
		}
	}
	// pick returns the batch key i takes next, or -1 if none holds it.
	var goodBuf, poorBuf [8]int
	pick := func(i int) int {
		good, poor := goodBuf[:0], poorBuf[:0]
		for b := range batches {
			if ask[b] {
				continue
			}
			if _, ok := slices.BinarySearch(batches[b].idx, i); !ok {
				continue
			}
			if avoid != nil && avoid[b] {
				poor = append(poor, b)
			} else {
				good = append(good, b)
			}
		}
		switch {
		case len(good) > 0:
			return good[rot%uint64(len(good))]
		case len(poor) > 0:
			return poor[rot%uint64(len(poor))]
		}
		return -1
	}
	for i := range need {
		for have[i] < need[i] {
			b := pick(i)
			if b < 0 {
				break // fewer replicas than need: the tally decides
			}
			take(b)
		}
	}
	return ask
}
