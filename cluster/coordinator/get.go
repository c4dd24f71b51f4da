package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ringcache/ringcache/cluster/quorum"
	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/server/store"
)

// Get implements server.Store: R replicas of every key are asked first
// (one batch per replica; readTargets), the key's other replicas once one
// of those fails or Config.ReadSpeculation passed (speculative retry);
// the newest version among the answers wins, and Get
// returns once every key has R answers (or the override's level) and the
// stale repliers among them were repaired. A key whose newest record is a
// tombstone or expired is not Found. Fewer than R answers before the
// timeout: a *QuorumError (errors.Is ErrNoQuorum).
func (c *Coordinator) Get(ctx context.Context, keys [][]byte) ([]store.Item, error) {
	return c.get(ctx, keys, false)
}

// GetLatest implements server.LatestReader, for the commands that write
// what they read (INCR, APPEND, SET NX/XX/GET, GETDEL, EXPIRE, ...): it
// is Get, except that every replica of each key is asked at once, and
// once R have answered it still waits for the others, up to the timeout,
// unless they are believed down or have stopped answering (Get's avoid
// list): a read-modify-write works from the newest version among the
// replicas it can reach, not from whichever R answered first.
func (c *Coordinator) GetLatest(ctx context.Context, keys [][]byte) ([]store.Item, error) {
	return c.get(ctx, keys, true)
}

func (c *Coordinator) get(ctx context.Context, keys [][]byte, latest bool) ([]store.Item, error) {
	if len(keys) == 0 {
		return []store.Item{}, nil
	}
	if err := c.enter(); err != nil {
		return nil, err
	}
	defer c.leave()
	c.stats.reads.Add(1)
	for try := 0; ; try++ {
		items, f, err := c.getOnce(ctx, keys, latest)
		if f == nil || !f.stale || try == maxStaleRetries || !c.awaitEpoch(ctx, f.topo.Epoch()) {
			return items, err
		}
		c.stats.staleRetries.Add(1)
	}
}

// getOnce is one attempt of get, planned with the current topology; it
// returns the fanout it made (nil if planning failed).
func (c *Coordinator) getOnce(ctx context.Context, keys [][]byte, latest bool) ([]store.Item, *fanout, error) {
	level, _ := ConsistencyFrom(ctx)
	f, err := c.plan(keys, level, c.cfg.R, false)
	if err != nil {
		return nil, nil, err
	}
	items, err := c.read(ctx, f, latest)
	return items, f, err
}

// read runs one planned read to its reply.
func (c *Coordinator) read(ctx context.Context, f *fanout, latest bool) ([]store.Item, error) {
	st := c.startRead(f, latest)
	var speculate <-chan time.Time
	if len(st.reserve) > 0 {
		t := time.NewTimer(c.cfg.ReadSpeculation)
		defer t.Stop()
		speculate = t.C
	}
	for !st.tally.settled() {
		a, ok, err := st.fl.next(ctx, speculate)
		if err != nil {
			c.dropReserve(st)
			st.fl.release()
			return nil, fmt.Errorf("cluster: read: %w", err)
		}
		if !ok {
			st.tally.expire()
			break
		}
		if a.b < 0 { // the first replicas are slow: ask the others
			speculate = nil
			c.stats.speculations.Add(1)
			c.askReserve(st)
			continue
		}
		if !c.absorb(st, a, true) {
			c.askReserve(st)
		}
	}
	c.dropReserve(st)
	if latest && st.tally.outcome() == quorum.Won {
		if err := c.awaitReachable(ctx, st); err != nil {
			st.fl.release()
			return nil, fmt.Errorf("cluster: read: %w", err)
		}
	}
	st.fl.release()
	if st.tally.outcome() != quorum.Won {
		if err := c.closedErr(); err != nil {
			return nil, err
		}
		c.stats.readQuorumFailures.Add(1)
		got, need := st.tally.worst()
		return nil, &QuorumError{Got: got, Need: need}
	}
	c.repairNow(st)
	items := c.items(st)
	if st.tally.outstanding() {
		c.repairLater(st) // st belongs to the late answers from here on
	}
	return items, nil
}

// readState is one read in progress. Until Get hands it to the late
// answers (repairLater) it belongs to Get's goroutine; afterwards the
// goroutines that deliver those answers share it under mu.
type readState struct {
	mu    sync.Mutex
	f     *fanout
	fl    *flight
	tally *keyTally
	// best[i] is the newest record of key i seen so far; has[i] is false
	// while no replier had one.
	best []engine.Record
	has  []bool
	// replies[b] is batch b's answer; replied[b] reports one arrived
	// without error. After a repair, replies[b] holds what was sent.
	replies []answer
	replied []bool
	// reserve lists the batches not asked yet (readTargets); Get's
	// goroutine asks or drops them before it hands st on.
	reserve []int
	// done[b] reports that batch b answered or failed.
	done []bool
	// avoid marks the batches of replicas believed down or not answering
	// (see Coordinator.avoid); nil: none.
	avoid []bool
	// owners[i] tracks key i's owner answers, on which its stand-in
	// answers wait (see standIn).
	owners []keyOwners
}

