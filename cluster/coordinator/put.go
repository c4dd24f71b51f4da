package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ringcache/ringcache/cluster/quorum"
	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/server/local"
	"github.com/ringcache/ringcache/server/store"
)

// Put implements server.Store: every mutation gets its own HLC version,
// each replica gets one batch with all its mutations, and Put returns
// once every mutation has W acknowledgements (or the override's level).
// Fewer before the timeout: a *QuorumError (errors.Is ErrNoQuorum); the
// write may then still be present on the replicas that acknowledged it.
//
// A replica that already holds a newer version of a key than the one
// this write carries (a write through another coordinator whose clock
// ran ahead, or that stamped within the same millisecond) reports it.
// The write is then not the newest there, and would lose to that version
// everywhere: so the keys concerned are stamped again, above every
// version reported, and written again (at most maxRestamps times). A
// write acknowledged after another write of its key was acknowledged
// therefore always wins over it, whichever nodes coordinate them.
//
// A key and value larger than Config.MaxRecordBytes fail the whole write
// with a *ValueTooLargeError before anything is sent.
func (c *Coordinator) Put(ctx context.Context, muts []store.Mutation) error {
	if len(muts) == 0 {
		return nil
	}
	if err := checkRecordSizes(muts, c.cfg.MaxRecordBytes); err != nil {
		return err
	}
	if err := c.enter(); err != nil {
		return err
	}
	defer c.leave()
	c.stats.writes.Add(1)

	keys := make([][]byte, len(muts))
	recs := make([]engine.Record, len(muts))
	for i, m := range muts {
		keys[i] = m.Key
		recs[i] = local.Record(m, c.clock.Now())
	}
	if err := stampedInTime(ctx); err != nil {
		return err
	}
	_, level := ConsistencyFrom(ctx)
	for round, stale := 0, 0; ; {
		f, err := c.plan(keys, level, c.cfg.W, true)
		if err != nil {
			return err
		}
		newer, err := c.write(ctx, f, recs)
		if f.stale && stale < maxStaleRetries && c.awaitEpoch(ctx, f.topo.Epoch()) {
			// Planned with a layout the cluster has left: plan again with
			// the new one (the same versions: writing twice is harmless).
			stale++
			c.stats.staleRetries.Add(1)
			continue
		}
		if err != nil {
			return err
		}
		if newer = withoutOwnEvictions(newer, recs); newer == nil {
			return nil
		}
		if store.IsReadModifyWrite(ctx) {
			// A write it did not read landed on the key meanwhile (a
			// blind write, or another node that took itself for the
			// primary), or the key was flushed: stamped again above it,
			// this value, built on an older read, would drop it. The
			// clock learns the newer versions, so the retry is stamped
			// above them.
			for _, v := range newer {
				c.clock.Observe(v)
			}
			return ErrConcurrentWrite
		}
		if round == maxRestamps {
			// Every round was stamped above all versions seen before it,
			// so what beat the last one was written concurrently with
			// this write: last-write-wins orders this write first.
			c.stats.restampsExhausted.Add(1)
			return nil
		}
		c.stats.restamps.Add(1)
		keys, recs = c.restamp(keys, recs, newer)
		if err := stampedInTime(ctx); err != nil {
			return err
		}
		round++
	}
}

// stampedInTime refuses a write whose versions were stamped after ctx's
// deadline (checked once they are stamped, so a stall of the process
// between a check and the stamp cannot slip by). A read-modify-write's
// deadline bounds the command from its start: stamped later, its value,
// built on what it read, could land over writes its client made after
// giving up on it. A version stamped in time is harmless whenever it
// lands: later writes carry newer ones.
func stampedInTime(ctx context.Context) error {
	// The deadline itself, not only ctx.Err: after a stall the timer that
	// ends ctx may not have fired yet.
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return fmt.Errorf("cluster: write stamped after its deadline: %w", context.DeadlineExceeded)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cluster: write stamped after its deadline: %w", err)
	}
	return nil
}

// maxStaleRetries bounds how often a request is planned again because a
// replica knew a later layout epoch.
const maxStaleRetries = 16

