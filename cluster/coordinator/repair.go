package coordinator

import (
	"context"
	"time"

	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/engine"
)

// Read repair. A replier whose answer is older than the newest record
// (or that had nothing) is sent the newest record. For the repliers that
// made the quorum this happens before the reply; for late repliers, in a
// bounded background goroutine.

// repairJob is the repair of one replica: positions pos of its batch get
// the records recs.
type repairJob struct {
	b    int
	pos  []int
	keys [][]byte
	recs []engine.Record
}

// staleJobs returns one job per replied batch that holds stale records.
func (st *readState) staleJobs() []repairJob {
	var jobs []repairJob
	for b := range st.f.batches {
		if b >= len(st.replied) || !st.replied[b] {
			continue
		}
		bt, a := &st.f.batches[b], &st.replies[b]
		if bt.hint != "" && (st.f.down == nil || !st.f.down(bt.hint)) {
			// A stand-in asked because its owner failed this request or is
			// catching up, not because it is believed down: a hint there
			// would only keep the owner catching up. The owner itself is
			// repaired if it answered, or by hints and anti-entropy.
			continue
		}
		pos := appendStale(nil, st.best, st.has, bt.idx, a.recs, a.found)
		if len(pos) == 0 {
			continue
		}
		job := repairJob{b: b, pos: pos, keys: make([][]byte, len(pos)), recs: make([]engine.Record, len(pos))}
		for j, p := range pos {
			job.keys[j] = bt.keys[p]
			job.recs[j] = st.best[bt.idx[p]]
		}
		jobs = append(jobs, job)
	}
	return jobs
}

// runRepairs sends the jobs in parallel, waits for all of them until
// deadline, records what each replica now holds and returns the number
// of records repaired and the number of failed jobs.
func (c *Coordinator) runRepairs(st *readState, jobs []repairJob, deadline time.Time) (repaired, failed int) {
	fl := c.newFlight(len(jobs), 0, deadline)
	defer fl.cancel()
	for j := range jobs {
		job := &jobs[j]
		bt := &st.f.batches[job.b]
		c.launch(fl, j, bt.rep, func(ctx context.Context, rep replica.Replica) answer {
			// A substitute is repaired the way it was written: as a hint
			// for the owner it stands in for.
			_, err := rep.Apply(ctx, replica.ApplyRequest{Keys: job.keys, Recs: job.recs, Hint: bt.hint})
			return answer{err: err}
		})
	}
	answered := 0
	for answered < len(jobs) {
		a, ok, _ := fl.next(context.Background(), nil)
		if !ok {
			break
		}
		answered++
		job := &jobs[a.b]
		if a.err != nil {
			c.log.Warn("read repair failed", "peer", st.f.batches[job.b].id, "keys", len(job.keys), "err", a.err)
			failed++
			continue
		}
		reply := &st.replies[job.b]
		for j, p := range job.pos {
			reply.recs[p], reply.found[p] = job.recs[j], true
		}
		repaired += len(job.pos)
	}
	// Jobs without an answer by the deadline failed too.
	return repaired, failed + len(jobs) - answered
}

// repairNow repairs the stale repliers of a won read before the reply,
// within the read's deadline. A failed repair is counted and logged; the
// read still answers, since R replicas did reply.
func (c *Coordinator) repairNow(st *readState) {
	jobs := st.staleJobs()
	if len(jobs) == 0 {
		return
	}
	repaired, failed := c.runRepairs(st, jobs, st.fl.deadline())
	c.stats.repairsSync.Add(int64(repaired))
	c.stats.repairFailures.Add(int64(failed))
}

// repairLater hands a read with outstanding replicas to their answers:
// each late answer is folded in as it arrives (on the goroutine that
// delivers it), and once the last one is in (or failed at the read's
// deadline) every stale replier is repaired against the newest record of
// all answers, in a bounded background goroutine. With every repair slot
// busy that repair is skipped and counted.
func (c *Coordinator) repairLater(st *readState) {
	st.fl.stopAnswers()
}

// lateRead takes one answer that arrived after the read replied.
func (c *Coordinator) lateRead(st *readState, a answer) {
	st.mu.Lock()
	c.absorb(st, a, false)
	var jobs []repairJob
	if !st.tally.outstanding() {
		jobs = st.staleJobs()
	}
	st.mu.Unlock()
	if len(jobs) == 0 || c.closedErr() != nil {
		return
	}
	select {
	case c.repairSlots <- struct{}{}:
	default:
		c.stats.repairsDropped.Add(1)
		return
	}
	// The answer's own call (or the read) still counts in wg, so this Add
	// cannot race with Close's Wait.
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() { <-c.repairSlots }()
		repaired, failed := c.runRepairs(st, jobs, time.Now().Add(c.cfg.Timeout))
		c.stats.repairsBackground.Add(int64(repaired))
		c.stats.repairFailures.Add(int64(failed))
	}()
}
