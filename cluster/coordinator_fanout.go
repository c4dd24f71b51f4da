package cluster

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ringcache/ringcache/cluster/quorum"
	"github.com/ringcache/ringcache/engine"
)

// batch is the part of one request that goes to one replica.
type batch struct {
	id  string
	rep Replica // nil: Peers could not resolve id
	// idx[p] is the request position of keys[p] (and recs[p]).
	idx  []int
	keys [][]byte
	recs []engine.Record // writes and repairs only
}

// fanout is one request split into one batch per replica, with each
// key's quorum requirement.
type fanout struct {
	batches []batch
	need    []int // need[i]: answers key i requires
	asked   []int // asked[i]: replicas key i was sent to
}

// plan groups keys by replica using the current placement. configured is
// the R or W that LevelDefault stands for.
func (c *Coordinator) plan(keys [][]byte, level quorum.Level, configured int) (*fanout, error) {
	ref := c.placement.Load()
	if ref == nil {
		return nil, ErrNoPlacement
	}
	f := &fanout{need: make([]int, len(keys)), asked: make([]int, len(keys))}
	// A cluster has few nodes: a linear search over the batches beats a
	// map until it has many.
	var prefBuf [8]string
	prefs := prefBuf[:0]
	for i, k := range keys {
		prefs = ref.p.AppendPreference(prefs[:0], engine.Token(k), c.cfg.N)
		if len(prefs) == 0 {
			return nil, fmt.Errorf("%w: %q", ErrNoPlacement, k)
		}
		f.asked[i] = len(prefs)
		f.need[i] = required(level, len(prefs), configured)
		for _, id := range prefs {
			b := f.batchOf(id, c.cfg.Peers)
			f.batches[b].idx = append(f.batches[b].idx, i)
			f.batches[b].keys = append(f.batches[b].keys, k)
		}
	}
	return f, nil
}

// batchOf returns the index of id's batch, adding it if new.
func (f *fanout) batchOf(id string, peers Peers) int {
	for b := range f.batches {
		if f.batches[b].id == id {
			return b
		}
	}
	rep, ok := peers(id)
	if !ok {
		rep = nil
	}
	f.batches = append(f.batches, batch{id: id, rep: rep})
	return len(f.batches) - 1
}

// answer is one replica call's result.
type answer struct {
	b     int // batch index
	recs  []engine.Record
	found []bool
	count int64
	err   error
}

// flight is a set of replica calls running in parallel, bounded by one
// deadline. Answers are buffered, so a call finishing after nobody waits
// any more still ends at once: late acks never leak a goroutine.
type flight struct {
	ctx     context.Context
	cancel  context.CancelFunc
	answers chan answer
	// left counts calls not yet finished; the last one cancels ctx, which
	// releases the timer early.
	left atomic.Int32
}

// newFlight starts a flight of n calls ending at deadline (or on Close).
func (c *Coordinator) newFlight(n int, deadline time.Time) *flight {
	ctx, cancel := context.WithDeadline(c.life, deadline)
	fl := &flight{ctx: ctx, cancel: cancel, answers: make(chan answer, n)}
	fl.left.Store(int32(n))
	if n == 0 {
		cancel()
	}
	return fl
}

// launchAll runs call against every batch of f: the other replicas each
// in an owned goroutine, then this node's own batch inline. Inline
// because the local engine answers in microseconds and a fresh goroutine
// would pay for growing its stack through the storage engine's deep call
// chain on every request; the remote calls are already on their way.
func (c *Coordinator) launchAll(fl *flight, f *fanout, call func(ctx context.Context, b *batch, rep Replica) answer) {
	self := -1
	for b := range f.batches {
		bt := &f.batches[b]
		if bt.id == c.cfg.Self && bt.rep != nil {
			self = b
			continue
		}
		c.launch(fl, b, bt.rep, func(ctx context.Context, rep Replica) answer { return call(ctx, bt, rep) })
	}
	if self >= 0 {
		bt := &f.batches[self]
		a := call(fl.ctx, bt, bt.rep)
		a.b = self
		fl.finish(a)
	}
}

// launch runs call against batch b's replica in an owned goroutine. An
// unresolved replica fails at once with ErrUnknownPeer.
func (c *Coordinator) launch(fl *flight, b int, rep Replica, call func(context.Context, Replica) answer) {
	if rep == nil {
		fl.finish(answer{b: b, err: ErrUnknownPeer})
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		a := call(fl.ctx, rep)
		a.b = b
		fl.finish(a)
	}()
}

func (fl *flight) finish(a answer) {
	fl.answers <- a // never blocks: the channel holds one answer per call
	if fl.left.Add(-1) == 0 {
		fl.cancel()
	}
}

// next returns the next answer. ok is false once the deadline passed (or
// Close) and every answer already in has been returned; err is req's
// error if the caller gave up first.
func (fl *flight) next(req context.Context) (a answer, ok bool, err error) {
	select {
	case a = <-fl.answers:
		return a, true, nil
	case <-fl.ctx.Done():
		// Calls send before they cancel: whatever finished is buffered.
		select {
		case a = <-fl.answers:
			return a, true, nil
		default:
			return answer{}, false, nil
		}
	case <-req.Done():
		return answer{}, false, req.Err()
	}
}

// deadline returns when the flight ends.
func (fl *flight) deadline() time.Time {
	d, _ := fl.ctx.Deadline()
	return d
}
