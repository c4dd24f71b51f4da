package handoff_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ringcache/ringcache/bench/await"
	"github.com/ringcache/ringcache/cluster/handoff"
	"github.com/ringcache/ringcache/engine"
)

// checkDelivered fails unless got holds exactly keys with recs.
func checkDelivered(keys [][]byte, recs []engine.Record, got map[string]engine.Record) error {
	if len(got) != len(keys) {
		return fmt.Errorf("%d distinct keys delivered, want %d", len(got), len(keys))
	}
	for i, k := range keys {
		if r, ok := got[string(k)]; !ok || !sameRecord(r, recs[i]) {
			return fmt.Errorf("key %s delivered as %+v (found %v), want %+v", k, r, ok, recs[i])
		}
	}
	return nil
}

func TestReplayDeliversEveryHintInBatches(t *testing.T) {
	tests := []struct {
		name       string
		hints      int
		batchKeys  int
		batchBytes int
		value      int
	}{
		{"one batch", 10, 16, 1 << 20, 10},
		{"bounded by keys", 200, 16, 1 << 20, 10},
		{"bounded by bytes", 100, 512, 1024, 200},
		{"batch of one", 20, 1, 1 << 20, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := memEngine(t, nil)
			fc := newFakeCluster()
			cfg := testConfig(e, fc, newClock())
			cfg.BatchKeys, cfg.BatchBytes = tt.batchKeys, tt.batchBytes
			tk := await.NewTicker()
			cfg.NewTicker = tk.Start
			m := newManager(t, cfg)
			keys, recs := hintKeys(tt.hints, 100)
			for i := range recs {
				recs[i].Value = fmt.Appendf(nil, "%0*d", tt.value, i)
			}
			mustHold(t, m, "t", keys, recs)
			if s := statsOf(m, "t"); s.Pending != int64(tt.hints) || s.DownSince.IsZero() {
				t.Fatalf("after Hold: %+v, want %d pending and a down-since time", s, tt.hints)
			}
			// While the target is down a wake delivers nothing, nor do
			// the retry passes.
			m.Wake("t")
			tk.Passes(t, 3)
			if fc.deliverAttempts() != 0 {
				t.Fatalf("%d deliveries to a down target", fc.deliverAttempts())
			}

			fc.set("t", handoff.Alive)
			m.Wake("t")
			eventually(t, "queue empty", func() error {
				if s := statsOf(m, "t"); s.Pending != 0 || s.Bytes != 0 || !s.DownSince.IsZero() {
					return fmt.Errorf("stats %+v", s)
				}
				return nil
			})
			got, calls := fc.received("t")
			if err := checkDelivered(keys, recs, got); err != nil {
				t.Fatal(err)
			}
			total := 0
			for _, c := range calls {
				total += len(c.keys)
				if len(c.keys) > tt.batchKeys {
					t.Fatalf("a batch of %d keys, BatchKeys %d", len(c.keys), tt.batchKeys)
				}
				size := 0
				for i, k := range c.keys {
					size += len(k) + c.recs[i].EncodedLen()
				}
				// A batch stops at the first hint that reaches BatchBytes.
				if last := len(c.keys[len(c.keys)-1]) + c.recs[len(c.keys)-1].EncodedLen(); size-last >= tt.batchBytes {
					t.Fatalf("a batch of %d bytes, BatchBytes %d", size, tt.batchBytes)
				}
			}
			if total != tt.hints {
				t.Fatalf("%d records delivered in %d calls, want each of %d once", total, len(calls), tt.hints)
			}
			if min := (tt.hints + tt.batchKeys - 1) / tt.batchKeys; len(calls) < min {
				t.Fatalf("%d calls, want at least %d", len(calls), min)
			}
			if s := statsOf(m, "t"); s.Delivered != int64(tt.hints) || s.Dropped != 0 {
				t.Fatalf("delivered %d dropped %d, want %d and 0", s.Delivered, s.Dropped, tt.hints)
			}
			if n, _ := fc.received(""); len(n) != 0 {
				t.Fatalf("%d handovers for an alive target", len(n))
			}
		})
	}
}

