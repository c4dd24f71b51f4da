package replica

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringcache/ringcache/bench/await"
	"github.com/ringcache/ringcache/engine"
)

// recordingReplica is a slow replica that records every request.
// noAdmin gives a test replica Count and DropAll that fail.
type noAdmin struct{}

var errNoAdmin = errors.New("test replica: no node-wide operations")

func (noAdmin) Count(context.Context) (int64, error)          { return 0, errNoAdmin }
func (noAdmin) DropAll(context.Context, engine.Version) error { return errNoAdmin }
func (noAdmin) ClassCounts(context.Context) ([]engine.ClassCount, error) {
	return nil, errNoAdmin
}
func (noAdmin) Scan(context.Context, ScanRequest) (ScanReply, error) {
	return ScanReply{}, errNoAdmin
}

type recordingReplica struct {
	noAdmin
	delay time.Duration
	err   error
	short bool

	mu       sync.Mutex
	applied  map[string]engine.Record
	requests int
	inFlight int32
	maxSeen  int32
}

func newRecordingReplica(delay time.Duration) *recordingReplica {
	return &recordingReplica{delay: delay, applied: map[string]engine.Record{}}
}

func (r *recordingReplica) enter() func() {
	n := atomic.AddInt32(&r.inFlight, 1)
	for {
		m := atomic.LoadInt32(&r.maxSeen)
		if n <= m || atomic.CompareAndSwapInt32(&r.maxSeen, m, n) {
			break
		}
	}
	r.mu.Lock()
	r.requests++
	r.mu.Unlock()
	time.Sleep(r.delay)
	return func() { atomic.AddInt32(&r.inFlight, -1) }
}

func (r *recordingReplica) Apply(ctx context.Context, req ApplyRequest) ([]engine.Version, error) {
	keys, recs := req.Keys, req.Recs
	defer r.enter()()
	if r.err != nil {
		return nil, r.err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, k := range keys {
		if _, dup := r.applied[string(k)]; dup {
			return nil, fmt.Errorf("key %s sent twice", k)
		}
		r.applied[string(k)] = recs[i]
	}
	return nil, nil
}

func (r *recordingReplica) Read(ctx context.Context, req ReadRequest) (ReadReply, error) {
	keys := req.Keys
	defer r.enter()()
	if r.err != nil {
		return ReadReply{}, r.err
	}
	n := len(keys)
	if r.short {
		n--
	}
	recs, found := make([]engine.Record, n), make([]bool, n)
	for i := 0; i < n; i++ {
		recs[i], found[i] = engine.Record{Value: append([]byte("v:"), keys[i]...)}, true
	}
	return ReadReply{Recs: recs, Found: found}, nil
}

func TestBatchingReplicaMergesConcurrentCalls(t *testing.T) {
	rec := newRecordingReplica(2 * time.Millisecond)
	b := NewBatching(rec, 0)
	const callers, each = 64, 5
	var wg sync.WaitGroup
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for i := 0; i < each; i++ {
				key := []byte(fmt.Sprintf("c%d-%d", c, i))
				if _, err := b.Apply(ctx, ApplyRequest{Keys: [][]byte{key}, Recs: []engine.Record{{Value: key}}}); err != nil {
					t.Errorf("Apply: %v", err)
					return
				}
				r, err := b.Read(ctx, ReadRequest{Keys: [][]byte{key, []byte("x")}})
				recs, found := r.Recs, r.Found
				if err != nil || len(recs) != 2 || !found[0] || string(recs[0].Value) != "v:"+string(key) || string(recs[1].Value) != "v:x" {
					t.Errorf("Read(%s) = %v %v %v", key, recs, found, err)
					return
				}
			}
		}(c)
	}
	wg.Wait()
	if len(rec.applied) != callers*each {
		t.Fatalf("%d keys applied, want %d", len(rec.applied), callers*each)
	}
	calls := 2 * callers * each
	if rec.requests >= calls/2 {
		t.Fatalf("%d requests for %d calls: not batched", rec.requests, calls)
	}
	if m := atomic.LoadInt32(&rec.maxSeen); m > 2*batchMaxInFlight {
		t.Fatalf("%d requests in flight at once, limit %d per kind", m, batchMaxInFlight)
	}
	t.Logf("%d calls in %d requests", calls, rec.requests)
}

