package evict

import (
	"fmt"
	"testing"
	"time"

	"github.com/ringcache/ringcache/engine"
)

// TestRandomEvictsUniformly: allkeys-random evicts every stored key alike,
// whenever it was written. Into a full store, a batch of marked keys is
// written, then more keys; the marks that survive are compared with what
// evicting uniformly at random would leave (0.658). Taking the records
// after a random token as they came left about 0.52: sparse stretches of
// the token space, where keys had been evicted and new keys then landed,
// drew more than their share of the samples (see chooseRandom).
func TestRandomEvictsUniformly(t *testing.T) {
	const budget, vlen, marks, more = 4 << 20, 100, 4000, 8000
	ts := newTestStore(t, func(c *Config) {
		c.MaxMemory = budget
		c.Policy = AllKeysRandom
	})
	val := make([]byte, vlen)
	put := func(prefix string, n int) {
		const batch = 16
		for i := 0; i < n; i += batch {
			deadline := time.Now().Add(5 * time.Second)
			for !ts.ev.Admit() {
				if time.Now().After(deadline) {
					t.Fatal("Admit refused writes for 5s")
				}
			}
			var keys [][]byte
			var recs []engine.Record
			for j := i; j < min(i+batch, n); j++ {
				keys = append(keys, []byte(fmt.Sprintf("%s%08d", prefix, j)))
				recs = append(recs, engine.Record{Version: engine.Version{Wall: time.Now().UnixMilli(), Node: 1}, Value: val})
			}
			if _, err := ts.eng.ApplyBatch(keys, recs); err != nil {
				t.Fatal(err)
			}
		}
	}
	fit := int(budget / engine.RecordBytes(12, vlen, false))
	put("fill", 5*fit)
	put("mark", marks)
	put("more", more)
	waitUsed(t, ts, budget, "UsedBytes within budget")
	live := float64(len(ts.stored(t, "")))
	survived := float64(len(ts.stored(t, "mark")))
	// Uniform: each key written evicts one stored key, each alike.
	m := 0.0
	for i := 0; i < marks+more; i++ {
		if i < marks {
			m++
		}
		m -= m / live
	}
	got, want := survived/marks, m/marks
	t.Logf("%.0f keys stored; %.0f of %d marks survived (%.3f), uniform eviction leaves %.3f", live, survived, marks, got, want)
	if got < want-0.07 {
		t.Fatalf("%.3f of the marked keys survived, uniform eviction leaves %.3f: recently written keys are evicted more often than others", got, want)
	}
}
