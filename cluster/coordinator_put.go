package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/ringcache/ringcache/cluster/quorum"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/server"
)

// Put implements server.Store: every mutation gets its own HLC version,
// each replica gets one batch with all its mutations, and Put returns
// once every mutation has W acknowledgements (or the override's level).
// Fewer before the timeout: a *QuorumError (errors.Is ErrNoQuorum); the
// write may then still be present on the replicas that acknowledged it.
func (c *Coordinator) Put(ctx context.Context, muts []server.Mutation) error {
	if len(muts) == 0 {
		return nil
	}
	if err := c.enter(); err != nil {
		return err
	}
	defer c.leave()
	c.stats.writes.Add(1)

	keys := make([][]byte, len(muts))
	for i := range muts {
		keys[i] = muts[i].Key
	}
	_, level := ConsistencyFrom(ctx)
	f, err := c.plan(keys, level, c.cfg.W)
	if err != nil {
		return err
	}
	recs := make([]engine.Record, len(muts))
	for i, m := range muts {
		recs[i] = toRecord(m, c.clock.Now())
	}
	for b := range f.batches {
		bt := &f.batches[b]
		bt.recs = make([]engine.Record, len(bt.idx))
		for p, i := range bt.idx {
			bt.recs[p] = recs[i]
		}
	}
	return c.write(ctx, f)
}

// write sends every batch and waits for the write quorum.
func (c *Coordinator) write(ctx context.Context, f *fanout) error {
	fl := c.newFlight(len(f.batches), time.Now().Add(c.cfg.Timeout))
	c.launchAll(fl, f, func(ctx context.Context, bt *batch, rep Replica) answer {
		return answer{err: rep.Apply(ctx, bt.keys, bt.recs)}
	})
	t := newKeyTally(f.need, f.asked)
	for !t.settled() {
		a, ok, err := fl.next(ctx)
		if err != nil {
			return fmt.Errorf("cluster: write: %w", err)
		}
		if !ok {
			t.expire()
			break
		}
		if a.err != nil {
			c.log.Debug("replica write failed", "peer", f.batches[a.b].id, "err", a.err)
		}
		t.record(f.batches[a.b].idx, a.err == nil)
	}
	if t.outcome() == quorum.Won {
		return nil
	}
	if err := c.closedErr(); err != nil {
		return err
	}
	c.stats.writeQuorumFailures.Add(1)
	got, need := t.worst()
	return &QuorumError{Write: true, Got: got, Need: need}
}