func TestBatchingReplicaErrors(t *testing.T) {
	boom := errors.New("boom")
	rec := newRecordingReplica(0)
	rec.err = boom
	b := NewBatching(rec, 0)
	ctx := context.Background()
	if _, err := b.Apply(ctx, ApplyRequest{Keys: [][]byte{[]byte("k")}, Recs: []engine.Record{{}}}); !errors.Is(err, boom) {
		t.Fatalf("Apply error = %v", err)
	}
	if _, err := b.Read(ctx, ReadRequest{Keys: [][]byte{[]byte("k")}}); !errors.Is(err, boom) {
		t.Fatalf("Read error = %v", err)
	}
	rec.err, rec.short = nil, true
	if _, err := b.Read(ctx, ReadRequest{Keys: [][]byte{[]byte("a"), []byte("b")}}); !errors.Is(err, ErrShortReply) {
		t.Fatalf("short reply: %v", err)
	}
}

func TestBatchingReplicaCallerGivesUp(t *testing.T) {
	rec := newRecordingReplica(500 * time.Millisecond)
	b := NewBatching(rec, 0)
	// Fill every in-flight slot with slow calls.
	var wg sync.WaitGroup
	for i := 0; i < batchMaxInFlight; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			key := []byte(fmt.Sprint("slow", i))
			_, _ = b.Apply(context.Background(), ApplyRequest{Keys: [][]byte{key}, Recs: []engine.Record{{}}})
		}(i)
	}
	for atomic.LoadInt32(&rec.inFlight) < batchMaxInFlight {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := b.Apply(ctx, ApplyRequest{Keys: [][]byte{[]byte("impatient")}, Recs: []engine.Record{{}}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queued call past its deadline: %v", err)
	}
	if waited := time.Since(start); waited > 250*time.Millisecond {
		t.Fatalf("a caller whose context expired waited %v for the batch", waited)
	}
	wg.Wait()
	// The slots are released once the follow-up (the queued call) is done.
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.applies.mu.Lock()
		idle := b.applies.inFlight == 0
		b.applies.mu.Unlock()
		if idle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("in-flight slots never released")
		}
		time.Sleep(time.Millisecond)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if _, sent := rec.applied["impatient"]; sent {
		t.Fatal("a call whose caller gave up before it was sent was sent anyway")
	}
}

// TestBatchingReplicaAsyncCalls: calls made through ApplyAsync and
// ReadAsync return at once, are merged like blocking ones, and each
// callback runs exactly once with the call's own answer.
func TestBatchingReplicaAsyncCalls(t *testing.T) {
	rec := newRecordingReplica(2 * time.Millisecond)
	b := NewBatching(rec, 0)
	const calls = 200
	ctx := context.Background()
	var applied, read sync.WaitGroup
	var once [calls]atomic.Int32
	applied.Add(calls)
	read.Add(calls)
	for i := range calls {
		k := []byte(fmt.Sprint("k", i))
		b.ApplyAsync(ctx, ApplyRequest{Keys: [][]byte{k}, Recs: []engine.Record{{Value: k}}}, func(r ApplyReply) {
			err := r.Err
			if err != nil {
				t.Errorf("apply %s: %v", k, err)
			}
			once[i].Add(1)
			applied.Done()
		})
		b.ReadAsync(ctx, ReadRequest{Keys: [][]byte{k}}, func(r ReadReply, err error) {
			recs, found := r.Recs, r.Found
			if err != nil || len(recs) != 1 || !found[0] || string(recs[0].Value) != "v:"+string(k) {
				t.Errorf("read %s: %v %v %v", k, recs, found, err)
			}
			read.Done()
		})
	}
	applied.Wait()
	read.Wait()
	for i := range once {
		if n := once[i].Load(); n != 1 {
			t.Fatalf("apply callback %d ran %d times", i, n)
		}
	}
	if len(rec.applied) != calls {
		t.Fatalf("%d keys applied, want %d", len(rec.applied), calls)
	}
	if rec.requests >= 2*calls {
		t.Fatalf("%d requests for %d async calls: nothing merged", rec.requests, 2*calls)
	}
	if m := atomic.LoadInt32(&rec.maxSeen); m > 2*batchMaxInFlight {
		t.Fatalf("%d requests in flight, limit %d per kind", m, batchMaxInFlight)
	}
}

