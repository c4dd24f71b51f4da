package coordinator

import (
	"github.com/ringcache/ringcache/cluster/quorum"
	"github.com/ringcache/ringcache/engine"
)

// Version resolution for reads, folded in incrementally as replica
// batches arrive, with quorum.Compare's order: no record is older than
// any record, records order by version. A tombstone or an expired record
// hides the key from the reader but still beats every older value, or a
// replica that missed the delete would resurrect the key through read
// repair.

// mergeNewest folds one replica's answer into the newest record per key:
// for each position p of the answer, best[idx[p]] becomes recs[p] if
// that is newer than what best holds (has[i] false: nothing yet).
func mergeNewest(best []engine.Record, has []bool, idx []int, recs []engine.Record, found []bool) {
	for p, i := range idx {
		got := quorum.Reply{Found: found[p], Record: recs[p]}
		if quorum.Compare(got, quorum.Reply{Found: has[i], Record: best[i]}) > 0 {
			best[i], has[i] = recs[p], true
		}
	}
}

// appendStale appends to dst the positions p of one replica's answer
// whose key is older than best (or missing), and returns the extended
// slice: the records read repair must send to that replica.
func appendStale(dst []int, best []engine.Record, has []bool, idx []int, recs []engine.Record, found []bool) []int {
	for p, i := range idx {
		got := quorum.Reply{Found: found[p], Record: recs[p]}
		if quorum.Compare(got, quorum.Reply{Found: has[i], Record: best[i]}) < 0 {
			dst = append(dst, p)
		}
	}
	return dst
}
