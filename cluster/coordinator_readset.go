package cluster

import "slices"

// readTargets picks the batches a read asks at once: every batch of this
// node (self), then, for each key still short of its requirement need[i],
// further batches that hold it until it has need[i]. Candidates are tried
// starting at rotation rot, so that successive reads spread over a key's
// replicas (and each replica is asked, and repaired when stale, within a
// few reads). The rest are the reserve: asked only when a chosen replica
// fails or is slow (speculative retry). Pure: no I/O.
func readTargets(batches []batch, need []int, self string, rot uint64) []bool {
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
	n := len(batches)
	for i := range need {
		for have[i] < need[i] {
			picked := false
			for j := range n {
				b := int((rot + uint64(j)) % uint64(n))
				if ask[b] {
					continue
				}
				if _, ok := slices.BinarySearch(batches[b].idx, i); ok {
					take(b)
					picked = true
					break
				}
			}
			if !picked {
				break // fewer replicas than need: the tally decides
			}
		}
	}
	return ask
}
