package engine

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// randomRecords returns n records over a few keys with versions drawn
// from a small space, so ties on Wall and Logical are common. Versions
// are unique per key, as the HLC guarantees in the cluster.
func randomRecords(rng *rand.Rand, n, keys int) ([][]byte, []Record) {
	base := time.Now().UnixMilli()
	ks := make([][]byte, 0, n)
	rs := make([]Record, 0, n)
	seen := map[string]bool{}
	walls := int64(max(4, n/keys)) // enough distinct versions per key
	for len(ks) < n {
		k := fmt.Sprintf("k%d", rng.IntN(keys))
		v := ver(base+rng.Int64N(walls), uint32(rng.IntN(3)), uint64(rng.IntN(3)))
		id := fmt.Sprint(k, v)
		if seen[id] {
			continue
		}
		seen[id] = true
		r := Record{Version: v, Value: []byte(id)}
		switch rng.IntN(4) {
		case 0:
			r = Record{Version: v, Tombstone: true}
		case 1:
			r.ExpireAt = base + 3_600_000 + rng.Int64N(1000)
		}
		ks = append(ks, []byte(k))
		rs = append(rs, r)
	}
	return ks, rs
}

// oracle is the naive last-write-wins model: the max version per key.
func oracle(keys [][]byte, recs []Record) map[string]Record {
	m := map[string]Record{}
	for i, k := range keys {
		if cur, ok := m[string(k)]; !ok || recs[i].Version.Compare(cur.Version) > 0 {
			m[string(k)] = recs[i]
		}
	}
	return m
}

// TestLWWOrderIndependent applies random record sets in random
// permutations with random duplication, via Apply and via ApplyBatch in
// random chunks, and compares the full state with the oracle.
func TestLWWOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		keys, recs := randomRecords(rng, 60, 8)
		want := oracle(keys, recs)
		for trial := range 3 {
			e := openMem(t)
			// Permute and duplicate.
			order := rng.Perm(len(keys))
			for range 20 {
				order = append(order, rng.IntN(len(keys)))
			}
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for i := 0; i < len(order); {
				n := 1 + rng.IntN(10)
				if trial == 0 {
					n = 1 // exercise Apply
				}
				n = min(n, len(order)-i)
				bk, br := make([][]byte, n), make([]Record, n)
				for j := range n {
					bk[j], br[j] = keys[order[i+j]], recs[order[i+j]]
				}
				if n == 1 {
					if _, err := e.Apply(bk[0], br[0]); err != nil {
						t.Fatal(err)
					}
				} else if _, err := e.ApplyBatch(bk, br); err != nil {
					t.Fatal(err)
				}
				i += n
			}
			checkState(t, e, want)
			live := int64(0)
			for _, r := range want {
				if !r.Tombstone {
					live++
				}
			}
			if c, err := e.Count(0); err != nil || c != live {
				t.Fatalf("round %d trial %d: Count = %d, %v; want %d", round, trial, c, err, live)
			}
			_ = e.Close()
		}
	}
}

// TestConcurrentApply has many goroutines apply overlapping keys at once;
// the final state must be the max version per key.
func TestConcurrentApply(t *testing.T) {
	e := openMem(t, func(c *Config) { c.Fsync = FsyncNo })
	rng := rand.New(rand.NewPCG(3, 4))
	keys, recs := randomRecords(rng, 2000, 32)
	want := oracle(keys, recs)
	const workers = 16
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 9))
			perm := r.Perm(len(keys))
			for i := 0; i < len(perm); {
				n := min(1+r.IntN(16), len(perm)-i)
				bk, br := make([][]byte, n), make([]Record, n)
				for j := range n {
					bk[j], br[j] = keys[perm[i+j]], recs[perm[i+j]]
				}
				if _, err := e.ApplyBatch(bk, br); err != nil {
					t.Error(err)
					return
				}
				i += n
			}
		}()
	}
	wg.Wait()
	checkState(t, e, want)
	st := e.Stats()
	if st.Applied+st.Stale != workers*uint64(len(keys)) {
		t.Fatalf("applied %d + stale %d != %d", st.Applied, st.Stale, workers*len(keys))
	}
	var live int64
	for _, r := range want {
		if !r.Tombstone {
			live++
		}
	}
	if st.LiveRecords != live {
		t.Fatalf("live counter %d, want %d", st.LiveRecords, live)
	}
}

// TestApplyBatchNewerReportsOlder applies random batches over random
// stored state and checks every newer[i] against the oracle: the version
// stored before the batch when it beats recs[i], zero otherwise.
func TestApplyBatchNewerReportsOlder(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for round := range 30 {
		e := openMem(t)
		keys, recs := randomRecords(rng, 40, 6)
		split := rng.IntN(len(keys))
		if _, err := e.ApplyBatch(keys[:split], recs[:split]); err != nil {
			t.Fatal(err)
		}
		before := oracle(keys[:split], recs[:split])
		bk, br := keys[split:], recs[split:]
		newer := make([]Version, len(bk))
		for i := range newer {
			newer[i] = ver(1, 1, 1) // must be overwritten or cleared
		}
		if _, err := e.ApplyBatchNewer(bk, br, newer); err != nil {
			t.Fatal(err)
		}
		for i, k := range bk {
			var want Version
			if cur, ok := before[string(k)]; ok && br[i].Version.Compare(cur.Version) < 0 {
				want = cur.Version
			}
			if newer[i] != want {
				t.Fatalf("round %d: newer[%d] for %s %v = %v, want %v", round, i, k, br[i].Version, newer[i], want)
			}
		}
		if _, err := e.ApplyBatchNewer(bk, br, newer[:1]); err == nil && len(bk) > 1 {
			t.Fatal("ApplyBatchNewer accepted a short newer slice")
		}
	}
}
