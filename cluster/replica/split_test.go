package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
)

func TestSplitBySize(t *testing.T) {
	tests := []struct {
		sizes []int
		limit int
		want  []part
	}{
		{nil, 10, nil},
		{[]int{3, 3, 3}, 10, []part{{lo: 0, hi: 3}}},
		{[]int{5, 5, 5}, 10, []part{{lo: 0, hi: 2}, {lo: 2, hi: 3}}},
		{[]int{10, 1}, 10, []part{{lo: 0, hi: 1}, {lo: 1, hi: 2}}},
		{[]int{11}, 10, []part{{lo: 0, hi: 1, tooBig: true}}},
		{[]int{1, 11, 1}, 10, []part{{lo: 0, hi: 1}, {lo: 1, hi: 2, tooBig: true}, {lo: 2, hi: 3}}},
		{[]int{11, 11}, 10, []part{{lo: 0, hi: 1, tooBig: true}, {lo: 1, hi: 2, tooBig: true}}},
		{[]int{0, 0, 10, 0}, 10, []part{{lo: 0, hi: 4}}},
	}
	for _, tt := range tests {
		got := splitBySize(len(tt.sizes), tt.limit, func(i int) int { return tt.sizes[i] })
		if !slices.Equal(got, tt.want) {
			t.Errorf("splitBySize(%v, %d) = %v, want %v", tt.sizes, tt.limit, got, tt.want)
		}
	}
}

// Property: the parts cover every item once, in order; a part that is not
// tooBig holds at least one item and at most limit bytes, and could not
// have taken the next item; a tooBig part is one item over the limit.
func TestSplitBySizeProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		limit := 1 + rng.IntN(100)
		sizes := make([]int, rng.IntN(40))
		for i := range sizes {
			sizes[i] = rng.IntN(limit * 3 / 2)
		}
		parts := splitBySize(len(sizes), limit, func(i int) int { return sizes[i] })
		next := 0
		for k, p := range parts {
			if p.lo != next || p.hi <= p.lo {
				t.Fatalf("sizes %v limit %d: part %v after item %d", sizes, limit, p, next)
			}
			next = p.hi
			sum := 0
			for _, s := range sizes[p.lo:p.hi] {
				sum += s
			}
			if p.tooBig {
				if p.hi-p.lo != 1 || sum <= limit {
					t.Fatalf("sizes %v limit %d: tooBig part %v of %d bytes", sizes, limit, p, sum)
				}
				continue
			}
			if sum > limit {
				t.Fatalf("sizes %v limit %d: part %v of %d bytes", sizes, limit, p, sum)
			}
			if k+1 < len(parts) && !parts[k+1].tooBig && sum+sizes[p.hi] <= limit {
				t.Fatalf("sizes %v limit %d: part %v stopped before an item that fit", sizes, limit, p)
			}
		}
		if next != len(sizes) {
			t.Fatalf("sizes %v limit %d: parts end at %d", sizes, limit, next)
		}
	}
}

// sizeReplica records every request it gets, with its size in the
// transport's encoding, and keeps what was applied; it can refuse reads
// whose answer would exceed a frame, as a peer's server does.
type sizeReplica struct {
	noAdmin
	// maxAnswer, when set, fails a read whose records exceed it the way
	// a peer's server does.
	maxAnswer int
	gate      chan struct{} // when set, every Apply takes a value first

	mu       sync.Mutex
	applied  map[string]engine.Record
	hinted   map[string]string
	requests []int // item bytes of every apply request
	reads    [][]string
}

func newSizeReplica() *sizeReplica {
	return &sizeReplica{applied: map[string]engine.Record{}, hinted: map[string]string{}}
}

func (r *sizeReplica) record(keys [][]byte, recs []engine.Record, target string) error {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, applyBytes(keys, recs))
	for i, k := range keys {
		if _, dup := r.applied[string(k)]; dup {
			return fmt.Errorf("key %s sent twice", k)
		}
		r.applied[string(k)] = recs[i]
		if target != "" {
			r.hinted[string(k)] = target
		}
	}
	return nil
}

