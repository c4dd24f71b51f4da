package coordinator

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringcache/ringcache/cluster/quorum"
	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/cluster/ring"
	"github.com/ringcache/ringcache/cluster/topology"
	"github.com/ringcache/ringcache/engine"
)

// batch is the part of one request that goes to one replica.
type batch struct {
	id  string
	rep replica.Replica // nil: the topology has no replica for id
	// hint, on writes, names the owner this replica stands in for: it
	// keeps the records as hints for it (sloppy quorum).
	hint string
	// noted, on writes, marks an owner's batch of keys whose other owner
	// is being replaced: the replica notes the keys for anti-entropy.
	noted bool
	// fallback marks a batch sent after an owner's call failed.
	fallback bool
	// also marks a write's batch for replicas of the topology's other
	// ring (Topology.Also) that the request's ring does not have: it
	// counts toward the other ring's quorum only.
	also bool
	// extra marks a write's hint batch for a down owner that the quorum
	// does not count: the healthy owners were enough.
	extra bool
	// epoch is the layout epoch of the request's topology, which the
	// replica checks.
	epoch uint64
	// idx[p] is the request position of keys[p] (and recs[p]), ascending.
	idx  []int
	keys [][]byte
	recs []engine.Record // writes and repairs only
}

// fanout is one request split into one batch per replica, with each
// key's quorum requirement.
type fanout struct {
	batches []batch
	// nkeys is the number of keys. A write during a topology operation's
	// write-both stages also tallies, at position nkeys+i, key i's
	// acknowledgements by its replicas on the other ring (alsoSet[i]).
	nkeys int
	need  []int // need[i]: answers key i requires
	asked []int // asked[i]: replicas key i was sent to
	// alsoSet[i], during write-both, lists key i's replicas on the other
	// ring when they differ from its owners here (nil otherwise).
	alsoSet [][]string
	// down is the health snapshot the request was planned with (nil: all
	// healthy, or strict quorum).
	down func(string) bool
	// sloppy is set when the request may use stand-ins (see
	// Coordinator.sloppy).
	sloppy bool
	// topo is the topology the request was planned with: it falls back
	// and replies with the same one.
	topo *topology.Topology
	// stale is set when a replica refused a call as planned with an
	// older layout epoch than its own: the request is planned again
	// (awaitEpoch). Only the request's goroutine touches it.
	stale bool

	// Scratch that plan keeps in the fanout's own allocation: room for
	// the usual N batches, and the preference list of the key at hand.
	batchBuf [3]batch
	prefBuf  [16]string
}

// plan groups keys by replica using the current topology: its ring and
// its health.
// configured is the R or W that LevelDefault stands for. Batches carry
// the hint of sloppy choices (a write keeps its records as hints there, a
// read repairs them as hints); a write also notes the owners' keys.
func (c *Coordinator) plan(keys [][]byte, level quorum.Level, configured int, write bool) (*fanout, error) {
	t := c.cfg.Topology.Load()
	if t == nil {
		return nil, ErrNoPlacement
	}
	// One allocation for both tallies; a write-both write tallies each
	// key twice.
	also := t.Also()
	if !write {
		also = nil
	}
	m := len(keys)
	if also != nil {
		m *= 2
	}
	counts := make([]int, 2*m)
	f := &fanout{
		nkeys: len(keys),
		need:  counts[:m:m],
		asked: counts[m:],
		topo:  t,
	}
	f.batches = f.batchBuf[:0]
	if c.cfg.Sloppy {
		now := c.now()
		if !t.Strict(now) {
			f.sloppy = true
			f.down = t.Unhealthy(now)
		}
	}
	// A cluster has few nodes: a linear search over the batches beats a
	// map until it has many.
	var choiceBuf [8]choice
	n := c.cfg.N
	for i, k := range keys {
		prefs := t.AppendPreference(f.prefBuf[:0], engine.Token(k), n)
		if len(prefs) == 0 {
			return nil, fmt.Errorf("%w: %q", ErrNoPlacement, k)
		}
		f.asked[i] = len(prefs)
		f.need[i] = required(level, n, configured)
		if also != nil {
			f.planAlso(t, i, k, prefs, n, required(level, n, configured))
		}
		if f.down == nil || !slices.ContainsFunc(prefs, f.down) {
			for _, id := range prefs {
				f.add(f.batchOf(id, "", false, false, t), i, k)
			}
			continue
		}
		owners := len(prefs)
		prefs = t.AppendPreference(prefs[:0], engine.Token(k), n+c.cfg.Fallbacks)
		choices, sloppy := chooseReplicas(choiceBuf[:0], prefs, n, f.down)
		// Stand-ins count toward the quorum only when the healthy owners
		// cannot make it alone: a stand-in's copy is one that a reader who
		// sees the owner healthy does not ask. With enough healthy owners
		// a write still leaves the down owner's copy with its stand-in, as
		// a hint the quorum does not wait for, and a read does not ask it.
		spare := healthyOwners(prefs[:owners], f.down) >= f.need[i]
		f.asked[i] = 0
		for _, ch := range choices {
			extra := spare && ch.hint != ""
			if extra && !write {
				continue
			}
			// A read keeps the hint too: a substitute that answered with
			// nothing is repaired with a hint for the owner it stands in
			// for, never with data of its own it would keep forever.
			noted := write && sloppy && ch.hint == ""
			f.add(f.batchOf(ch.id, ch.hint, noted, extra, t), i, k)
			if !extra {
				f.asked[i]++
			}
		}
	}
	return f, nil
}

