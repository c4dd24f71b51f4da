package handoff_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"

	"github.com/ringcache/ringcache/cluster/handoff"
	"github.com/ringcache/ringcache/engine"
)

func TestConfigValidate(t *testing.T) {
	e := memEngine(t, nil)
	good := testConfig(e, newFakeCluster(), newClock())
	if err := good.Validate(); err != nil {
		t.Fatalf("test config invalid: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*handoff.Config)
	}{
		{"no store", func(c *handoff.Config) { c.Store = nil }},
		{"no cluster", func(c *handoff.Config) { c.Cluster = nil }},
		{"zero rate", func(c *handoff.Config) { c.ReplayRate = 0 }},
		{"zero window", func(c *handoff.Config) { c.MaxWindow = 0 }},
		{"negative window", func(c *handoff.Config) { c.MaxWindow = -time.Second }},
		{"zero max bytes", func(c *handoff.Config) { c.MaxBytes = 0 }},
		{"zero retry", func(c *handoff.Config) { c.RetryInterval = 0 }},
		{"zero batch keys", func(c *handoff.Config) { c.BatchKeys = 0 }},
		{"zero batch bytes", func(c *handoff.Config) { c.BatchBytes = 0 }},
		{"zero timeout", func(c *handoff.Config) { c.Timeout = 0 }},
		{"negative record limit", func(c *handoff.Config) { c.MaxRecordBytes = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mod(&cfg)
			if err := cfg.Validate(); !errors.Is(err, handoff.ErrInvalidConfig) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
			}
			if m, err := handoff.New(cfg); !errors.Is(err, handoff.ErrInvalidConfig) {
				if m != nil {
					m.Close()
				}
				t.Fatalf("New = %v, want ErrInvalidConfig", err)
			}
		})
	}
	d := handoff.DefaultConfig()
	if d.ReplayRate != 16<<20 || d.MaxWindow != 3*time.Hour || d.MaxBytes != 1<<30 || d.RetryInterval != time.Second ||
		d.MaxRecordBytes != 64<<20-64<<10 {
		t.Fatalf("DefaultConfig = %+v, want the documented defaults", d)
	}
}

func TestRefusalsWrapErrRefused(t *testing.T) {
	for _, err := range []error{handoff.ErrWindow, handoff.ErrFull} {
		if !errors.Is(err, handoff.ErrRefused) {
			t.Errorf("%v does not wrap ErrRefused", err)
		}
	}
	if errors.Is(handoff.ErrClosed, handoff.ErrRefused) {
		t.Error("ErrClosed wraps ErrRefused: a closed manager is not a refusal to count")
	}
}

// Several hints for one key stored in any order leave one hint: the
// newest. Checked against a naive oracle over random sequences.
func TestHoldsCollapseToNewest(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0))
			e := memEngine(t, nil)
			m := newManager(t, testConfig(e, newFakeCluster(), newClock()))
			const nkeys = 12
			newest := map[string]engine.Record{}
			for range 60 {
				// A batch of 1..4 records, possibly repeating a key.
				n := 1 + rng.IntN(4)
				keys := make([][]byte, n)
				recs := make([]engine.Record, n)
				for i := range keys {
					k := fmt.Sprintf("k%02d", rng.IntN(nkeys))
					wall := int64(1000 + rng.IntN(50))
					r := rec(fmt.Sprintf("%s@%d.%d", k, wall, i), wall)
					r.Version.Logical = uint32(rng.IntN(3))
					r.Tombstone = rng.IntN(5) == 0
					if r.Tombstone {
						r.Value = nil
					}
					keys[i], recs[i] = []byte(k), r
					if old, ok := newest[k]; !ok || r.Version.Compare(old.Version) > 0 {
						newest[k] = r
					}
				}
				mustHold(t, m, "t", keys, recs)
			}
			if got := statsOf(m, "t").Pending; got != int64(len(newest)) {
				t.Fatalf("%d hints pending, want one per key (%d)", got, len(newest))
			}
			for k, want := range newest {
				recs := []engine.Record{{}}
				found := []bool{false}
				if err := m.Merge([][]byte{[]byte(k)}, recs, found); err != nil {
					t.Fatal(err)
				}
				if !found[0] || !sameRecord(recs[0], want) {
					t.Fatalf("hint for %s = %+v (found %v), want the newest %+v", k, recs[0], found[0], want)
				}
			}
		})
	}
}

