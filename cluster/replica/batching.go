package replica

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
)

// Batching merges the concurrent calls of many client requests to
// one peer into few replica requests. Up to maxInFlight requests per kind
// (Apply, Read) go out at once; calls made while all are in flight queue,
// and the next request carries every queued call (up to maxItems keys).
// Under light load a call goes out alone and at once; under load each
// request, frame and engine batch on the peer serves many client
// requests, which is what turns one system call and one Pebble commit per
// SET on every replica into one per batch.
//
// A caller of Apply or Read waits for its own call's answer or its
// context, whichever comes first; ApplyAsync and ReadAsync return at once
// and their callback runs when the merged request is answered. A batch is
// sent with the latest deadline among its calls.
//
// No request exceeds the peer's frame (split.go): queued calls
// are merged only while their records fit in one request, a call whose
// records do not is sent in several requests, and a record too large for
// any request fails its call at once (ErrValueTooLarge, wrapping
// transport.ErrFrameTooLarge) without going to the wire. A read whose
// answer the peer could not fit in a frame is asked again in halves.
type Batching struct {
	next     Replica
	applies  batchQueue[*applyCall]
	reads    batchQueue[*readCall]
	maxItems int
	// maxApplyBytes and maxReadBytes bound one request's items
	// (transport.ApplyItemLen and ReadKeyLen summed): what one frame of
	// the peer's transport holds.
	maxApplyBytes, maxReadBytes int
	// sending counts requests on their way to the peer; answered is when
	// the last one came back (unix nanoseconds). Together they tell a
	// peer that stopped answering from one that is merely busy or idle.
	sending  atomic.Int64
	answered atomic.Int64
	now      func() time.Time
}

// Batching limits: requests in flight per kind and peer, and keys per
// merged request. Two in flight keep one request on the wire while the
// previous answer is handled; more only split the same calls into more,
// smaller requests (BenchmarkQuorum in clustertest: with 50 callers GET
// took about 13 us/op at 4, 10 at 2 and 8.5 at 1, SET 20, 19 and 17),
// and one alone would queue every call behind a slow request.
const (
	batchMaxInFlight = 2
	batchMaxItems    = 512
)

// NewBatching wraps next, a peer whose transport carries frames of
// at most maxFrame payload bytes (transport.Config.MaxFrameBytes; 0: the
// default 64 MiB).
func NewBatching(next Replica, maxFrame int) *Batching {
	if maxFrame <= 0 {
		maxFrame = transport.DefaultConfig().MaxFrameBytes
	}
	b := &Batching{next: next, maxItems: batchMaxItems, now: time.Now,
		maxApplyBytes: transport.MaxApplyItemsBytes(maxFrame), maxReadBytes: transport.MaxReadKeysBytes(maxFrame)}
	b.applies.max, b.reads.max = batchMaxInFlight, batchMaxInFlight
	return b
}

// applyCall is one caller's part of a merged apply request.
type applyCall struct {
	ctx   context.Context
	epoch uint64
	keys  [][]byte
	recs  []engine.Record
	// bytes is what the call adds to a request (applyBytes).
	bytes int
	ans   answerOnce[ApplyReply]
}

type readCall struct {
	ctx   context.Context
	epoch uint64
	keys  [][]byte
	bytes int // what the call adds to a request (readBytes)
	ans   answerOnce[readResult]
}

// size weighs a call for the queue: keys and request bytes.
func (c *applyCall) size() (int, int) { return len(c.keys), c.bytes }
func (c *readCall) size() (int, int)  { return len(c.keys), c.bytes }

// answerOnce delivers a call's outcome exactly once: from the goroutine
// that sent its request, or, for an async call, as soon as the caller's
// context ends, since a merged request runs under the latest deadline of
// its calls and not under any one caller's cancellation. done must not
// block.
type answerOnce[R any] struct {
	done func(R)
	sent atomic.Bool
	// async marks a caller that does not wait on its own context; its
	// call gets a context watch when it rides in a merged request.
	async bool
	// stop unregisters the watch (nil: none). Only the sending goroutine
	// sets and calls it.
	stop func() bool
}

// watch makes an async call answer with ctx's error once ctx ends. A
// request of one call runs under that call's own context and needs none.
func (a *answerOnce[R]) watch(ctx context.Context, fail func(error) R) {
	if a.async {
		a.stop = context.AfterFunc(ctx, func() { a.deliver(fail(ctx.Err())) })
	}
}

// deliver hands r to done unless the call was answered already.
func (a *answerOnce[R]) deliver(r R) {
	if a.sent.CompareAndSwap(false, true) {
		a.done(r)
	}
}

