package handoff_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ringcache/ringcache/bench/await"
	"github.com/ringcache/ringcache/cluster/handoff"
	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
)

// bigRec returns a record whose value has n bytes.
func bigRec(n int, wall int64) engine.Record {
	return engine.Record{Value: bytes.Repeat([]byte("x"), n), Version: engine.Version{Wall: wall, Node: 7}}
}

// batchBytes is what a delivered call carries, as the Manager counts it.
func batchBytes(c call) int {
	n := 0
	for i, k := range c.keys {
		n += len(k) + c.recs[i].EncodedLen()
	}
	return n
}

// Hold refuses a record larger than MaxRecordBytes; one found in a queue
// (stored by an older version, or with a larger limit) is dropped, counted
// and never blocks the hints behind it, which are all delivered.
func TestOversizedHintDroppedWhileTheRestIsDelivered(t *testing.T) {
	e := memEngine(t, nil)
	fc := newFakeCluster()
	cfg := testConfig(e, fc, newClock())
	cfg.MaxRecordBytes = 1000
	m := newManager(t, cfg)

	err := m.Hold("t", [][]byte{[]byte("refused")}, []engine.Record{bigRec(1000, 100)})
	if !errors.Is(err, handoff.ErrTooLarge) || !errors.Is(err, handoff.ErrRefused) {
		t.Fatalf("Hold of %d bytes over a limit of 1000: %v", 1000+len("refused"), err)
	}
	if s := statsOf(m, "t"); s.Pending != 0 || s.Dropped != 1 || s.TooLarge != 1 {
		t.Fatalf("after the refusal: %+v", s)
	}
	// At the limit: kept.
	mustHold(t, m, "t", [][]byte{[]byte("k")}, []engine.Record{bigRec(999, 100)})

	keys, recs := hintKeys(60, 100)
	mustHold(t, m, "t", keys, recs)
	// Stored behind the Manager's back, as a node with larger frames
	// would have: somewhere among the others in the queue.
	if _, err := e.PutHints("t", [][]byte{[]byte("huge-1"), []byte("huge-2")},
		[]engine.Record{bigRec(5000, 100), bigRec(1001, 100)}, time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	fc.set("t", handoff.Alive)
	m.Wake("t")
	drained(t, m, "t", 64) // "refused" counted at Hold
	got, _ := fc.received("t")
	if _, ok := got["k"]; !ok || len(got) != 61 {
		t.Fatalf("%d keys delivered, want the 61 that fit", len(got))
	}
	for _, k := range []string{"huge-1", "huge-2", "refused"} {
		if _, ok := got[k]; ok {
			t.Fatalf("%s was delivered", k)
		}
	}
	if s := statsOf(m, "t"); s.Delivered != 61 || s.Dropped != 3 || s.TooLarge != 3 {
		t.Fatalf("stats %+v, want 61 delivered and 3 dropped as too large", s)
	}
	if tot := handoff.Totals(m.Stats()); tot.TooLarge != 3 {
		t.Fatalf("Totals %+v", tot)
	}
}

// A batch the cluster refuses for its size is split until it fits; a
// single hint refused for its size is dropped. Replay neither stalls nor
// retries the refused hint.
func TestSizeRefusalSplitsTheBatch(t *testing.T) {
	e := memEngine(t, nil)
	fc := newFakeCluster()
	cfg := testConfig(e, fc, newClock())
	cfg.BatchKeys, cfg.BatchBytes = 64, 64<<10
	const frame = 2000 // what the fake peer takes in one request
	fc.refuse = func(keys [][]byte, recs []engine.Record) error {
		n := 0
		for i := range keys {
			if string(keys[i]) == "poison" {
				return fmt.Errorf("peer: %w", transport.ErrFrameTooLarge)
			}
			n += len(keys[i]) + recs[i].EncodedLen()
		}
		if n > frame {
			return transport.NewRemoteError(transport.OpApply,
				fmt.Errorf("%w: request of %d bytes", transport.ErrFrameTooLarge, n))
		}
		return nil
	}
	tk := await.NewTicker()
	cfg.NewTicker = tk.Start
	m := newManager(t, cfg)
	keys, recs := hintKeys(40, 100)
	for i := range recs {
		recs[i] = bigRec(300, 100)
	}
	keys = append(keys, []byte("poison"))
	recs = append(recs, rec("small", 100))
	mustHold(t, m, "t", keys, recs)
	fc.set("t", handoff.Alive)
	m.Wake("t")
	drained(t, m, "t", 41)
	got, calls := fc.received("t")
	if len(got) != 40 {
		t.Fatalf("%d keys delivered, want 40", len(got))
	}
	for _, c := range calls {
		if n := batchBytes(c); n > frame {
			t.Fatalf("a delivered batch of %d bytes", n)
		}
	}
	s := statsOf(m, "t")
	if s.Delivered != 40 || s.Dropped != 1 || s.TooLarge != 1 {
		t.Fatalf("stats %+v, want 40 delivered and the poison dropped", s)
	}
	attempts := fc.deliverAttempts()
	tk.Passes(t, 10) // a wrong retry would show
	if n := fc.deliverAttempts(); n != attempts {
		t.Fatalf("%d deliveries after the queue emptied", n-attempts)
	}
}

// Batches hold at most BatchBytes unless a single hint is larger; that
// one goes alone.
func TestBatchesBoundedByBytes(t *testing.T) {
	e := memEngine(t, nil)
	fc := newFakeCluster()
	cfg := testConfig(e, fc, newClock())
	cfg.BatchKeys, cfg.BatchBytes = 1000, 2000
	m := newManager(t, cfg)
	keys, recs := hintKeys(30, 100)
	for i := range recs {
		recs[i] = bigRec(700, 100)
	}
	keys = append(keys, []byte("large"))
	recs = append(recs, bigRec(5000, 100))
	mustHold(t, m, "t", keys, recs)
	fc.set("t", handoff.Alive)
	m.Wake("t")
	eventually(t, "queue empty", func() error {
		if s := statsOf(m, "t"); s.Pending != 0 {
			return fmt.Errorf("stats %+v", s)
		}
		return nil
	})
	got, calls := fc.received("t")
	if len(got) != 31 {
		t.Fatalf("%d keys delivered, want 31", len(got))
	}
	for _, c := range calls {
		if n := batchBytes(c); len(c.keys) > 1 && n > cfg.BatchBytes {
			t.Fatalf("a batch of %d hints and %d bytes, BatchBytes %d", len(c.keys), n, cfg.BatchBytes)
		}
		for _, k := range c.keys {
			if k == "large" && len(c.keys) > 1 {
				t.Fatal("the hint larger than a batch did not go alone")
			}
		}
	}
}