// keyOwners is what a read knows of one key's owners. A stand-in's answer
// (the hints it holds for an owner) counts for the key only once an
// owner's answer counted for it: knew says one did, held keeps the
// stand-in answers that came first, and left is how many of the key's
// owner batches may still answer; when none may, the held answers count
// as failures.
type keyOwners struct {
	knew       bool
	held, left int32
}

func (c *Coordinator) startRead(f *fanout, all bool) *readState {
	st := &readState{
		f:       f,
		fl:      c.newFlight(len(f.batches), fallbackRoom(len(f.batches)), time.Now().Add(c.cfg.Timeout)),
		tally:   newKeyTally(f.need, f.asked),
		best:    make([]engine.Record, len(f.need)),
		has:     make([]bool, len(f.need)),
		replies: make([]answer, len(f.batches)),
		replied: make([]bool, len(f.batches)),
	}
	st.fl.late = func(a answer) { c.lateRead(st, a) }
	st.fl.retain()
	st.owners = make([]keyOwners, len(f.need))
	for b := range f.batches {
		if f.batches[b].hint == "" {
			for _, i := range f.batches[b].idx {
				st.owners[i].left++
			}
		}
	}
	st.avoid = c.avoid(f)
	var ask []bool
	if c.cfg.ReadSpeculation > 0 && !all {
		ask = readTargets(f.batches, f.need, c.cfg.Self, c.readTurn.Add(1), st.avoid)
		for b, asked := range ask {
			if !asked {
				st.reserve = append(st.reserve, b)
			}
		}
	}
	c.launchAll(st.fl, f, readBatch, ask)
	return st
}

// awaitReachable keeps absorbing answers of a won read until every batch
// it asked has answered or failed, except those in st.avoid (and
// substitutes launched for failed owners, which count like the owner
// they replace), or the deadline passes.
func (c *Coordinator) awaitReachable(ctx context.Context, st *readState) error {
	for c.waitingFor(st) {
		a, ok, err := st.fl.next(ctx, nil)
		if err != nil {
			return err
		}
		if !ok {
			return nil // the deadline: the read is won, answer with what came
		}
		if a.b >= 0 {
			c.absorb(st, a, true)
		}
	}
	return nil
}

// waitingFor reports whether a batch that GetLatest waits for has not
// answered yet.
func (c *Coordinator) waitingFor(st *readState) bool {
	for b := range st.f.batches {
		if b < len(st.done) && st.done[b] {
			continue
		}
		if b < len(st.avoid) && st.avoid[b] {
			continue
		}
		return true
	}
	return false
}

// avoid marks the batches a read should ask only when it must: replicas
// that are unresolved, believed down (a down owner with no substitute),
// or that have stopped answering for longer than the speculation delay.
// Nil when there is none.
func (c *Coordinator) avoid(f *fanout) []bool {
	var out []bool
	for b := range f.batches {
		bt := &f.batches[b]
		l, ok := bt.rep.(interface{ Lagging(time.Duration) bool })
		if bt.rep == nil || (f.down != nil && f.down(bt.id)) || (ok && l.Lagging(c.cfg.ReadSpeculation)) {
			if out == nil {
				out = make([]bool, len(f.batches))
			}
			out[b] = true
		}
	}
	return out
}

// askReserve launches the read's batches not asked yet.
func (c *Coordinator) askReserve(st *readState) {
	for _, b := range st.reserve {
		c.launchBatch(st.fl, b, &st.f.batches[b], readBatch)
	}
	st.reserve = nil
}

// dropReserve gives up the batches never asked: they count as replicas
// that did not answer (the read was already decided without them) and
// their place in the flight is released.
func (c *Coordinator) dropReserve(st *readState) {
	for _, b := range st.reserve {
		st.tally.record(st.f.batches[b].idx, false)
		st.ownerGone(b)
		st.fl.release()
	}
	st.reserve = nil
}

// ownerGone records that batch b, if it is an owner's, will give no
// answer that counts: a key none of whose owners may still answer turns
// its held stand-in answers into failures.
func (st *readState) ownerGone(b int) {
	bt := &st.f.batches[b]
	if bt.hint != "" {
		return
	}
	for _, i := range bt.idx {
		o := &st.owners[i]
		o.left--
		if o.left == 0 && !o.knew {
			for ; o.held > 0; o.held-- {
				st.tally.record([]int{i}, false)
			}
		}
	}
}

// standIn counts a stand-in's answer for key i (found: it holds a hint
// for the key) and reports whether it counted as a success now.
func (st *readState) standIn(i int, found bool) bool {
	switch o := &st.owners[i]; {
	case !found || o.knew:
		st.tally.record([]int{i}, found)
		return found
	case o.left == 0:
		st.tally.record([]int{i}, false)
	default:
		o.held++
	}
	return false
}