func (r *sizeReplica) Apply(_ context.Context, req ApplyRequest) ([]engine.Version, error) {
	return nil, r.record(req.Keys, req.Recs, req.Hint)
}

func (r *sizeReplica) Read(_ context.Context, req ReadRequest) (ReadReply, error) {
	keys := req.Keys
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, len(keys))
	recs, found := make([]engine.Record, len(keys)), make([]bool, len(keys))
	answer := 0
	for i, k := range keys {
		names[i] = string(k)
		recs[i], found[i] = r.applied[string(k)]
		answer += recs[i].EncodedLen()
	}
	r.reads = append(r.reads, names)
	if r.maxAnswer > 0 && answer > r.maxAnswer {
		return ReadReply{}, transport.NewRemoteError(transport.OpRead,
			fmt.Errorf("%w: response of %d bytes, limit %d", transport.ErrFrameTooLarge, answer, r.maxAnswer))
	}
	return ReadReply{Recs: recs, Found: found}, nil
}

// values returns n keys prefix0.. with records of size bytes of value.
func values(prefix string, n, size int) ([][]byte, []engine.Record) {
	keys := make([][]byte, n)
	recs := make([]engine.Record, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "%s%03d", prefix, i)
		recs[i] = engine.Record{Value: bytes.Repeat([]byte{byte('a' + i%26)}, size), Version: engine.Version{Wall: 1}}
	}
	return keys, recs
}

// One call whose records need several frames goes out as several
// requests, each within the frame, every record once.
func TestBatchingReplicaSplitsApplyByBytes(t *testing.T) {
	const frame = 4096
	limit := transport.MaxApplyItemsBytes(frame)
	for _, hinted := range []bool{false, true} {
		t.Run(fmt.Sprint("hinted=", hinted), func(t *testing.T) {
			rep := newSizeReplica()
			b := NewBatching(rep, frame)
			keys, recs := values("k", 20, 700) // about 14 KiB: four frames
			var err error
			if hinted {
				_, err = b.Apply(context.Background(), ApplyRequest{Keys: keys, Recs: recs, Hint: "owner"})
			} else {
				_, err = b.Apply(context.Background(), ApplyRequest{Keys: keys, Recs: recs})
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.applied) != len(keys) {
				t.Fatalf("%d of %d records applied", len(rep.applied), len(keys))
			}
			if len(rep.requests) < 4 {
				t.Fatalf("%d requests for %d bytes in frames of %d", len(rep.requests), applyBytes(keys, recs), frame)
			}
			for _, n := range rep.requests {
				if n > limit {
					t.Fatalf("a request of %d bytes of items, limit %d", n, limit)
				}
			}
			if hinted && len(rep.hinted) != len(keys) {
				t.Fatalf("%d records kept as hints", len(rep.hinted))
			}
		})
	}
}

// Concurrent callers whose records together exceed a frame are merged
// only as far as a frame holds them.
func TestBatchingReplicaMergesWithinFrame(t *testing.T) {
	const frame = 8192
	rep := newSizeReplica()
	b := NewBatching(rep, frame)
	var wg sync.WaitGroup
	for c := range 40 {
		wg.Go(func() {
			keys, recs := values(fmt.Sprintf("c%02d-", c), 3, 500)
			if _, err := b.Apply(context.Background(), ApplyRequest{Keys: keys, Recs: recs}); err != nil {
				t.Errorf("Apply: %v", err)
			}
		})
	}
	wg.Wait()
	if len(rep.applied) != 120 {
		t.Fatalf("%d records applied, want 120", len(rep.applied))
	}
	for _, n := range rep.requests {
		if n > transport.MaxApplyItemsBytes(frame) {
			t.Fatalf("a merged request of %d bytes of items, frame %d", n, frame)
		}
	}
	t.Logf("40 calls in %d requests", len(rep.requests))
}