func TestMerge(t *testing.T) {
	e := memEngine(t, nil)
	m := newManager(t, testConfig(e, newFakeCluster(), newClock()))
	// No hints at all: Merge leaves the results alone.
	recs := []engine.Record{rec("data", 5)}
	found := []bool{true}
	if err := m.Merge([][]byte{[]byte("a")}, recs, found); err != nil || !sameRecord(recs[0], rec("data", 5)) {
		t.Fatalf("Merge without hints changed the result: %+v, %v", recs[0], err)
	}

	mustHold(t, m, "t1", [][]byte{[]byte("newer"), []byte("older"), []byte("equal"), []byte("missing"), []byte("both")},
		[]engine.Record{rec("hint", 20), rec("hint", 10), rec("hint", 15), rec("hint", 15), rec("hint-t1", 30)})
	mustHold(t, m, "t2", [][]byte{[]byte("both")}, []engine.Record{rec("hint-t2", 40)})
	tests := []struct {
		key   string
		have  engine.Record
		found bool
		want  engine.Record
	}{
		{"newer", rec("data", 15), true, rec("hint", 20)},
		{"older", rec("data", 15), true, rec("data", 15)},
		{"equal", rec("data", 15), true, rec("data", 15)},
		{"missing", engine.Record{}, false, rec("hint", 15)},
		{"nohint", rec("data", 15), true, rec("data", 15)},
		{"nohint-missing", engine.Record{}, false, engine.Record{}},
		{"both", rec("data", 35), true, rec("hint-t2", 40)}, // the newest over every target
	}
	keys := make([][]byte, len(tests))
	recs = make([]engine.Record, len(tests))
	found = make([]bool, len(tests))
	for i, tt := range tests {
		keys[i], recs[i], found[i] = []byte(tt.key), tt.have, tt.found
	}
	if err := m.Merge(keys, recs, found); err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		wantFound := tt.found || tt.want.Version.Wall != 0
		if found[i] != wantFound || !sameRecord(recs[i], tt.want) {
			t.Errorf("%s: merged %+v found=%v, want %+v found=%v", tt.key, recs[i], found[i], tt.want, wantFound)
		}
	}
}

// A target's down-since time survives a restart of the node: the window
// keeps counting from the first outage, so hints past it are refused.
func TestDownSinceSurvivesRestart(t *testing.T) {
	const window = time.Hour
	fs := vfs.NewMem()
	clk := newClock()
	start := clk.Now()
	fc := newFakeCluster()

	e := memEngine(t, fs)
	cfg := testConfig(e, fc, clk)
	cfg.MaxWindow = window
	m := newManager(t, cfg)
	keys, recs := hintKeys(5, 100)
	mustHold(t, m, "held", keys, recs) // down since start, by its first hint
	m.Down("seen", start)              // down since start, by a membership event
	clk.Advance(window / 2)
	m.Down("seen", clk.Now()) // a later event does not move it
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	clk.Advance(window) // now 1.5 windows after the outage began
	e = memEngine(t, fs)
	cfg.Store = e
	m = newManager(t, cfg)
	for _, target := range []string{"held", "seen"} {
		s := statsOf(m, target)
		if !s.DownSince.Equal(start) {
			t.Errorf("%s: down since %v after restart, want %v", target, s.DownSince, start)
		}
		err := m.Hold(target, keys[:1], []engine.Record{rec("late", 200)})
		if !errors.Is(err, handoff.ErrWindow) || !errors.Is(err, handoff.ErrRefused) {
			t.Errorf("Hold for %s past the window after restart = %v, want ErrWindow", target, err)
		}
		if d := statsOf(m, target).Dropped; d != 1 {
			t.Errorf("%s: %d dropped, want 1", target, d)
		}
	}
	if p := statsOf(m, "held").Pending; p != 5 {
		t.Fatalf("%d hints pending after restart, want the 5 held before", p)
	}
	// A target first seen down now has a fresh window.
	if err := m.Hold("fresh", keys[:1], recs[:1]); err != nil {
		t.Fatalf("Hold for a newly down target: %v", err)
	}
}

