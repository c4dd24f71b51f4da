package coordinator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/cluster/topology"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/server/store"
)

// Len implements server.Store (DBSIZE) for a cluster: an ESTIMATE of the
// distinct live keys, the sum of every member's local live count divided
// by the number of copies of each key (N, or the member count when the
// cluster is smaller). Replicas that missed writes or still hold data
// that moved make it approximate, never exact. Members that do not answer
// within the timeout are left out and the sum is scaled up by
// members/answered, so one dead node does not make DBSIZE drop by a
// third; if no member answers, Len returns the error.
func (c *Coordinator) Len(ctx context.Context) (int64, error) {
	answers, scale, err := c.askMembers(ctx, func(ctx context.Context, rep replica.Replica) answer {
		n, err := rep.Count(ctx)
		return answer{count: n, err: err}
	})
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, a := range answers {
		sum += a.count
	}
	return int64(math.Round(float64(sum) * scale)), nil
}

// DBCounts implements server.DBCounter: per key class (database), the
// same estimate as Len, of the keys, of those with an expiry, and of the
// sum of their expiries (so their average holds).
func (c *Coordinator) DBCounts(ctx context.Context) ([]store.DBCount, error) {
	answers, scale, err := c.askMembers(ctx, func(ctx context.Context, rep replica.Replica) answer {
		cs, err := rep.ClassCounts(ctx)
		return answer{other: cs, err: err}
	})
	if err != nil {
		return nil, err
	}
	var sum []store.DBCount
	for _, a := range answers {
		classes, _ := a.other.([]engine.ClassCount)
		for len(sum) < len(classes) {
			sum = append(sum, store.DBCount{})
		}
		for k, cc := range classes {
			sum[k].Keys += cc.Keys
			sum[k].Expires += cc.Expires
			sum[k].ExpireSum += cc.ExpireSum
		}
	}
	est := func(v int64) int64 { return int64(math.Round(float64(v) * scale)) }
	for k, s := range sum {
		c := store.DBCount{Keys: est(s.Keys), Expires: est(s.Expires)}
		if s.Expires > 0 {
			// The sum follows the rounded count, at the members' average
			// expiry: scaled on its own, its rounding would not match the
			// count's, and the average TTL (expiry less now) magnifies the
			// difference a thousandfold.
			c.ExpireSum = int64(math.Round(float64(c.Expires) * float64(s.ExpireSum) / float64(s.Expires)))
		}
		sum[k] = c
	}
	return sum, nil
}

// askMembers runs call on every member and returns the answers that
// succeeded, with the factor that turns the sum of their counts into an
// estimate of distinct keys: members over answered, over the copies of
// each key. No member answering is an error.
func (c *Coordinator) askMembers(ctx context.Context, call func(context.Context, replica.Replica) answer) ([]answer, float64, error) {
	if err := c.enter(); err != nil {
		return nil, 0, err
	}
	defer c.leave()
	t := c.cfg.Topology.Load()
	if t == nil {
		return nil, 0, ErrNoPlacement
	}
	ids := t.IDs()
	if len(ids) == 0 {
		return nil, 0, ErrNoPlacement
	}
	answers, err := c.eachMember(ctx, t, c.cfg.Timeout, call)
	if err != nil {
		return nil, 0, err
	}
	ok := answers[:0]
	var firstErr error
	for _, a := range answers {
		if a.err != nil {
			firstErr = cmpErr(firstErr, fmt.Errorf("member %s: %w", ids[a.b], a.err))
			continue
		}
		ok = append(ok, a)
	}
	if len(ok) == 0 {
		return nil, 0, fmt.Errorf("cluster: DBSIZE: no member answered: %w", firstErr)
	}
	return ok, float64(len(ids)) / float64(len(ok)) / float64(min(c.cfg.N, len(ids))), nil
}

// Flush implements server.Store (FLUSHALL/FLUSHDB) for a cluster: every
// member drops all its data. If some member fails or does not answer
// within FlushTimeout, Flush returns an error wrapping ErrPartialFlush
// naming them: the others were flushed, and the failed ones still hold
// their data, which reads through them return until a retry succeeds or
// their next anti-entropy exchange with a flushed member gives them its
// floor (engine.Engine.RaiseFloor).
//
// The flush carries a floor, a version of this node's clock: every
// flushed member stores no record older than it from then on, so a hint
// replay, an anti-entropy push or a read repair that read a record before
// a member's drop cannot bring it back after it (engine/floor.go). The
// floor is newer than every write acknowledged before the flush, whichever
// member stamped it: it is taken after a first round trip to every member,
// whose answers carry their clocks to this one (the transport observes a
// peer's clock before it hands over the answer). Writes are stamped above
// it once the flush returns: every member's clock saw the floor, and a
// write stamped below it before that is refused with the floor as the
// newer version and stamped again above it (Put; a read-modify-write
// answers ErrConcurrentWrite instead, and its retry is stamped above).
func (c *Coordinator) Flush(ctx context.Context) error {
	if err := c.enter(); err != nil {
		return err
	}
	defer c.leave()
	t := c.cfg.Topology.Load()
	if t == nil {
		return ErrNoPlacement
	}
	ids := t.IDs()
	wait := max(c.cfg.Timeout, c.cfg.FlushTimeout)
	// The round trip that carries the members' clocks here. A member that
	// does not answer it is left to the drop, which reports it.
	if _, err := c.eachMember(ctx, t, c.cfg.Timeout, func(ctx context.Context, rep replica.Replica) answer {
		_, err := rep.Count(ctx)
		return answer{err: err}
	}); err != nil {
		return err
	}
	floor := c.clock.Now()
	answers, err := c.eachMember(ctx, t, wait, func(ctx context.Context, rep replica.Replica) answer {
		return answer{err: rep.DropAll(ctx, floor)}
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range answers {
		if a.err != nil {
			errs = append(errs, fmt.Errorf("member %s: %w", ids[a.b], a.err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %d of %d members failed: %w", ErrPartialFlush, len(errs), len(ids), errors.Join(errs...))
	}
	return nil
}

// eachMember calls fn on the replica of every ring member of t in
// parallel and returns one answer per member (a.b is the member's index
// in t.IDs()); members that did not answer within wait get
// context.DeadlineExceeded.
func (c *Coordinator) eachMember(ctx context.Context, t *topology.Topology, wait time.Duration, fn func(context.Context, replica.Replica) answer) ([]answer, error) {
	ids := t.IDs()
	fl := c.newFlight(len(ids), 0, time.Now().Add(wait))
	defer fl.cancel()
	for b, id := range ids {
		rep, ok := t.Replica(id)
		if !ok {
			fl.finish(answer{b: b, err: ErrUnknownPeer})
			continue
		}
		c.launch(fl, b, rep, fn)
	}
	answers := make([]answer, len(ids))
	got := make([]bool, len(ids))
	for range ids {
		a, ok, err := fl.next(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		if !ok {
			break
		}
		answers[a.b], got[a.b] = a, true
	}
	for b := range answers {
		if !got[b] {
			answers[b] = answer{b: b, err: context.DeadlineExceeded}
		}
	}
	if err := c.closedErr(); err != nil {
		return nil, err
	}
	return answers, nil
}

// cmpErr keeps the first error.
func cmpErr(first, next error) error {
	if first != nil {
		return first
	}
	return next
}