// TestBatchingReplicaAsyncCallGivenUp: an async call whose context ended
// while it queued is not sent, and its callback gets the context's error.
func TestBatchingReplicaAsyncCallGivenUp(t *testing.T) {
	rec := newRecordingReplica(20 * time.Millisecond)
	b := NewBatching(rec, 0)
	bg := context.Background()
	// Fill every in-flight slot so that the next call queues.
	var busy sync.WaitGroup
	for i := range batchMaxInFlight {
		busy.Add(1)
		k := []byte(fmt.Sprint("busy", i))
		b.ApplyAsync(bg, ApplyRequest{Keys: [][]byte{k}, Recs: []engine.Record{{}}}, func(ApplyReply) { busy.Done() })
	}
	ctx, cancel := context.WithCancel(bg)
	got := make(chan error, 1)
	b.ApplyAsync(ctx, ApplyRequest{Keys: [][]byte{[]byte("gone")}, Recs: []engine.Record{{}}}, func(r ApplyReply) { got <- r.Err })
	cancel()
	wantCanceled(t, got, "the callback of a call given up")
	busy.Wait()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if _, sent := rec.applied["gone"]; sent {
		t.Fatal("a call given up before it was sent was sent")
	}
}

// TestBatchingReplicaLagging: a peer lags once a request has been out for
// the given time without any answer; an idle or answering peer does not.
func TestBatchingReplicaLagging(t *testing.T) {
	rec := newRecordingReplica(0)
	hold := make(chan struct{})
	gated := &gatedReplica{Replica: rec, gate: hold}
	b := NewBatching(gated, 0)
	var clock atomic.Int64
	clock.Store(time.Unix(1000, 0).UnixNano())
	b.now = func() time.Time { return time.Unix(0, clock.Load()) }
	advance := func(d time.Duration) { clock.Add(int64(d)) }

	if b.Lagging(time.Millisecond) {
		t.Fatal("an idle peer lags")
	}
	done := make(chan error, 1)
	b.ApplyAsync(context.Background(), ApplyRequest{Keys: [][]byte{[]byte("k")}, Recs: []engine.Record{{}}}, func(r ApplyReply) { done <- r.Err })
	eventually(t, "the first apply to begin", func() bool { return gated.waiting.Load() == 1 })
	advance(10 * time.Millisecond)
	if b.Lagging(20 * time.Millisecond) {
		t.Fatal("lagging after 10ms with a 20ms bound")
	}
	advance(15 * time.Millisecond)
	if !b.Lagging(20 * time.Millisecond) {
		t.Fatal("a request out for 25ms without an answer: not lagging")
	}
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if b.Lagging(time.Nanosecond) {
		t.Fatal("lagging after the peer answered everything")
	}
}

// gatedReplica holds every Apply until it takes a value from gate, or
// gate is closed; waiting counts the Applies that began.
type gatedReplica struct {
	Replica
	gate    chan struct{}
	waiting atomic.Int32
}

func (g *gatedReplica) Apply(ctx context.Context, req ApplyRequest) ([]engine.Version, error) {
	keys, recs := req.Keys, req.Recs
	g.waiting.Add(1)
	<-g.gate
	return g.Replica.Apply(ctx, ApplyRequest{Keys: keys, Recs: recs})
}

