package coordinator

import "github.com/ringcache/ringcache/cluster/quorum"

// keyTally decides a multi-key request whose keys are spread over replica
// batches: one quorum.Tally per key, and each batch answer counts for
// every key it carried. The request is won once every key's tally is Won
// and lost as soon as one key's is Lost. Pure: no I/O, no clock.
type keyTally struct {
	keys []quorum.Tally
	// short counts keys not yet Won; the request is won at zero.
	short int
	// failed is the first key whose tally is Lost, or -1.
	failed int
}

// newKeyTally starts a tally for keys needing need[i] successes out of
// asked[i] replicas.
func newKeyTally(need, asked []int) *keyTally {
	t := &keyTally{keys: make([]quorum.Tally, len(need)), failed: -1}
	for i := range need {
		t.keys[i] = quorum.NewTally(asked[i], need[i])
		switch t.keys[i].Result() {
		case quorum.Won:
			continue
		case quorum.Lost:
			if t.failed < 0 {
				t.failed = i
			}
		}
		t.short++
	}
	return t
}

// record counts one replica's answer for the keys at idx: a success, or
// a failure (error, timeout, unknown peer).
func (t *keyTally) record(idx []int, success bool) {
	for _, i := range idx {
		before := t.keys[i].Result()
		after := t.keys[i].Record(success)
		if before == quorum.Pending && after == quorum.Won {
			t.short--
		}
		if after == quorum.Lost && t.failed < 0 {
			t.failed = i
		}
	}
}

// expire turns every outstanding replica into a failure: the deadline
// passed.
func (t *keyTally) expire() {
	for i := range t.keys {
		for t.keys[i].Outstanding() > 0 {
			t.record([]int{i}, false)
		}
	}
}

// outcome returns the request's state.
func (t *keyTally) outcome() quorum.Result {
	switch {
	case t.failed >= 0:
		return quorum.Lost
	case t.short == 0:
		return quorum.Won
	}
	return quorum.Pending
}

// settled reports whether the request needs no more answers: won, or
// lost with every replica heard from. A lost request still waits for the
// rest (up to its deadline) so that NOQUORUM says exactly how many
// replicas acknowledged: those hold the write.
func (t *keyTally) settled() bool {
	switch t.outcome() {
	case quorum.Won:
		return true
	case quorum.Lost:
		return !t.outstanding()
	}
	return false
}

// worst returns the successes and requirement of the key furthest from its
// quorum (fewest successes relative to need), for the NOQUORUM message.
func (t *keyTally) worst() (got, need int) {
	best := -1
	for i, k := range t.keys {
		if best < 0 || k.Acks()-k.Need() < t.keys[best].Acks()-t.keys[best].Need() {
			best = i
		}
	}
	if best < 0 {
		return 0, 0
	}
	return t.keys[best].Acks(), t.keys[best].Need()
}

// outstanding reports whether some replica has not answered yet.
func (t *keyTally) outstanding() bool {
	for _, k := range t.keys {
		if k.Outstanding() > 0 {
			return true
		}
	}
	return false
}