// Within the window hints are accepted; one past it they are refused.
func TestHoldWindowBoundary(t *testing.T) {
	const window = time.Minute
	clk := newClock()
	e := memEngine(t, nil)
	cfg := testConfig(e, newFakeCluster(), clk)
	cfg.MaxWindow = window
	m := newManager(t, cfg)
	m.Down("t", clk.Now())
	keys, recs := hintKeys(3, 100)
	clk.Advance(window)
	if err := m.Hold("t", keys[:1], recs[:1]); err != nil {
		t.Fatalf("Hold at exactly the window: %v", err)
	}
	clk.Advance(time.Millisecond)
	if err := m.Hold("t", keys[1:], recs[1:]); !errors.Is(err, handoff.ErrWindow) {
		t.Fatalf("Hold past the window = %v, want ErrWindow", err)
	}
	if s := statsOf(m, "t"); s.Pending != 1 || s.Dropped != 2 {
		t.Fatalf("pending %d dropped %d, want 1 and 2", s.Pending, s.Dropped)
	}
}

func TestHoldRefusedWhenQueueFull(t *testing.T) {
	const limit = 2048
	e := memEngine(t, nil)
	cfg := testConfig(e, newFakeCluster(), newClock())
	cfg.MaxBytes = limit
	m := newManager(t, cfg)
	value := strings.Repeat("x", 100)
	var held int
	var err error
	for i := 0; i < 1000; i++ {
		k := []byte(fmt.Sprintf("key:%04d", i))
		if err = m.Hold("t", [][]byte{k}, []engine.Record{rec(value, 10)}); err != nil {
			break
		}
		held++
	}
	if !errors.Is(err, handoff.ErrFull) || !errors.Is(err, handoff.ErrRefused) {
		t.Fatalf("after %d hints Hold = %v, want ErrFull", held, err)
	}
	s := statsOf(m, "t")
	one := s.Bytes / int64(held)
	if s.Bytes < limit || s.Bytes >= limit+one {
		t.Fatalf("queue refused at %d bytes (%d per hint), want the first size ≥ %d", s.Bytes, one, limit)
	}
	if s.Pending != int64(held) || s.Dropped != 1 {
		t.Fatalf("pending %d dropped %d, want %d and 1", s.Pending, s.Dropped, held)
	}
	// A refused batch counts every record; the queue does not change.
	keys, recs := hintKeys(5, 20)
	if err := m.Hold("t", keys, recs); !errors.Is(err, handoff.ErrFull) {
		t.Fatalf("Hold of a batch on a full queue = %v", err)
	}
	if s2 := statsOf(m, "t"); s2.Pending != s.Pending || s2.Bytes != s.Bytes || s2.Dropped != 6 {
		t.Fatalf("after a refused batch: pending %d bytes %d dropped %d, want %d %d 6",
			s2.Pending, s2.Bytes, s2.Dropped, s.Pending, s.Bytes)
	}
	// The cap is per target.
	if err := m.Hold("other", keys, recs); err != nil {
		t.Fatalf("Hold for another target: %v", err)
	}
}

// loopRunning reports whether a goroutine New started exists. It looks
// for its creator rather than its function: a goroutine not yet
// scheduled shows the compiler's wrapper of the go statement.
func loopRunning() bool {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Contains(string(buf[:n]), "created by github.com/ringcache/ringcache/cluster/handoff.New")
		}
		buf = make([]byte, 2*len(buf))
	}
}

func TestCloseStopsLoop(t *testing.T) {
	// Not parallel: it looks for the loop among all goroutines.
	e := memEngine(t, nil)
	fc := newFakeCluster()
	clk := newClock()
	cfg := testConfig(e, fc, clk)
	// A throttled replay in progress: Close must interrupt its wait.
	cfg.ReplayRate = 1
	cfg.BatchBytes = 512
	m, err := handoff.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() }) // if the test fails early
	if !loopRunning() {
		t.Fatal("no replay loop after New")
	}
	keys, recs := hintKeys(200, 10)
	mustHold(t, m, "t", keys, recs)
	fc.set("t", handoff.Alive)
	m.Wake("t")
	eventually(t, "first batch delivered", func() error {
		if _, calls := fc.received("t"); len(calls) == 0 {
			return errors.New("nothing delivered yet")
		}
		return nil
	})
	closed := make(chan error, 1)
	go func() { closed <- m.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return within 10s while a replay was throttled")
	}
	eventually(t, "replay loop gone", func() error {
		if loopRunning() {
			return errors.New("loop goroutine still running")
		}
		return nil
	})
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := m.Hold("t", keys[:1], recs[:1]); !errors.Is(err, handoff.ErrClosed) {
		t.Fatalf("Hold after Close = %v, want ErrClosed", err)
	}
	// The hints not yet delivered are still stored.
	if p := statsOf(m, "t").Pending; p == 0 || p == 200 {
		t.Fatalf("%d hints pending after Close mid-replay, want some delivered and the rest kept", p)
	}
}