// ownerKnows counts an owner's answer that knows the keys at idx, and
// the stand-in answers held for them.
func (st *readState) ownerKnows(idx []int) {
	st.tally.record(idx, true)
	for _, i := range idx {
		o := &st.owners[i]
		o.knew = true
		for ; o.held > 0; o.held-- {
			st.tally.record([]int{i}, true)
		}
	}
}

// runRead is the replica call of a read (readBatch): a stand-in (bt.hint
// set) is asked for the hints it holds for the owner it replaces, an
// owner for what it stores.
func runRead(ctx context.Context, bt *batch, rep replica.Replica) answer {
	r, err := rep.Read(ctx, replica.ReadRequest{Keys: bt.keys, Hint: bt.hint, Epoch: bt.epoch})
	return readAnswer(bt, r, err)
}

// startRead is runRead answered through done.
func startRead(ctx context.Context, bt *batch, ar replica.Async, done func(answer)) {
	ar.ReadAsync(ctx, replica.ReadRequest{Keys: bt.keys, Hint: bt.hint, Epoch: bt.epoch}, func(r replica.ReadReply, err error) {
		done(readAnswer(bt, r, err))
	})
}

// readAnswer checks a replica's answer to a read of bt's keys.
func readAnswer(bt *batch, r replica.ReadReply, err error) answer {
	if err == nil && (len(r.Recs) != len(bt.keys) || len(r.Found) != len(bt.keys)) {
		err = fmt.Errorf("cluster: replica %s answered %d records, %d found flags for %d keys", bt.id, len(r.Recs), len(r.Found), len(bt.keys))
	}
	return answer{recs: r.Recs, found: r.Found, behind: r.Behind, err: err}
}

// absorb counts one answer and folds its records into the newest ones,
// and reports whether the answer counted for every key it carried.
//
// What counts toward a key's read quorum is an answer that knows: an
// owner that is not catching up, or a stand-in that holds a hint for the
// key, once an owner's answer counted too. A stand-in without one knows
// nothing of the key (a write that reached the owners before the owner
// it stands in for went down never passed through it); one with a hint
// knows only the writes that passed through it, not those that went to
// the owners while this node believed them down (gossip and the health
// of the last call lag behind a node that returns), so a read is never
// answered by stand-ins alone. An owner still catching up may lack the
// newest write. All their records still take part in choosing the
// newest version, but the read needs R answers that know, so it asks the
// key's other replicas (the caller's reserve) and, when live is set (the
// read still waits), stand-ins for an owner that failed or is catching
// up: they answer with the hints they hold for it.
func (c *Coordinator) absorb(st *readState, a answer, live bool) bool {
	for len(st.replies) < len(st.f.batches) {
		st.replies = append(st.replies, answer{})
		st.replied = append(st.replied, false)
	}
	for len(st.done) < len(st.f.batches) {
		st.done = append(st.done, false)
	}
	st.done[a.b] = true
	bt := &st.f.batches[a.b]
	if a.err != nil {
		c.log.Debug("replica read failed", "peer", bt.id, "err", a.err)
		if live && errors.Is(a.err, replica.ErrStaleEpoch) {
			st.f.stale = true
		}
		c.uncount(st, a.b, live)
		return false
	}
	st.replies[a.b], st.replied[a.b] = a, true
	mergeNewest(st.best, st.has, bt.idx, a.recs, a.found)
	switch {
	case a.behind:
		c.stats.readsBehind.Add(1)
		c.uncount(st, a.b, live)
		return false
	case bt.hint != "":
		all := true
		for p, i := range bt.idx {
			all = st.standIn(i, a.found[p]) && all
		}
		return all
	}
	st.ownerKnows(bt.idx)
	return true
}

// uncount records that batch b's replica gave no answer that counts for
// its keys, after letting stand-ins take over the keys they can (live
// reads of an owner's batch only; see planFallback).
func (c *Coordinator) uncount(st *readState, b int, live bool) {
	var covered []bool
	if live {
		covered = c.fallback(st.f, st.fl, b, readBatch)
	}
	for p, i := range st.f.batches[b].idx {
		if covered == nil || !covered[p] {
			st.tally.record([]int{i}, false)
		}
	}
	st.ownerGone(b)
}

// items turns the newest records into the reply, and lets the clock learn
// their versions so that a read-modify-write by this node (INCR, APPEND)
// stamps a version newer than the one it read.
func (c *Coordinator) items(st *readState) []store.Item {
	nowMs := c.now().UnixMilli()
	items := make([]store.Item, len(st.best))
	var newest engine.Version
	for i, r := range st.best {
		if !st.has[i] {
			continue
		}
		if r.Version.Compare(newest) > 0 {
			newest = r.Version
		}
		items[i].Version = store.Version(r.Version)
		if r.Live(nowMs) {
			items[i] = store.Item{Value: r.Value, ExpireAt: r.ExpireAt, Found: true, Version: items[i].Version}
		}
	}
	if !newest.IsZero() {
		c.clock.Observe(newest)
	}
	return items
}