// awaitEpoch waits until the topology's layout epoch passes epoch (up to
// the request timeout, or ctx), and reports whether it did.
func (c *Coordinator) awaitEpoch(ctx context.Context, epoch uint64) bool {
	deadline := time.Now().Add(c.cfg.Timeout)
	for {
		if t := c.cfg.Topology.Load(); t != nil && t.Epoch() > epoch {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil || c.closedErr() != nil {
			return false
		}
		time.Sleep(time.Millisecond)
	}
}

// maxRestamps bounds how often Put stamps a write again because a replica
// held a newer version of one of its keys.
const maxRestamps = 3

// withoutOwnEvictions clears newer[i] where it is the eviction of
// recs[i] itself (engine.EvictedVersion of its version): a primary
// sampled this write on its replica and evicted it before another
// replica applied it. The write took effect and was then evicted, as a
// write followed by an eviction in Redis: no concurrent write beat it,
// so it is no failure and is not written again (that would bring the
// evicted key back). It returns nil when no entry is left.
func withoutOwnEvictions(newer []engine.Version, recs []engine.Record) []engine.Version {
	left := false
	for i, v := range newer {
		if !v.IsZero() && v == engine.EvictedVersion(recs[i].Version) {
			newer[i] = engine.Version{}
		}
		left = left || !newer[i].IsZero()
	}
	if !left {
		return nil
	}
	return newer
}

// restamp returns the keys whose newer[i] is set, with their records
// stamped again above it (and above everything else the clock has seen).
func (c *Coordinator) restamp(keys [][]byte, recs []engine.Record, newer []engine.Version) ([][]byte, []engine.Record) {
	var ks [][]byte
	var rs []engine.Record
	for i, v := range newer {
		if v.IsZero() {
			continue
		}
		c.clock.Observe(v)
		r := recs[i]
		r.Version = c.clock.Now()
		ks, rs = append(ks, keys[i]), append(rs, r)
	}
	return ks, rs
}

// checkRecordSizes refuses the whole write if one mutation's key and value
// exceed limit (0: none): such a record fits in no replica frame, so it
// would reach no replica and, held as a hint, block its target's queue.
// Nothing is sent and nothing is copied.
func checkRecordSizes(muts []store.Mutation, limit int) error {
	if limit <= 0 {
		return nil
	}
	for i := range muts {
		n := len(muts[i].Key)
		if !muts[i].Delete {
			n += len(muts[i].Value)
		}
		if n > limit {
			return &ValueTooLargeError{Size: n, Limit: limit}
		}
	}
	return nil
}

// Replicate stores records that already carry their versions (hints of
// a node that left, handed to the keys' current owners) on each key's
// replicas, with the configured write quorum.
func (c *Coordinator) Replicate(ctx context.Context, keys [][]byte, recs []engine.Record) error {
	if len(keys) == 0 {
		return nil
	}
	if err := c.enter(); err != nil {
		return err
	}
	defer c.leave()
	f, err := c.plan(keys, 0, c.cfg.W, true)
	if err != nil {
		return err
	}
	_, err = c.write(ctx, f, recs) // versions kept: a newer one held is no failure
	return err
}

// write sends every batch with its records and waits for the write
// quorum. It returns, per key, the newest version a replica that answered
// before the quorum was decided holds above the record's (nil: none did).
// An owner whose call fails before the quorum is decided is replaced for
// the keys it carried by the next healthy node, which keeps them as
// hints for it (sloppy quorum); the substitute's answer counts in the
// owner's place. Owners that fail with no substitute, or after the
// request stopped waiting (a reply sent, a deadline passed, a client
// gone), get their records as hints held by this node (Config.Hints):
// every call's answer is handled, by the request or by the goroutine that
// delivers it, so no acknowledged write loses its way to an owner.
func (c *Coordinator) write(ctx context.Context, f *fanout, recs []engine.Record) ([]engine.Version, error) {
	for b := range f.batches {
		bt := &f.batches[b]
		bt.recs = make([]engine.Record, len(bt.idx))
		for p, i := range bt.idx {
			bt.recs[p] = recs[i]
		}
	}
	w := &writeState{f: f, receipt: store.ReceiptFrom(ctx)}
	deadline := time.Now().Add(c.cfg.Timeout)
	if w.receipt != nil {
		w.gen = w.receipt.Start(f.nkeys, deadline)
	}
	w.fl = c.newFlight(len(f.batches), fallbackRoom(len(f.batches)), deadline)
	w.fl.late = func(a answer) { c.lateWrite(w, a) }
	w.fl.retain()
	defer w.fl.release()
	c.launchAll(w.fl, f, applyBatch, nil)
	w.tally = newKeyTally(f.need, f.asked)
	for !w.tally.settled() {
		a, ok, err := w.fl.next(ctx, nil)
		if err != nil {
			w.fl.stopAnswers()
			return nil, fmt.Errorf("cluster: write: %w", err)
		}
		if !ok {
			w.tally.expire()
			break
		}
		w.ack(a)
		c.absorbWrite(w, a)
	}
	w.fl.stopAnswers()
	if w.tally.outcome() == quorum.Won {
		return w.newer, nil
	}
	if err := c.closedErr(); err != nil {
		return nil, err
	}
	c.stats.writeQuorumFailures.Add(1)
	got, need := w.tally.worst()
	return nil, &QuorumError{Write: true, Got: got, Need: need}
}

// fallbackRoom is how many fallback calls a write of n batches may add.
func fallbackRoom(n int) int { return n + 4 }

// writeState is one write in progress. The request's goroutine owns it
// until stopAnswers; afterwards only lateWrite reads its batches.
type writeState struct {
	f     *fanout
	fl    *flight
	tally *keyTally
	// newer[i] is the newest version a replica reported holding above
	// key i's record; nil until one did.
	newer []engine.Version
	// receipt, when the request's context carries one (WAIT), learns of
	// every acknowledgement, gen being this write's generation in it.
	receipt *store.Receipt
	gen     uint64
}

// ack reports a replica's acknowledgement to the write's receipt. A
// node that stands in for a down owner keeps the records as hints, not
// as a replica of the keys (reads do not ask it): WAIT does not count it.
func (w *writeState) ack(a answer) {
	if bt := &w.f.batches[a.b]; w.receipt != nil && a.err == nil && bt.hint == "" {
		w.receipt.Ack(w.gen, bt.idx)
	}
}

// absorbWrite counts one answer. A failed owner call is replaced by
// fallbacks where possible; the keys no fallback took over are held as
// hints here.
func (c *Coordinator) absorbWrite(w *writeState, a answer) {
	bt := &w.f.batches[a.b]
	if bt.also {
		// A replica of the other ring only: its own answer counts there,
		// and a failure leaves it a hint; no stand-in takes its place.
		w.recordAlso(bt, a.err == nil)
		switch {
		case a.err == nil:
			w.noteNewer(bt.idx, a.newer)
		case errors.Is(a.err, replica.ErrStaleEpoch):
			w.f.stale = true
		default:
			c.hold(bt, allPositions(len(bt.idx)))
		}
		return
	}
	if bt.hint == "" {
		w.recordAlso(bt, a.err == nil)
	}
	if bt.extra {
		// A hint the quorum does not count: a failure only means this
		// node keeps it instead.
		if a.err == nil {
			w.noteNewer(bt.idx, a.newer)
		} else {
			c.hold(bt, allPositions(len(bt.idx)))
		}
		return
	}
	if a.err == nil {
		w.tally.record(bt.idx, true)
		w.noteNewer(bt.idx, a.newer)
		return
	}
	c.log.Debug("replica write failed", "peer", bt.id, "hint", bt.hint, "err", a.err)
	if errors.Is(a.err, replica.ErrStaleEpoch) {
		// Planned with a layout the cluster has left: the write is
		// planned again (Put), so no stand-in and no hint.
		w.f.stale = true
		w.tally.record(bt.idx, false)
		return
	}
	covered := c.fallback(w.f, w.fl, a.b, applyBatch)
	bt = &w.f.batches[a.b]
	var lost []int // positions of bt no fallback took over
	for p, i := range bt.idx {
		if covered != nil && covered[p] {
			continue
		}
		lost = append(lost, p)
		w.tally.record([]int{i}, false)
	}
	c.hold(bt, lost)
}

// recordAlso counts a replica's answer toward the other ring's quorum of
// the keys of bt it is a replica of there (write-both stages only).
func (w *writeState) recordAlso(bt *batch, ok bool) {
	f := w.f
	if f.alsoSet == nil {
		return
	}
	var one [1]int
	for _, i := range bt.idx {
		if set := f.alsoSet[i]; set != nil && slices.Contains(set, bt.id) {
			one[0] = f.nkeys + i
			w.tally.record(one[:], ok)
		}
	}
}

// noteNewer records the newer versions one replica reported for the keys
// at idx (newer may be nil).
func (w *writeState) noteNewer(idx []int, newer []engine.Version) {
	for p, v := range newer {
		if v.IsZero() {
			continue
		}
		if w.newer == nil {
			w.newer = make([]engine.Version, w.f.nkeys)
		}
		if i := idx[p]; v.Compare(w.newer[i]) > 0 {
			w.newer[i] = v
		}
	}
}

// lateWrite handles an answer that came after the request stopped
// waiting: a failure is held as hints for its owner.
func (c *Coordinator) lateWrite(w *writeState, a answer) {
	w.ack(a)
	if a.err == nil || errors.Is(a.err, replica.ErrStaleEpoch) {
		// A replica past the layout the write was planned with refused
		// it after the quorum was reached elsewhere: read repair and
		// anti-entropy cover its copy; a hint would make it count
		// itself behind.
		return
	}
	bt := &w.f.batches[a.b]
	c.log.Debug("replica write failed after the reply", "peer", bt.id, "hint", bt.hint, "keys", len(bt.idx), "err", a.err)
	all := allPositions(len(bt.idx))
	// Off the goroutine that delivered the answer: it may be the one
	// sending a peer's merged requests, which must not wait for a store
	// write. The answer's own call still counts in wg, so this Add
	// cannot race with Close's Wait.
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.hold(bt, all)
	}()
}