// planAlso adds a write-both write's copies of key i (k) for its replicas
// on the other ring that are not among its owners here (prefs), and its
// quorum there: need acknowledgements by those replicas themselves (a
// stand-in does not count for them).
func (f *fanout) planAlso(t *topology.Topology, i int, k []byte, prefs []string, n, need int) {
	var buf [16]string
	other := t.AppendAlsoPreference(buf[:0], engine.Token(k), n)
	if ring.SameSet(prefs, other) {
		return
	}
	if f.alsoSet == nil {
		f.alsoSet = make([][]string, f.nkeys)
	}
	f.alsoSet[i] = slices.Clone(other)
	f.need[f.nkeys+i], f.asked[f.nkeys+i] = need, len(other)
	for _, id := range other {
		if !slices.Contains(prefs, id) {
			f.add(f.batchOfAlso(id, t), i, k)
		}
	}
}

// batchOfAlso returns the index of the other ring's batch for id.
func (f *fanout) batchOfAlso(id string, t *topology.Topology) int {
	for b := range f.batches {
		if bt := &f.batches[b]; bt.id == id && bt.also {
			return b
		}
	}
	rep, _ := t.Replica(id)
	f.batches = append(f.batches, batch{id: id, rep: rep, also: true, epoch: t.Epoch()})
	return len(f.batches) - 1
}

// healthyOwners counts the owners down does not report.
func healthyOwners(owners []string, down func(string) bool) int {
	n := 0
	for _, id := range owners {
		if !down(id) {
			n++
		}
	}
	return n
}

// add appends key i to batch b.
func (f *fanout) add(b, i int, k []byte) {
	f.batches[b].idx = append(f.batches[b].idx, i)
	f.batches[b].keys = append(f.batches[b].keys, k)
}

// batchOf returns the index of the batch for (id, hint, noted, extra),
// adding it if new.
func (f *fanout) batchOf(id, hint string, noted, extra bool, t *topology.Topology) int {
	for b := range f.batches {
		bt := &f.batches[b]
		if bt.id == id && bt.hint == hint && bt.noted == noted && bt.extra == extra && !bt.fallback && !bt.also {
			return b
		}
	}
	rep, _ := t.Replica(id)
	f.batches = append(f.batches, batch{id: id, rep: rep, hint: hint, noted: noted, extra: extra, epoch: t.Epoch()})
	return len(f.batches) - 1
}

// holds reports whether key i already has a copy going to node id in
// this request.
func (f *fanout) holds(i int, id string) bool {
	for b := range f.batches {
		if f.batches[b].id != id {
			continue
		}
		if _, ok := slices.BinarySearch(f.batches[b].idx, i); ok {
			return true
		}
	}
	return false
}

// answer is one replica call's result.
type answer struct {
	b     int // batch index
	recs  []engine.Record
	found []bool
	count int64
	// newer, on writes, is what Replica.Apply reported.
	newer []engine.Version
	// behind, on reads, is ReadReply.Behind.
	behind bool
	// other is the answer of a call that is neither a read nor a write:
	// a scan's *replica.ScanReply, a member's []engine.ClassCount. One
	// field, so that the answers of reads and writes stay small.
	other any
	err   error
}

// flight is a set of replica calls running in parallel, bounded by one
// deadline. Answers are buffered, so a call finishing after nobody waits
// any more still ends at once: late acks never leak a goroutine.
type flight struct {
	ctx     context.Context
	cancel  context.CancelFunc
	answers chan answer
	// left counts calls not yet finished (plus the request's own
	// reference while it may still launch fallbacks); reaching zero
	// cancels ctx, which releases the timer early.
	left atomic.Int32
	// launched counts the calls started; answers has room for every one
	// (only the request's goroutine touches it).
	launched int
	// late, when set, takes the answers that arrive after stopAnswers (a
	// write's owners failing after the reply, a read's late repliers); mu
	// orders finish against stopAnswers so that every answer is handled
	// exactly once.
	late func(answer)
	mu   sync.Mutex
	// stopped is set by stopAnswers; under mu.
	stopped bool
}

// newFlight starts a flight of n calls ending at deadline (or on Close),
// with room for extra fallback calls.
func (c *Coordinator) newFlight(n, extra int, deadline time.Time) *flight {
	ctx, cancel := context.WithDeadline(c.life, deadline)
	fl := &flight{ctx: ctx, cancel: cancel, answers: make(chan answer, n+extra), launched: n}
	fl.left.Store(int32(n))
	if n == 0 {
		cancel()
	}
	return fl
}

