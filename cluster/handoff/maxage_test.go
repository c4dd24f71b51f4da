package handoff_test

import (
	"testing"
	"time"

	"github.com/ringcache/ringcache/cluster/handoff"
	"github.com/ringcache/ringcache/engine"
)

// TestHintsOlderThanMaxAgeAreDroppedNotReplayed: a hint kept past the
// tombstone grace could carry a value whose delete the target purged
// meanwhile; replaying it would bring the key back.
func TestHintsOlderThanMaxAgeAreDroppedNotReplayed(t *testing.T) {
	e := memEngine(t, nil)
	fc := newFakeCluster()
	clk := newClock()
	cfg := testConfig(e, fc, clk)
	cfg.MaxAge = time.Hour
	m := newManager(t, cfg)

	now := clk.Now().UnixMilli()
	oldKeys, oldRecs := hintKeys(40, now)
	mustHold(t, m, "b", oldKeys, oldRecs)
	clk.Advance(2 * time.Hour)
	newKeys := [][]byte{[]byte("fresh:1"), []byte("fresh:2")}
	fresh := clk.Now().UnixMilli()
	mustHold(t, m, "b", newKeys, []engine.Record{rec("f1", fresh), rec("f2", fresh)})
	// A record already too old when it is held is not kept at all.
	stale, staleRecs := hintKeys(1, now)
	stale[0] = []byte("stale:1")
	mustHold(t, m, "b", stale, staleRecs)

	fc.set("b", handoff.Alive)
	m.Wake("b")
	drained(t, m, "b", 43) // "stale:1" counted at Hold
	got, _ := fc.received("b")
	if len(got) != 2 {
		t.Fatalf("delivered %d keys, want only the 2 fresh ones: %v", len(got), got)
	}
	for _, k := range newKeys {
		if _, ok := got[string(k)]; !ok {
			t.Fatalf("fresh key %s not delivered", k)
		}
	}
	if s := statsOf(m, "b"); s.Dropped != 41 {
		t.Fatalf("dropped %d, want 41 (40 aged in the queue, 1 too old when held)", s.Dropped)
	}
}