// allPositions returns 0, 1, ..., n-1.
func allPositions(n int) []int {
	all := make([]int, n)
	for p := range all {
		all[p] = p
	}
	return all
}

// hold keeps the records at positions pos of a failed batch as hints on
// this node for the owner the batch was meant for, so they reach it once
// it is back. A batch for this node itself failed in the local engine:
// nothing to hand off.
func (c *Coordinator) hold(bt *batch, pos []int) {
	target := bt.id
	if bt.hint != "" {
		target = bt.hint
	}
	if len(pos) == 0 || c.cfg.Hints == nil || target == c.cfg.Self {
		return
	}
	keys := make([][]byte, len(pos))
	recs := make([]engine.Record, len(pos))
	for j, p := range pos {
		keys[j], recs[j] = bt.keys[p], bt.recs[p]
	}
	if err := c.cfg.Hints.Hold(target, keys, recs); err != nil {
		c.log.Warn("cluster: no hint kept for a failed write", "target", target, "keys", len(keys), "err", err)
		return
	}
	c.stats.hintsHeld.Add(int64(len(keys)))
}

// runApply is the replica call of a write (applyBatch): the batch's
// records, as hints for the owner it stands in for when bt.hint is set,
// noted for anti-entropy when bt.noted is.
func runApply(ctx context.Context, bt *batch, rep replica.Replica) answer {
	newer, err := rep.Apply(ctx, bt.applyRequest())
	return answer{newer: newer, err: err}
}

// startApply is runApply answered through done.
func startApply(ctx context.Context, bt *batch, ar replica.Async, done func(answer)) {
	ar.ApplyAsync(ctx, bt.applyRequest(), func(r replica.ApplyReply) {
		done(answer{newer: r.Newer, err: r.Err})
	})
}

// applyRequest is the write a batch sends its replica.
func (bt *batch) applyRequest() replica.ApplyRequest {
	return replica.ApplyRequest{Keys: bt.keys, Recs: bt.recs, Hint: bt.hint, Noted: bt.noted, Epoch: bt.epoch}
}