// A failed delivery keeps the batch's hints; the periodic retry delivers
// them once the target answers again.
func TestFailedDeliveryKeepsHints(t *testing.T) {
	e := memEngine(t, nil)
	fc := newFakeCluster()
	m := newManager(t, testConfig(e, fc, newClock()))
	keys, recs := hintKeys(50, 100)
	mustHold(t, m, "t", keys, recs)
	fc.setFail(true, false)
	fc.set("t", handoff.Alive)
	m.Wake("t")
	eventually(t, "several failed attempts", func() error {
		if n := fc.deliverAttempts(); n < 3 {
			return fmt.Errorf("%d attempts", n)
		}
		return nil
	})
	if s := statsOf(m, "t"); s.Pending != 50 || s.Delivered != 0 || s.Dropped != 0 || s.DownSince.IsZero() {
		t.Fatalf("after failed deliveries: %+v, want all 50 pending, none delivered or dropped", s)
	}
	fc.setFail(false, false)
	eventually(t, "delivered on retry", func() error {
		if s := statsOf(m, "t"); s.Pending != 0 || s.Delivered != 50 {
			return fmt.Errorf("stats %+v", s)
		}
		return nil
	})
	got, _ := fc.received("t")
	if err := checkDelivered(keys, recs, got); err != nil {
		t.Fatal(err)
	}
}

// A delivery that fails half way keeps exactly the hints not yet
// acknowledged.
func TestPartialDeliveryKeepsTheRest(t *testing.T) {
	e := memEngine(t, nil)
	fc := newFakeCluster()
	m := newManager(t, testConfig(e, fc, newClock()))
	keys, recs := hintKeys(64, 100) // 4 batches of 16
	mustHold(t, m, "t", keys, recs)
	block := make(chan struct{})
	var unblock sync.Once
	release := func() { unblock.Do(func() { close(block) }) }
	t.Cleanup(release) // runs before the Manager's Close
	fc.onDeliver = func(n int) error {
		if n >= 2 {
			<-block // hold later attempts until the test looked
			return errInjected
		}
		return nil
	}
	fc.set("t", handoff.Alive)
	m.Wake("t")
	eventually(t, "two batches acknowledged", func() error {
		if s := statsOf(m, "t"); s.Pending != 32 || s.Delivered != 32 {
			return fmt.Errorf("stats %+v", s)
		}
		return nil
	})
	// Each key is either acknowledged or still held, never both or none.
	got, _ := fc.received("t")
	held := make([]engine.Record, len(keys))
	found := make([]bool, len(keys))
	if err := e.LookupHints("t", keys, held, found); err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		r, delivered := got[string(k)]
		switch {
		case delivered == found[i]:
			t.Fatalf("key %s: delivered %v, still held %v", k, delivered, found[i])
		case delivered && !sameRecord(r, recs[i]):
			t.Fatalf("key %s delivered as %+v, want %+v", k, r, recs[i])
		case found[i] && !sameRecord(held[i], recs[i]):
			t.Fatalf("key %s held as %+v, want %+v", k, held[i], recs[i])
		}
	}
	release()
	// Every later attempt fails: the other 32 stay.
	eventually(t, "more failed attempts", func() error {
		if n := fc.deliverAttempts(); n < 5 {
			return fmt.Errorf("%d attempts", n)
		}
		return nil
	})
	if s := statsOf(m, "t"); s.Pending != 32 || s.Delivered != 32 {
		t.Fatalf("after failed retries: %+v, want 32 pending and 32 delivered", s)
	}
}

