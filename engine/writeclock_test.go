package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWriteClock(t *testing.T) {
	c := newWriteClock()
	c.mark(7, c.tick()) // off: nothing marked
	if c.now() != 0 {
		t.Fatal("an off clock gives samples a tick")
	}
	c.on.Store(true) // StartWriteClock
	t0 := c.now()
	if c.changedSince(7, t0) {
		t.Fatal("a change made while the clock was off shows as after the sample")
	}
	if !c.changedSince(7, 0) {
		t.Fatal("no tick must answer changed")
	}
	c.mark(7, c.tick())
	if !c.changedSince(7, t0) || c.changedSince(8, t0) {
		t.Fatal("mark: slot 7 changed, slot 8 not")
	}
	if !c.changedSince(7+writeClockSlots, t0) {
		t.Fatal("a token sharing slot 7 must answer changed")
	}
	t1 := c.now()
	hi := c.tick()
	lo := c.tick() - 1 // an older tick stored late must not lower the slot
	c.mark(9, hi)
	c.mark(9, lo)
	if !c.changedSince(9, t1) || c.changedSince(9, hi) {
		t.Fatal("the slot must keep the highest tick")
	}
	c.markAll()
	if !c.changedSince(8, hi) {
		t.Fatal("markAll must show every slot changed")
	}
}

// TestEvictSampledAfterDropAll: records sampled before a DropAll are not
// counted again when evicted after it.
func TestEvictSampledAfterDropAll(t *testing.T) {
	e := openMem(t)
	e.StartWriteClock()
	now := time.Now().UnixMilli()
	for i := range 20 {
		mustApply(t, e, fmt.Sprintf("k%d", i), val(ver(now, 0, 1), "value"))
	}
	var seen []Sampled
	if err := e.Sample([]uint64{0}, 100, func(_ int, s Sampled) bool {
		s.Key = bytes.Clone(s.Key)
		seen = append(seen, s)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 20 {
		t.Fatalf("sampled %d of 20", len(seen))
	}
	if err := e.DropAll(); err != nil {
		t.Fatal(err)
	}
	n, err := e.EvictSampled(seen)
	if err != nil || n != 0 {
		t.Fatalf("EvictSampled after DropAll = %d, %v; want 0", n, err)
	}
	if e.UsedBytes() != 0 || e.LiveRecords() != 0 {
		t.Fatalf("after DropAll and the eviction: used %d, live %d", e.UsedBytes(), e.LiveRecords())
	}
}

// TestEvictSampledRacesWriters: an evictor samples and evicts while
// writers overwrite their keys (each writer its own) with ever newer
// versions. A write
// acknowledged after its key was sampled must survive the eviction of
// what was sampled: at the end each key holds its newest acknowledged
// version, or is gone and that version was no newer than one sampled
// for eviction. UsedBytes and the live count must equal a recount.
func TestEvictSampledRacesWriters(t *testing.T) {
	e := openMem(t, func(c *Config) { c.RowCacheBytes = 0 })
	e.StartWriteClock()
	const keys, writers = 500, 4
	base := time.Now().UnixMilli()
	var seq atomic.Int64
	var mu sync.Mutex
	newest := map[string]Version{}   // newest acknowledged version per key
	evictMax := map[string]Version{} // newest version sampled and passed to EvictSampled
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for !stop.Load() {
				// Each writer has keys of its own: its versions of a key
				// rise in the order it applies them. (Two writers of one
				// key could apply an older version after a newer one was
				// acknowledged and evicted, and it would rightly stay.)
				k := fmt.Sprintf("k%d", w*(keys/writers)+rng.IntN(keys/writers))
				v := ver(base+seq.Add(1), 0, uint64(w))
				if _, err := e.Apply([]byte(k), val(v, "value")); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if cur, ok := newest[k]; !ok || v.Compare(cur) > 0 {
					newest[k] = v
				}
				mu.Unlock()
			}
		}()
	}
	var evicted int64
	rng := rand.New(rand.NewPCG(9, 9))
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		var seen []Sampled
		if err := e.Sample([]uint64{rng.Uint64()}, 16, func(_ int, s Sampled) bool {
			s.Key = bytes.Clone(s.Key)
			seen = append(seen, s)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		for _, s := range seen {
			if cur, ok := evictMax[string(s.Key)]; !ok || s.Version.Compare(cur) > 0 {
				evictMax[string(s.Key)] = s.Version
			}
		}
		mu.Unlock()
		time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond) // let writers in between
		n, err := e.EvictSampled(seen)
		if err != nil {
			t.Fatal(err)
		}
		evicted += n
	}
	stop.Store(true)
	wg.Wait()
	kept := 0
	for k, want := range newest {
		got, found, err := e.Lookup([]byte(k))
		switch {
		case err != nil:
			t.Fatal(err)
		case found && got.Version != want:
			t.Fatalf("key %s holds version %v, newest acknowledged %v", k, got.Version, want)
		case found:
			kept++
		case want.Compare(evictMax[k]) > 0:
			t.Fatalf("key %s is gone, but its newest acknowledged version %v is newer than any sampled for eviction (%v)", k, want, evictMax[k])
		}
	}
	checkUsed(t, e, "after the race")
	t.Logf("%d writes, %d keys kept, %d evicted", seq.Load(), kept, evicted)
	if evicted == 0 || kept == 0 {
		t.Fatalf("weak run: %d evicted, %d kept", evicted, kept)
	}
}