// TestBatchingReplicaAsyncCallEndsWithItsContext: an async call riding in
// a merged request is answered with its own context's error as soon as
// that context ends, not when the merged request (which runs under the
// latest deadline of its calls) comes back, and only once.
func TestBatchingReplicaAsyncCallEndsWithItsContext(t *testing.T) {
	rec := newRecordingReplica(0)
	gate := make(chan struct{})
	g := &gatedReplica{Replica: rec, gate: gate}
	b := NewBatching(g, 0)
	bg := context.Background()
	var answers sync.WaitGroup
	call := func(ctx context.Context, k string, got chan<- error) {
		answers.Add(1)
		b.ApplyAsync(ctx, ApplyRequest{Keys: [][]byte{[]byte(k)}, Recs: []engine.Record{{}}}, func(r ApplyReply) {
			err := r.Err
			if got != nil {
				got <- err
			}
			answers.Done()
		})
	}
	// Two singles fill the in-flight slots; the next two queue.
	call(bg, "a", nil)
	call(bg, "b", nil)
	eventually(t, "two applies to begin", func() bool { return g.waiting.Load() == 2 })
	ctx, cancel := context.WithCancel(bg)
	mine := make(chan error, 2)
	call(ctx, "c", mine)
	call(bg, "d", nil)
	// One single comes back; its sender takes c and d as one request,
	// which the peer holds.
	gate <- struct{}{}
	eventually(t, "the merged apply to begin", func() bool { return g.waiting.Load() == 3 })
	cancel()
	wantCanceled(t, mine, "a call whose context ended")
	close(gate)
	answers.Wait()
	if len(mine) != 0 {
		t.Fatalf("the call was answered twice: %v", <-mine)
	}
}

// wantCanceled waits up to 5s for what's answer on ch and requires
// context.Canceled.
func wantCanceled(t *testing.T, ch <-chan error, what string) {
	t.Helper()
	select {
	case err := <-ch:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s was answered %v, want context.Canceled", what, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s was not answered within 5s", what)
	}
}

// eventually retries cond until it holds, for up to 5s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	await.T(t, 5*time.Second, what, cond)
}

// epochReplica refuses requests planned with an epoch before its own, as
// Local does once it knows a later layout.
type epochReplica struct {
	*recordingReplica
	epoch uint64
}

func (r epochReplica) Apply(ctx context.Context, req ApplyRequest) ([]engine.Version, error) {
	if req.Epoch < r.epoch {
		return nil, fmt.Errorf("%w: %d", ErrStaleEpoch, r.epoch)
	}
	return r.recordingReplica.Apply(ctx, req)
}

func (r epochReplica) Read(ctx context.Context, req ReadRequest) (ReadReply, error) {
	if req.Epoch < r.epoch {
		return ReadReply{}, fmt.Errorf("%w: %d", ErrStaleEpoch, r.epoch)
	}
	return r.recordingReplica.Read(ctx, req)
}

// TestBatchingReplicaKeepsEachCallsEpoch: calls planned with the
// replica's epoch and calls of an older one, made at once and merged,
// are answered each by its own epoch: the current ones are not refused
// for riding with a stale one.
func TestBatchingReplicaKeepsEachCallsEpoch(t *testing.T) {
	rec := newRecordingReplica(time.Millisecond)
	b := NewBatching(epochReplica{recordingReplica: rec, epoch: 5}, 0)
	const callers, each = 32, 5
	var wg sync.WaitGroup
	for c := range callers {
		epoch := uint64(4 + c%2)
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for i := range each {
				key := []byte(fmt.Sprintf("c%d-%d", c, i))
				_, aerr := b.Apply(ctx, ApplyRequest{Keys: [][]byte{key}, Recs: []engine.Record{{Value: key}}, Epoch: epoch})
				_, rerr := b.Read(ctx, ReadRequest{Keys: [][]byte{key}, Epoch: epoch})
				for _, err := range []error{aerr, rerr} {
					if stale := errors.Is(err, ErrStaleEpoch); stale != (epoch < 5) || (!stale && err != nil) {
						t.Errorf("call of epoch %d to a replica of epoch 5: %v", epoch, err)
					}
				}
			}
		})
	}
	wg.Wait()
	if calls := callers * each; len(rec.applied) != calls/2 || rec.requests >= calls {
		t.Fatalf("%d keys applied (want %d) in %d requests for %d calls of the current epoch", len(rec.applied), calls/2, rec.requests, calls)
	}
	t.Logf("%d requests reached the replica", rec.requests)
}
