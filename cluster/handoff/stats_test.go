package handoff_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ringcache/ringcache/cluster/handoff"
	"github.com/ringcache/ringcache/engine"
)

func TestStats(t *testing.T) {
	e := memEngine(t, nil)
	fc := newFakeCluster()
	clk := newClock()
	cfg := testConfig(e, fc, clk)
	cfg.MaxWindow = time.Minute
	m := newManager(t, cfg)
	t0 := clk.Now()

	keysA, recsA := hintKeys(3, 100)
	mustHold(t, m, "a", keysA, recsA)
	clk.Advance(time.Second)
	keysB, recsB := hintKeys(2, 100)
	mustHold(t, m, "b", keysB, recsB)
	clk.Advance(4 * time.Second)
	// A newer hint for a pending key keeps the key's age: the data has
	// been waiting since its first hint.
	mustHold(t, m, "a", keysA[:1], []engine.Record{rec("newer", 200)})

	queues := map[string]engine.HintQueue{}
	for _, q := range e.HintQueues() {
		queues[q.Target] = q
	}
	want := []handoff.TargetStats{
		{Target: "a", Pending: 3, Bytes: queues["a"].Bytes, OldestAge: 5 * time.Second, DownSince: t0},
		{Target: "b", Pending: 2, Bytes: queues["b"].Bytes, OldestAge: 4 * time.Second, DownSince: t0.Add(time.Second)},
	}
	check := func(when string, want []handoff.TargetStats) {
		t.Helper()
		got := m.Stats()
		if len(got) != len(want) {
			t.Fatalf("%s: Stats = %+v, want %+v", when, got, want)
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.Target != w.Target || g.Pending != w.Pending || g.Bytes != w.Bytes || g.OldestAge != w.OldestAge ||
				g.Delivered != w.Delivered || g.Dropped != w.Dropped || !g.DownSince.Equal(w.DownSince) {
				t.Fatalf("%s: Stats[%d] = %+v, want %+v", when, i, g, w)
			}
		}
	}
	if queues["a"].Bytes <= 0 || queues["b"].Bytes <= 0 {
		t.Fatalf("engine queues %+v", queues)
	}
	check("held", want)

	// Refusals count as dropped.
	clk.Advance(time.Minute)
	if err := m.Hold("b", keysB, recsB); err == nil {
		t.Fatal("Hold past the window accepted")
	}
	want[0].OldestAge += time.Minute
	want[1].OldestAge += time.Minute
	want[1].Dropped = 2
	check("refused", want)

	tot := handoff.Totals(m.Stats())
	if tot.Pending != 5 || tot.Bytes != want[0].Bytes+want[1].Bytes || tot.Dropped != 2 || tot.OldestAge != want[0].OldestAge {
		t.Fatalf("Totals = %+v", tot)
	}

	// Delivery empties a's queue and counts it; its down time is cleared.
	fc.set("a", handoff.Alive)
	m.Wake("a")
	eventually(t, "a delivered", func() error {
		if s := statsOf(m, "a"); s.Pending != 0 || !s.DownSince.IsZero() {
			return fmt.Errorf("stats %+v", s)
		}
		return nil
	})
	want[0] = handoff.TargetStats{Target: "a", Delivered: 3}
	check("delivered", want)
}

func TestTotals(t *testing.T) {
	tests := []struct {
		name string
		in   []handoff.TargetStats
		want handoff.TargetStats
	}{
		{"none", nil, handoff.TargetStats{}},
		{"one", []handoff.TargetStats{{Target: "a", Pending: 1, Bytes: 10, OldestAge: time.Second, Delivered: 2, Dropped: 3}},
			handoff.TargetStats{Pending: 1, Bytes: 10, OldestAge: time.Second, Delivered: 2, Dropped: 3}},
		{"sums and oldest", []handoff.TargetStats{
			{Target: "a", Pending: 1, Bytes: 10, OldestAge: time.Second, Delivered: 2, Dropped: 3},
			{Target: "b", Pending: 4, Bytes: 40, OldestAge: time.Minute, Delivered: 5, Dropped: 6},
		}, handoff.TargetStats{Pending: 5, Bytes: 50, OldestAge: time.Minute, Delivered: 7, Dropped: 9}},
	}
	for _, tt := range tests {
		if got := handoff.Totals(tt.in); got != tt.want {
			t.Errorf("%s: Totals = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestStatusString(t *testing.T) {
	for s, want := range map[handoff.Status]string{handoff.Down: "down", handoff.Alive: "alive", handoff.Gone: "gone"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", s, s.String(), want)
		}
	}
}
