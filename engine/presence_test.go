package engine

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
)

// TestKeyFilter: every added hash is found (a Bloom filter has no false
// negatives), and at its capacity fewer than 2% of others are.
func TestKeyFilter(t *testing.T) {
	const n = 200_000
	f := newKeyFilter(n)
	rng := rand.New(rand.NewPCG(1, 2))
	added := make([]uint64, n)
	for i := range added {
		added[i] = rng.Uint64()
		f.add(added[i])
	}
	for _, h := range added {
		if !f.mayContain(h) {
			t.Fatalf("hash %x added but not found", h)
		}
	}
	fp := 0
	const probes = 1_000_000
	for range probes {
		if f.mayContain(rng.Uint64()) {
			fp++
		}
	}
	rate := float64(fp) / probes
	t.Logf("false positives at capacity: %.3f%% (%d bytes for %d keys)", 100*rate, f.bytes(), n)
	if rate > 0.02 {
		t.Fatalf("false positive rate %.3f%%, want under 2%%", 100*rate)
	}
}

func FuzzKeyFilter(f *testing.F) {
	f.Add(uint64(0), uint64(1), uint16(3))
	f.Add(uint64(1<<63), uint64(42), uint16(1000))
	f.Fuzz(func(t *testing.T, seed, keys uint64, n uint16) {
		kf := newKeyFilter(int64(keys%100_000) + 1)
		rng := rand.New(rand.NewPCG(seed, keys))
		hs := make([]uint64, n)
		for i := range hs {
			hs[i] = rng.Uint64()
			kf.add(hs[i])
		}
		for _, h := range hs {
			if !kf.mayContain(h) {
				t.Fatalf("hash %x added but not found", h)
			}
		}
	})
}

// withSmallPresence makes filters small, so that a test's writes rebuild
// them again and again.
func withSmallPresence(t *testing.T, keys int64) {
	old := presenceMinKeys
	presenceMinKeys = keys
	t.Cleanup(func() { presenceMinKeys = old })
}

// TestPresenceLastWriteWins checks the filter's invariant the way a
// broken one would show: writers of random versions to a few thousand
// keys (tombstones among them) race the filter's rebuilds, which the small
// capacity forces every few hundred new keys, and a restart in the middle
// (the store reopens with no filter until the first build). The row cache
// is off, so every write's read of the stored version goes through the
// filter. Every key must end at the newest version written to it, and a
// read after an acknowledged write must find that write or a newer one:
// a key the filter lost would let an older version win, or read as absent.
func TestPresenceLastWriteWins(t *testing.T) {
	withSmallPresence(t, 256)
	fs := vfs.NewMem()
	cfg := memConfig(fs)
	cfg.RowCacheBytes = 0
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const keys, writers = 4000, 8
	var mu sync.Mutex
	newest := make(map[string]Version) // the newest acknowledged version per key
	key := func(i int) []byte { return []byte(fmt.Sprintf("k%05d", i)) }
	var skips, builds uint64
	// Versions near now: a tombstone's grace runs from its version, and
	// one from 1970 would be purged at once, letting older versions back.
	now := time.Now().UnixMilli()
	run := func(e *Engine, round int) {
		var wg sync.WaitGroup
		var failed atomic.Bool
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(round), uint64(w)))
				for i := 0; i < 3000 && !failed.Load(); i++ {
					// New keys enter over the run, so filters fill and rebuild.
					k := key(rng.IntN(min(keys, 200+i*2)))
					r := Record{Version: ver(now+int64(rng.IntN(5000)), uint32(rng.IntN(3)), uint64(w)), Value: []byte("v")}
					if rng.IntN(5) == 0 {
						r = Record{Version: r.Version, Tombstone: true}
					}
					if _, err := e.Apply(k, r); err != nil {
						t.Error(err)
						failed.Store(true)
						return
					}
					mu.Lock()
					if cur, ok := newest[string(k)]; !ok || r.Version.Compare(cur) > 0 {
						newest[string(k)] = r.Version
					}
					want := newest[string(k)]
					mu.Unlock()
					got, found, err := e.Lookup(k)
					if err != nil || !found || got.Version.Compare(want) < 0 {
						t.Errorf("key %s: read version %v found %v (err %v) after version %v was acknowledged", k, got.Version, found, err, want)
						failed.Store(true)
						return
					}
				}
			}()
		}
		wg.Wait()
		st := e.Stats()
		skips += st.PresenceSkips
		builds += st.PresenceBuilds
	}
	run(e, 1)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if e, err = Open(cfg); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	run(e, 2)
	for k, want := range newest {
		got, found, err := e.Lookup([]byte(k))
		if err != nil || !found || got.Version != want {
			t.Fatalf("key %s: stored version %v (found %v, err %v), newest written %v", k, got.Version, found, err, want)
		}
	}
	t.Logf("%d keys, %d filters built, %d reads answered by the filter", len(newest), builds, skips)
	// Each Open builds once; a third build was a rebuild that raced the
	// writers. (How many more there are depends on how far the writers
	// outran the background builder, which a loaded machine slows.)
	if builds < 3 || skips == 0 {
		t.Fatalf("the filter was built %d times and answered %d reads: the test did not exercise it", builds, skips)
	}
}