// A hint stored for a key while its older hint is being delivered is not
// deleted with it, and is delivered in turn.
func TestNewerHintDuringDeliverySurvives(t *testing.T) {
	e := memEngine(t, nil)
	fc := newFakeCluster()
	m := newManager(t, testConfig(e, fc, newClock()))
	key := [][]byte{[]byte("k")}
	mustHold(t, m, "t", key, []engine.Record{rec("old", 100)})
	newer := rec("new", 200)
	holdErr := make(chan error, 1)
	fc.onDeliver = func(n int) error {
		switch n {
		case 0: // the old hint is on its way: a newer write arrives
			holdErr <- m.Hold("t", key, []engine.Record{newer})
			return nil
		case 1: // refuse the newer one for now, so the test can look
			return errInjected
		}
		return nil
	}
	fc.set("t", handoff.Alive)
	m.Wake("t")
	if err := <-holdErr; err != nil {
		t.Fatalf("Hold during delivery: %v", err)
	}
	// Attempt 1 (the newer hint) is refused; a retry delivers it.
	eventually(t, "newer hint delivered", func() error {
		if s := statsOf(m, "t"); s.Pending != 0 {
			return fmt.Errorf("stats %+v", s)
		}
		return nil
	})
	got, calls := fc.received("t")
	if r := got["k"]; !sameRecord(r, newer) {
		t.Fatalf("the target got %+v last, want the newer hint %+v (calls %+v)", r, newer, calls)
	}
	if len(calls) != 2 || string(calls[0].recs[0].Value) != "old" {
		t.Fatalf("calls %+v, want the old hint then the newer one", calls)
	}
}

// Same as above, but checking the stored hint itself right after the
// old one's delete.
func TestDeleteAfterDeliveryKeepsNewerHint(t *testing.T) {
	e := memEngine(t, nil)
	fc := newFakeCluster()
	m := newManager(t, testConfig(e, fc, newClock()))
	key := [][]byte{[]byte("k")}
	mustHold(t, m, "t", key, []engine.Record{rec("old", 100)})
	newer := rec("new", 200)
	fc.onDeliver = func(n int) error {
		if n == 0 {
			return m.Hold("t", key, []engine.Record{newer})
		}
		return errInjected // never deliver the newer one
	}
	fc.set("t", handoff.Alive)
	m.Wake("t")
	eventually(t, "a retry after the first delivery", func() error {
		if n := fc.deliverAttempts(); n < 3 {
			return fmt.Errorf("%d attempts", n)
		}
		return nil
	})
	recs := make([]engine.Record, 1)
	found := make([]bool, 1)
	if err := e.LookupHints("t", key, recs, found); err != nil {
		t.Fatal(err)
	}
	if !found[0] || !sameRecord(recs[0], newer) {
		t.Fatalf("stored hint %+v (found %v), want the newer %+v", recs[0], found[0], newer)
	}
	if s := statsOf(m, "t"); s.Pending != 1 || s.Delivered != 1 {
		t.Fatalf("stats %+v, want 1 pending (newer) and 1 delivered (old)", s)
	}
}

// The hints of a departed target go to the keys' current owners.
func TestGoneTargetHandsOver(t *testing.T) {
	e := memEngine(t, nil)
	fc := newFakeCluster()
	m := newManager(t, testConfig(e, fc, newClock()))
	keys, recs := hintKeys(40, 100)
	recs[3] = engine.Record{Version: engine.Version{Wall: 100, Node: 7}, Tombstone: true}
	mustHold(t, m, "g", keys, recs)
	fc.set("g", handoff.Gone)
	m.Wake("g")
	eventually(t, "handed over", func() error {
		if s := statsOf(m, "g"); s.Pending != 0 || s.Delivered != 40 || !s.DownSince.IsZero() {
			return fmt.Errorf("stats %+v", s)
		}
		return nil
	})
	got, _ := fc.received("")
	if err := checkDelivered(keys, recs, got); err != nil {
		t.Fatal(err)
	}
	if fc.deliverAttempts() != 0 {
		t.Fatalf("%d deliveries to a departed target", fc.deliverAttempts())
	}
}