// finish is deliver from the sending goroutine: it also ends the watch.
func (a *answerOnce[R]) finish(r R) {
	if a.stop != nil {
		a.stop()
	}
	a.deliver(r)
}

type readResult struct {
	r   ReadReply
	err error
}

// Apply implements Replica. Plain writes join the next merged request;
// hints, hint deliveries and noted writes happen only while an owner is
// down or returning, so they go out unmerged, in as many requests as
// their records need.
func (b *Batching) Apply(ctx context.Context, req ApplyRequest) ([]engine.Version, error) {
	if !plain(req) {
		return b.applyUnmerged(ctx, req)
	}
	ch := make(chan ApplyReply, 1) // buffered: the sender never blocks on a caller gone
	c := &applyCall{ctx: ctx, epoch: req.Epoch, keys: req.Keys, recs: req.Recs, bytes: applyBytes(req.Keys, req.Recs)}
	c.ans.done = func(r ApplyReply) { ch <- r }
	if b.applies.enter(c) {
		b.sendApplies([]*applyCall{c})
	}
	select {
	case r := <-ch:
		return r.Newer, r.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ApplyAsync implements Async: a plain write joins the next merged
// request and done runs with its outcome on the goroutine that sent it, or
// with ctx's error as soon as ctx ends; any other goes out unmerged on a
// goroutine of its own.
func (b *Batching) ApplyAsync(ctx context.Context, req ApplyRequest, done func(ApplyReply)) {
	if !plain(req) {
		go func() {
			newer, err := b.applyUnmerged(ctx, req)
			done(ApplyReply{Newer: newer, Err: err})
		}()
		return
	}
	c := &applyCall{ctx: ctx, epoch: req.Epoch, keys: req.Keys, recs: req.Recs, bytes: applyBytes(req.Keys, req.Recs)}
	c.ans.done, c.ans.async = done, true
	if b.applies.enter(c) {
		go b.sendApplies([]*applyCall{c})
	}
}

// plain reports whether req is a write of the replica's own data, which
// merges with others.
func plain(req ApplyRequest) bool { return req.Hint == "" && req.From == "" && !req.Noted }

// Read implements Replica. A read of the replica's data joins the next
// merged request; a stand-in's read of its hints goes out alone.
func (b *Batching) Read(ctx context.Context, req ReadRequest) (ReadReply, error) {
	if req.Hint != "" {
		return b.next.Read(ctx, req)
	}
	ch := make(chan readResult, 1)
	c := &readCall{ctx: ctx, epoch: req.Epoch, keys: req.Keys, bytes: readBytes(req.Keys)}
	c.ans.done = func(r readResult) { ch <- r }
	if b.reads.enter(c) {
		b.sendReads([]*readCall{c})
	}
	select {
	case r := <-ch:
		return r.r, r.err
	case <-ctx.Done():
		return ReadReply{}, ctx.Err()
	}
}

// ReadAsync implements Async.
func (b *Batching) ReadAsync(ctx context.Context, req ReadRequest, done func(ReadReply, error)) {
	if req.Hint != "" {
		go func() { done(b.next.Read(ctx, req)) }()
		return
	}
	c := &readCall{ctx: ctx, epoch: req.Epoch, keys: req.Keys, bytes: readBytes(req.Keys)}
	c.ans.done, c.ans.async = func(r readResult) { done(r.r, r.err) }, true
	if b.reads.enter(c) {
		go b.sendReads([]*readCall{c})
	}
}

// sendApplies sends calls as one request (several if their records do
// not fit in one), answers them, and hands the in-flight slot to a
// goroutine that sends whatever queued meanwhile.
func (b *Batching) sendApplies(calls []*applyCall) {
	calls = liveCalls(calls, func(c *applyCall) context.Context { return c.ctx },
		func(c *applyCall, err error) { c.ans.finish(ApplyReply{Err: err}) })
	for _, calls := range byEpoch(calls, applyEpoch) {
		var keys [][]byte
		var recs []engine.Record
		size := 0
		if len(calls) == 1 {
			keys, recs, size = calls[0].keys, calls[0].recs, calls[0].bytes
		} else {
			n := 0
			for _, c := range calls {
				n += len(c.keys)
			}
			keys, recs = make([][]byte, 0, n), make([]engine.Record, 0, n)
			for _, c := range calls {
				keys = append(keys, c.keys...)
				recs = append(recs, c.recs...)
				size += c.bytes
				c.ans.watch(c.ctx, func(err error) ApplyReply { return ApplyReply{Err: err} })
			}
		}
		ctx, cancel := batchContext(calls, func(c *applyCall) context.Context { return c.ctx })
		done := b.sent()
		var newer []engine.Version
		var err error
		var parts []part
		if size <= b.maxApplyBytes {
			newer, err = b.next.Apply(ctx, ApplyRequest{Keys: keys, Recs: recs, Epoch: minEpoch(calls, applyEpoch)})
		} else {
			parts, newer = b.applyParts(ctx, ApplyRequest{Keys: keys, Recs: recs, Epoch: minEpoch(calls, applyEpoch)})
		}
		done()
		cancel()
		if err == nil && newer != nil && len(newer) != len(keys) {
			err = ErrShortReply
		}
		off := 0
		for _, c := range calls {
			n := len(c.keys)
			r := ApplyReply{Err: err}
			if parts != nil {
				r.Err = partsErr(parts, off, off+n)
			}
			if r.Err == nil && newer != nil {
				r.Newer = nonZero(newer[off : off+n : off+n])
			}
			off += n
			c.ans.finish(r)
		}
	}
	if more := b.applies.next(b.maxItems, b.maxApplyBytes); more != nil {
		go b.sendApplies(more)
	}
}

// sendReads is sendApplies for reads: the answer is split back per call.
// A request the peer could not answer in one frame is asked again in
// parts (readParts).
func (b *Batching) sendReads(calls []*readCall) {
	calls = liveCalls(calls, func(c *readCall) context.Context { return c.ctx },
		func(c *readCall, err error) { c.ans.finish(readResult{err: err}) })
	for _, calls := range byEpoch(calls, readEpoch) {
		n, size := 0, 0
		for _, c := range calls {
			n += len(c.keys)
			size += c.bytes
		}
		keys := make([][]byte, 0, n)
		for _, c := range calls {
			keys = append(keys, c.keys...)
			if len(calls) > 1 {
				c.ans.watch(c.ctx, func(err error) readResult { return readResult{err: err} })
			}
		}
		ctx, cancel := batchContext(calls, func(c *readCall) context.Context { return c.ctx })
		done := b.sent()
		var rep ReadReply
		var err error
		var failed []part
		if size <= b.maxReadBytes {
			rep, err = b.readOnce(ctx, keys, minEpoch(calls, readEpoch))
		}
		if size > b.maxReadBytes || len(keys) > 1 && errors.Is(err, transport.ErrFrameTooLarge) {
			rep, failed = b.readParts(ctx, keys, size <= b.maxReadBytes, minEpoch(calls, readEpoch))
			err = nil
		}
		done()
		cancel()
		off := 0
		for _, c := range calls {
			n := len(c.keys)
			r := readResult{err: err}
			if r.err == nil {
				r.err = partsErr(failed, off, off+n)
			}
			if r.err == nil {
				r.r = ReadReply{Recs: rep.Recs[off : off+n : off+n], Found: rep.Found[off : off+n : off+n], Behind: rep.Behind}
			}
			off += n
			c.ans.finish(r)
		}
	}
	if more := b.reads.next(b.maxItems, b.maxReadBytes); more != nil {
		go b.sendReads(more)
	}
}

// byEpoch splits calls into runs of one layout epoch each, in order of
// their first call: a merged request carries one epoch, and a replica
// that knows a later layout refuses a request of an earlier one, so a
// call must not travel under another call's older epoch (it would be
// refused as stale, and its coordinator wait for a layout newer than the
// one it has). Calls are nearly always of one epoch: one run, no copy.
func byEpoch[C any](calls []C, epoch func(C) uint64) [][]C {
	if len(calls) == 0 {
		return nil
	}
	first := epoch(calls[0])
	same := true
	for _, c := range calls[1:] {
		if epoch(c) != first {
			same = false
			break
		}
	}
	if same {
		return [][]C{calls}
	}
	var runs [][]C
	at := map[uint64]int{}
	for _, c := range calls {
		e := epoch(c)
		i, ok := at[e]
		if !ok {
			i = len(runs)
			at[e] = i
			runs = append(runs, nil)
		}
		runs[i] = append(runs[i], c)
	}
	return runs
}

// minEpoch returns the epoch the calls were planned with (all of one
// epoch, byEpoch; 0 for none).
func minEpoch[C any](calls []C, epoch func(C) uint64) uint64 {
	var m uint64
	for _, c := range calls {
		if e := epoch(c); e != 0 && (m == 0 || e < m) {
			m = e
		}
	}
	return m
}

func applyEpoch(c *applyCall) uint64 { return c.epoch }
func readEpoch(c *readCall) uint64   { return c.epoch }

// readOnce sends keys in one read request.
func (b *Batching) readOnce(ctx context.Context, keys [][]byte, epoch uint64) (ReadReply, error) {
	r, err := b.next.Read(ctx, ReadRequest{Keys: keys, Epoch: epoch})
	if err == nil && (len(r.Recs) != len(keys) || len(r.Found) != len(keys)) {
		err = ErrShortReply
	}
	return r, err
}

// sent counts a request on its way; the returned func records its answer.
func (b *Batching) sent() func() {
	if b.sending.Add(1) == 1 {
		// The first request after a quiet spell: waiting starts now, not
		// at the last answer, which may be long ago.
		b.answered.Store(b.now().UnixNano())
	}
	return func() {
		b.answered.Store(b.now().UnixNano())
		b.sending.Add(-1)
	}
}

// Lagging reports whether the peer has requests outstanding and has
// answered none of them for at least d: paused, overloaded or cut off.
// Reads ask other replicas first while a peer lags (readTargets).
func (b *Batching) Lagging(d time.Duration) bool {
	return b.sending.Load() > 0 && b.now().UnixNano()-b.answered.Load() >= int64(d)
}

// liveCalls drops the calls whose caller has given up, answering each
// with its context's error through fail.
func liveCalls[C any](calls []C, ctxOf func(C) context.Context, fail func(C, error)) []C {
	live := calls[:0]
	for _, c := range calls {
		if err := ctxOf(c).Err(); err != nil {
			fail(c, err)
			continue
		}
		live = append(live, c)
	}
	return live
}

// batchContext returns a context that lasts as long as the most patient
// call: the latest deadline, or none if some call has none.
func batchContext[C any](calls []C, ctxOf func(C) context.Context) (context.Context, context.CancelFunc) {
	if len(calls) == 1 {
		return ctxOf(calls[0]), func() {}
	}
	var latest time.Time
	for _, c := range calls {
		d, ok := ctxOf(c).Deadline()
		if !ok {
			return context.WithCancel(context.Background())
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.Background(), latest)
}

// batchQueue counts a kind's requests in flight and queues the calls made
// while the limit is reached.
type batchQueue[C interface{ size() (keys, bytes int) }] struct {
	mu sync.Mutex
	// inFlight counts requests being sent, at most max; queue holds calls
	// waiting for the next one. Guarded by mu.
	inFlight, max int
	queue         []C
}

// enter takes an in-flight slot for c, or queues c and returns false.
func (q *batchQueue[C]) enter(c C) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.inFlight < q.max {
		q.inFlight++
		return true
	}
	q.queue = append(q.queue, c)
	return false
}

// next is called by a sender whose request finished: it returns the
// queued calls (up to maxItems keys and maxBytes request bytes, at least
// one call) for the sender to send next, keeping its slot, or releases
// the slot and returns nil.
func (q *batchQueue[C]) next(maxItems, maxBytes int) []C {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.queue) == 0 {
		q.inFlight--
		return nil
	}
	n, items, bytes := 0, 0, 0
	for n < len(q.queue) {
		k, b := q.queue[n].size()
		if n > 0 && (items+k > maxItems || bytes+b > maxBytes) {
			break
		}
		items, bytes = items+k, bytes+b
		n++
	}
	out := make([]C, n)
	copy(out, q.queue[:n])
	clear(q.queue[:n])
	q.queue = q.queue[n:]
	if len(q.queue) == 0 {
		q.queue = nil
	}
	return out
}

// Scan implements Replica.
func (b *Batching) Scan(ctx context.Context, req ScanRequest) (ScanReply, error) {
	return b.next.Scan(ctx, req)
}

// Count implements Replica.
func (b *Batching) Count(ctx context.Context) (int64, error) { return b.next.Count(ctx) }

// ClassCounts implements Replica.
func (b *Batching) ClassCounts(ctx context.Context) ([]engine.ClassCount, error) {
	return b.next.ClassCounts(ctx)
}

// DropAll implements Replica.
func (b *Batching) DropAll(ctx context.Context, floor engine.Version) error {
	return b.next.DropAll(ctx, floor)
}

// applyUnmerged sends one caller's records, in several requests if one
// cannot hold them; the first failure is the call's.
func (b *Batching) applyUnmerged(ctx context.Context, req ApplyRequest) ([]engine.Version, error) {
	if applyBytes(req.Keys, req.Recs) <= b.maxApplyBytes {
		return b.next.Apply(ctx, req)
	}
	parts, newer := b.applyParts(ctx, req)
	if err := partsErr(parts, 0, len(req.Keys)); err != nil {
		return nil, err
	}
	return newer, nil
}