// retain adds the request's reference: the flight stays open for
// fallback calls until release, even if every call so far finished.
func (fl *flight) retain() { fl.left.Add(1) }

// release drops the request's reference.
func (fl *flight) release() {
	if fl.left.Add(-1) == 0 {
		fl.cancel()
	}
}

// room reports how many more calls the flight can take.
func (fl *flight) room() int { return cap(fl.answers) - fl.launched }

// batchCall is the kind of replica call a request makes per batch: a
// read (readBatch, get.go) or a write's apply (applyBatch, put.go).
type batchCall uint8

const (
	readBatch batchCall = iota
	applyBatch
)

// run makes the call and waits for the answer.
func (k batchCall) run(ctx context.Context, bt *batch, rep replica.Replica) answer {
	if k == applyBatch {
		return runApply(ctx, bt, rep)
	}
	return runRead(ctx, bt, rep)
}

// start hands the call to a replica that answers asynchronously
// (replica.Async) and reports whether it could, so that no goroutine
// waits for the answer; done gets the answer.
func (k batchCall) start(ctx context.Context, bt *batch, rep replica.Replica, done func(answer)) bool {
	ar, ok := rep.(replica.Async)
	if !ok {
		return false
	}
	if k == applyBatch {
		startApply(ctx, bt, ar, done)
	} else {
		startRead(ctx, bt, ar, done)
	}
	return true
}

// launchAll runs call against every batch of f: the other replicas
// asynchronously (or each in an owned goroutine), then this node's own
// batch inline. Inline because the local engine answers in microseconds
// and a fresh goroutine would pay for growing its stack through the
// storage engine's deep call chain on every request; the remote calls are
// already on their way.
//
// ask, when not nil, limits the launch to the batches it marks (a read's
// first choice); the others are launched later, or never.
func (c *Coordinator) launchAll(fl *flight, f *fanout, call batchCall, ask []bool) {
	// With sloppy quorum this node can have two batches: its own keys and
	// hints it keeps for an owner that is down.
	var selfBuf [2]int
	self := selfBuf[:0]
	for b := range f.batches {
		bt := &f.batches[b]
		if ask != nil && !ask[b] {
			continue
		}
		if bt.id == c.cfg.Self && bt.rep != nil {
			self = append(self, b)
			continue
		}
		c.launchBatch(fl, b, bt, call)
	}
	for _, b := range self {
		bt := &f.batches[b]
		a := call.run(fl.ctx, bt, bt.rep)
		a.b = b
		fl.finish(a)
	}
}

// launchBatch runs call against batch b (bt): asynchronously when the
// call and the replica allow it, else in an owned goroutine.
func (c *Coordinator) launchBatch(fl *flight, b int, bt *batch, call batchCall) {
	if bt.rep != nil {
		c.wg.Add(1)
		if call.start(fl.ctx, bt, bt.rep, func(a answer) {
			a.b = b
			fl.finish(a)
			c.wg.Done()
		}) {
			return
		}
		c.wg.Done()
	}
	c.launch(fl, b, bt.rep, func(ctx context.Context, rep replica.Replica) answer { return call.run(ctx, bt, rep) })
}

// launch runs call against batch b's replica in an owned goroutine. An
// unresolved replica fails at once with ErrUnknownPeer.
func (c *Coordinator) launch(fl *flight, b int, rep replica.Replica, call func(context.Context, replica.Replica) answer) {
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
	if fl.late != nil {
		fl.mu.Lock()
		if fl.stopped {
			fl.mu.Unlock()
			fl.late(a)
			fl.release()
			return
		}
		fl.answers <- a
		fl.mu.Unlock()
		fl.release()
		return
	}
	fl.answers <- a // never blocks: the channel holds one answer per call
	fl.release()
}

// stopAnswers ends the request's interest in the flight: the answers
// already buffered, and every answer that arrives later, go to late (on
// the goroutine of the call that produced it). Only for flights with
// late set.
func (fl *flight) stopAnswers() {
	fl.mu.Lock()
	fl.stopped = true
	var buffered []answer
	for more := true; more; {
		select {
		case a := <-fl.answers:
			buffered = append(buffered, a)
		default:
			more = false
		}
	}
	fl.mu.Unlock()
	for _, a := range buffered {
		fl.late(a)
	}
}

// next returns the next answer. ok is false once the deadline passed (or
// Close) and every answer already in has been returned; err is req's
// error if the caller gave up first. When wake fires first, next returns
// ok with a.b == -1 and no answer.
func (fl *flight) next(req context.Context, wake <-chan time.Time) (a answer, ok bool, err error) {
	select {
	case a = <-fl.answers:
		return a, true, nil
	case <-wake:
		return answer{b: -1}, true, nil
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