// TestPresenceKnowsStoredKeys: after Open's build, a store's keys are in
// the filter and others mostly are not; a write of an older version to a
// key stored before the restart loses.
func TestPresenceKnowsStoredKeys(t *testing.T) {
	fs := vfs.NewMem()
	cfg := memConfig(fs)
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if _, err := e.Apply([]byte(fmt.Sprintf("s%d", i)), val(ver(10, 0, 1), "x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if e, err = Open(cfg); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	deadline := time.Now().Add(5 * time.Second)
	for e.Stats().PresenceBuilds == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no filter built within 5 s of Open")
		}
		time.Sleep(time.Millisecond)
	}
	absent := 0
	for i := range 1000 {
		if e.presence.absent([]byte(fmt.Sprintf("s%d", i))) {
			t.Fatalf("stored key s%d is absent from the filter", i)
		}
		if e.presence.absent([]byte(fmt.Sprintf("other%d", i))) {
			absent++
		}
		if ok, err := e.Apply([]byte(fmt.Sprintf("s%d", i)), val(ver(9, 0, 1), "older")); err != nil || ok {
			t.Fatalf("older write to s%d: applied %v, err %v", i, ok, err)
		}
	}
	if absent < 950 {
		t.Fatalf("the filter knew only %d of 1000 absent keys were absent", absent)
	}
	// A write of a new key asks the filter before the row cache: a key
	// the filter does not know costs no lookup in the cache's index.
	before := e.Stats()
	for i := range 1000 {
		if ok, err := e.Apply([]byte(fmt.Sprintf("other%d", i)), val(ver(11, 0, 1), "new")); err != nil || !ok {
			t.Fatalf("new key other%d: applied %v, err %v", i, ok, err)
		}
	}
	after := e.Stats()
	if looked := (after.RowCacheHits + after.RowCacheMisses) - (before.RowCacheHits + before.RowCacheMisses); looked > uint64(1000-absent) {
		t.Fatalf("writes of 1000 new keys, %d known absent, looked %d up in the row cache", absent, looked)
	}
	if st := e.Stats(); st.PresenceBytes == 0 {
		t.Fatalf("stats: presence bytes %d", st.PresenceBytes)
	}
}

// TestPresenceOff: with the filter off the engine reads every key from
// Pebble and reports no filter.
func TestPresenceOff(t *testing.T) {
	cfg := memConfig(vfs.NewMem())
	cfg.NoPresenceFilter = true
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Apply([]byte("a"), val(ver(1, 0, 1), "x")); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := e.Lookup([]byte("b")); found {
		t.Fatal("absent key found")
	}
	if st := e.Stats(); st.PresenceBuilds != 0 || st.PresenceSkips != 0 || st.PresenceBytes != 0 {
		t.Fatalf("filter off, stats %+v", st)
	}
}

// BenchmarkApplyNewKeys measures writes of keys the store does not hold,
// in batches of 16 (a pipeline), into a store on disk that holds 500,000
// keys flushed to its tables: the case the presence filter is for. With
// the filter off, each write's last-write-wins read searches every level.
func BenchmarkApplyNewKeys(b *testing.B) {
	for _, off := range []bool{false, true} {
		b.Run(fmt.Sprintf("filter=%v", !off), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Dir = b.TempDir()
			cfg.Fsync = FsyncNo
			cfg.RowCacheBytes = 16 << 20
			cfg.NoPresenceFilter = off
			e := mustOpen(b, cfg)
			now := time.Now().UnixMilli()
			value := make([]byte, 100)
			const stored, batch = 500_000, 16
			keys := make([][]byte, 256)
			recs := make([]Record, 256)
			for i := 0; i < stored; i += len(keys) {
				for j := range keys {
					keys[j] = []byte(fmt.Sprintf("stored-%d", i+j))
					recs[j] = Record{Version: ver(now, 0, 1), Value: value}
				}
				if _, err := e.ApplyBatch(keys, recs); err != nil {
					b.Fatal(err)
				}
			}
			if err := e.db.Flush(); err != nil {
				b.Fatal(err)
			}
			for !off && e.Stats().PresenceBuilds == 0 {
				e.presence.request()
				time.Sleep(10 * time.Millisecond)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range batch {
					keys[j] = []byte(fmt.Sprintf("new-%d-%d", i, j))
				}
				if _, err := e.ApplyBatch(keys[:batch], recs[:batch]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/key")
		})
	}
}
