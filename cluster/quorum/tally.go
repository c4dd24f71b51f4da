package quorum

// Result is the state of a quorum request.
type Result uint8

// Results. Won and Lost are final: no later reply changes them.
const (
	// Pending: the outcome depends on replies not yet in.
	Pending Result = iota + 1
	// Won: enough replicas succeeded.
	Won
	// Lost: too many failed for the rest to reach the requirement.
	Lost
)

func (r Result) String() string {
	switch r {
	case Pending:
		return "Pending"
	case Won:
		return "Won"
	case Lost:
		return "Lost"
	}
	return "Result(?)"
}

// Tally counts the replies to one request sent to n replicas that needs
// need successes. It does no I/O and keeps no time: the coordinator feeds
// it replies (a timeout is a failed reply) and acts on the Result, the way
// etcd raft separates vote counting from message passing. The zero Tally
// is a request to no replica needing none, and is Won.
//
// Lost is reported as soon as the successes so far plus the replies still
// outstanding cannot reach need, so a coordinator can fail fast instead
// of waiting for its timeout.
type Tally struct {
	// Invariant: acks + fails <= n.
	n, need     int
	acks, fails int
}

// NewTally returns the tally for a request to n replicas needing need
// successes. need <= 0 is Won from the start and need > n Lost.
func NewTally(n, need int) Tally {
	return Tally{n: max(n, 0), need: need}
}

// Record counts one reply and returns the result after it. Replies beyond
// n (a duplicate the caller failed to filter) are ignored.
func (t *Tally) Record(ok bool) Result {
	if t.acks+t.fails < t.n {
		if ok {
			t.acks++
		} else {
			t.fails++
		}
	}
	return t.Result()
}

// Result returns the current result.
func (t Tally) Result() Result {
	switch {
	case t.acks >= t.need:
		return Won
	case t.acks+t.Outstanding() < t.need:
		return Lost
	}
	return Pending
}

// Acks returns the successful replies recorded.
func (t Tally) Acks() int { return t.acks }

// Failures returns the failed replies recorded.
func (t Tally) Failures() int { return t.fails }

// Outstanding returns how many replicas have not replied yet.
func (t Tally) Outstanding() int { return t.n - t.acks - t.fails }

// N returns how many replicas the request went to.
func (t Tally) N() int { return t.n }

// Need returns how many successes the request needs.
func (t Tally) Need() int { return t.need }
