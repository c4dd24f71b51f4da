package evict

import (
	"fmt"
	"math"
	"testing"
)

// BenchmarkChoose measures the evictor's choice of victims in a store of
// 200,000 keys written over ten minutes, a fifth of them read since:
// what eviction costs per key evicted besides the deletes (the sampling
// of the store and the sketch). The budget is unset, so the evictor's
// loop stays idle and choose runs alone.
func BenchmarkChoose(b *testing.B) {
	for _, pol := range []Policy{AllKeysLRU, AllKeysLFU, AllKeysRandom} {
		b.Run(pol.String(), func(b *testing.B) {
			ts := newTestStore(b, func(c *Config) { c.SketchSlots = 1 << 20 })
			const n, minutes = 200_000, 10
			now := ts.ev.cfg.Now().UnixMilli()
			for m := range minutes {
				ts.put(b, string(rune('a'+m)), n/minutes, 100, now-int64(minutes-m)*60_000, nil)
			}
			for i := 0; i < n; i += 5 { // the names put gives its keys
				ts.ev.sketch.Touch(fmt.Appendf(nil, "%c%06d", 'a'+i%minutes, i/minutes), now-int64(i%600)*1000)
			}
			var p pool
			var sc scratch
			victims := 0
			for b.Loop() {
				victims += len(ts.ev.choose(&p, &sc, pol, math.MaxInt64, false))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(max(victims, 1)), "ns/victim")
		})
	}
}