// A departed target's hints that its keys' owners cannot take are kept
// within the window and dropped, counted, past it.
func TestGoneTargetHintsDroppedPastWindow(t *testing.T) {
	const window = time.Hour
	tests := []struct {
		name     string
		after    time.Duration
		wantKept bool
	}{
		{"within the window", window / 2, true},
		{"past the window", window + time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := memEngine(t, nil)
			fc := newFakeCluster()
			clk := newClock()
			cfg := testConfig(e, fc, clk)
			cfg.MaxWindow = window
			tk := await.NewTicker()
			cfg.NewTicker = tk.Start
			m := newManager(t, cfg)
			keys, recs := hintKeys(30, 100)
			mustHold(t, m, "g", keys, recs)
			fc.setFail(false, true)
			clk.Advance(tt.after)
			fc.set("g", handoff.Gone)
			m.Wake("g")
			if tt.wantKept {
				// Only a bounded number of retries can be observed: the
				// loop passes over the target ten times.
				for pass := range 10 {
					tk.Passes(t, 1)
					if s := statsOf(m, "g"); s.Pending != 30 || s.Dropped != 0 {
						t.Fatalf("within the window, pass %d: %+v, want all 30 kept", pass, s)
					}
				}
				if s := statsOf(m, "g"); s.DownSince.IsZero() {
					t.Fatalf("down-since cleared with hints pending: %+v", s)
				}
				return
			}
			eventually(t, "dropped", func() error {
				if s := statsOf(m, "g"); s.Pending != 0 || s.Dropped != 30 || s.Delivered != 0 || !s.DownSince.IsZero() {
					return fmt.Errorf("stats %+v", s)
				}
				return nil
			})
			if n, _ := fc.received(""); len(n) != 0 {
				t.Fatalf("%d keys handed over although every handover failed", len(n))
			}
		})
	}
}

// A target that is back but whose every hint was refused still loses its
// down-since time, so its next outage starts a fresh window.
func TestAliveTargetClearsDownSince(t *testing.T) {
	e := memEngine(t, nil)
	fc := newFakeCluster()
	clk := newClock()
	m := newManager(t, testConfig(e, fc, clk))
	m.Down("t", clk.Now())
	if statsOf(m, "t").DownSince.IsZero() {
		t.Fatal("Down recorded no down-since time")
	}
	fc.set("t", handoff.Alive)
	m.Wake("t")
	eventually(t, "down-since cleared", func() error {
		if s := statsOf(m, "t"); !s.DownSince.IsZero() {
			return errors.New("still down")
		}
		return nil
	})
}

// A target that stays unreachable is retried by one early-retry chain,
// however many passes failed: each periodic pass that fails must not add
// a chain of its own, or the attempts per second grow with the outage.
func TestUnreachableTargetRetriesDoNotPileUp(t *testing.T) {
	e := memEngine(t, nil)
	fc := newFakeCluster()
	clk := newClock()
	cfg := testConfig(e, fc, clk)
	tk := await.NewTicker()
	cfg.NewTicker = tk.Start
	m := newManager(t, cfg)
	keys, recs := hintKeys(10, 100)
	mustHold(t, m, "t", keys, recs)
	fc.set("t", handoff.Alive)
	fc.setFail(true, false)
	// Thirty periodic passes, each failing.
	tk.Passes(t, 30)
	// With one chain, an attempt per RetryInterval (20ms): about 15 in
	// 300ms. With a chain per failed pass, thirty times that.
	start := fc.deliverAttempts()
	time.Sleep(300 * time.Millisecond)
	if n := fc.deliverAttempts() - start; n > 60 {
		t.Fatalf("%d delivery attempts in 300ms with a %v retry: the early retries pile up", n, cfg.RetryInterval)
	}
	if s := statsOf(m, "t"); s.Pending != 10 {
		t.Fatalf("stats %+v, want 10 pending", s)
	}
}