// A record that fits in no frame fails its call at once without being
// sent; the other records of that call, and the calls queued with it, go
// through.
func TestBatchingReplicaRefusesRecordTooLargeForFrame(t *testing.T) {
	const frame = 4096
	rep := newSizeReplica()
	rep.gate = make(chan struct{})
	b := NewBatching(rep, frame)
	bg := context.Background()

	// Alone: refused, nothing sent.
	huge, hugeRecs := values("huge", 1, frame)
	close(rep.gate)
	_, err := b.Apply(bg, ApplyRequest{Keys: huge, Recs: hugeRecs})
	if !errors.Is(err, ErrValueTooLarge) || !errors.Is(err, transport.ErrFrameTooLarge) {
		t.Fatalf("Apply of a record larger than a frame: %v", err)
	}
	if len(rep.requests) != 0 {
		t.Fatalf("%d requests sent for a record that fits in no frame", len(rep.requests))
	}

	// Queued with others: they go through.
	rep.gate = make(chan struct{})
	b = NewBatching(rep, frame)
	var busy sync.WaitGroup
	for i := range batchMaxInFlight {
		keys, recs := values(fmt.Sprint("busy", i), 1, 10)
		busy.Add(1)
		b.ApplyAsync(bg, ApplyRequest{Keys: keys, Recs: recs}, func(ApplyReply) { busy.Done() })
	}
	eventually(t, "the in-flight slots taken", func() bool {
		b.applies.mu.Lock()
		defer b.applies.mu.Unlock()
		return b.applies.inFlight == batchMaxInFlight
	})
	small, smallRecs := values("small", 2, 10)
	mixedKeys := append(slices.Clone(small[:1]), huge...)
	mixedRecs := append(slices.Clone(smallRecs[:1]), hugeRecs...)
	gotMixed, gotSmall := make(chan error, 1), make(chan error, 1)
	b.ApplyAsync(bg, ApplyRequest{Keys: mixedKeys, Recs: mixedRecs}, func(r ApplyReply) { gotMixed <- r.Err })
	b.ApplyAsync(bg, ApplyRequest{Keys: small[1:], Recs: smallRecs[1:]}, func(r ApplyReply) { gotSmall <- r.Err })
	close(rep.gate)
	busy.Wait()
	if err := <-gotMixed; !errors.Is(err, ErrValueTooLarge) {
		t.Fatalf("the call with the oversized record: %v", err)
	}
	if err := <-gotSmall; err != nil {
		t.Fatalf("a call queued with an oversized record: %v", err)
	}
	if _, ok := rep.applied["huge000"]; ok {
		t.Fatal("the oversized record was sent")
	}
	for _, k := range []string{"small000", "small001"} {
		if _, ok := rep.applied[k]; !ok {
			t.Fatalf("%s was not applied", k)
		}
	}
}

// A read whose answer does not fit in a frame is asked again in halves;
// only a key whose record fits in no frame fails, and only its call.
func TestBatchingReplicaSplitsReadsTheAnswerCannotHold(t *testing.T) {
	rep := newSizeReplica()
	keys, recs := values("r", 8, 1000)
	keys = append(keys, []byte("huge"))
	recs = append(recs, engine.Record{Value: bytes.Repeat([]byte("h"), 5000)})
	for i := range keys {
		rep.applied[string(keys[i])] = recs[i]
	}
	rep.maxAnswer = 2500 // two records of 1000 per answer, never "huge"
	b := NewBatching(rep, 0)
	rr, err := b.Read(context.Background(), ReadRequest{Keys: keys[:8]})
	got, found := rr.Recs, rr.Found
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	for i := range 8 {
		if !found[i] || !bytes.Equal(got[i].Value, recs[i].Value) {
			t.Fatalf("key %s: found %v, value of %d bytes", keys[i], found[i], len(got[i].Value))
		}
	}
	// 8 keys, then two halves of 4, then four quarters of 2 that fit.
	if len(rep.reads) != 7 {
		t.Fatalf("%d read requests, want 7: %v", len(rep.reads), rep.reads)
	}
	if _, err := b.Read(context.Background(), ReadRequest{Keys: keys}); !errors.Is(err, transport.ErrFrameTooLarge) {
		t.Fatalf("Read with a record larger than any answer: %v", err)
	}
}
