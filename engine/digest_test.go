package engine

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/cockroachdb/pebble/vfs"
)

// refElementHash is ElementHash written the obvious way: one buffer, one
// Sum64. ElementHash must agree with it for every key length.
func refElementHash(key []byte, v Version, exp int64, tomb bool) uint64 {
	if tomb {
		exp = 0
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(len(key)))
	b = append(b, key...)
	b = binary.BigEndian.AppendUint64(b, uint64(v.Wall))
	b = binary.BigEndian.AppendUint32(b, v.Logical)
	b = binary.BigEndian.AppendUint64(b, v.Node)
	b = binary.BigEndian.AppendUint64(b, uint64(exp))
	flag := byte(0)
	if tomb {
		flag = 1
	}
	return xxhash.Sum64(append(b, flag))
}

func TestElementHashMatchesReference(t *testing.T) {
	v := ver(1_700_000_000_000, 7, 0xdeadbeef)
	for n := range 300 {
		key := make([]byte, n)
		for i := range key {
			key[i] = byte(i * 7)
		}
		for _, tomb := range []bool{false, true} {
			if got, want := ElementHash(key, v, 42, tomb), refElementHash(key, v, 42, tomb); got != want {
				t.Fatalf("len %d tomb %v: %x, want %x", n, tomb, got, want)
			}
		}
	}
}

func TestElementHashSensitivity(t *testing.T) {
	base := func() (key []byte, v Version, exp int64, tomb bool) {
		return []byte("k"), ver(100, 1, 2), 500, false
	}
	k, v, x, tb := base()
	h0 := ElementHash(k, v, x, tb)
	tests := []struct {
		name string
		h    uint64
		same bool
	}{
		{"same inputs", ElementHash([]byte("k"), ver(100, 1, 2), 500, false), true},
		{"key", ElementHash([]byte("j"), v, x, tb), false},
		{"key length", ElementHash([]byte("k\x00"), v, x, tb), false},
		{"wall", ElementHash(k, ver(101, 1, 2), x, tb), false},
		{"logical", ElementHash(k, ver(100, 2, 2), x, tb), false},
		{"node", ElementHash(k, ver(100, 1, 3), x, tb), false},
		{"expiry", ElementHash(k, v, 501, tb), false},
		{"no expiry", ElementHash(k, v, 0, tb), false},
		{"tombstone", ElementHash(k, v, 0, true), false},
	}
	for _, tt := range tests {
		if (tt.h == h0) != tt.same {
			t.Errorf("%s: hash %x vs %x, same = %v", tt.name, tt.h, h0, tt.same)
		}
	}
	// A tombstone is stored without expiry, so its hash ignores one.
	if ElementHash(k, v, 0, true) != ElementHash(k, v, 999, true) {
		t.Error("tombstone hash depends on expiry")
	}
}

func TestDigestBucket(t *testing.T) {
	tests := []struct {
		tok  uint64
		want int
	}{
		{0, 0},
		{1<<48 - 1, 0},
		{1 << 48, 1},
		{0xffff_0000_0000_0000, DigestBuckets - 1},
		{^uint64(0), DigestBuckets - 1},
	}
	for _, tt := range tests {
		if got := DigestBucket(tt.tok); got != tt.want {
			t.Errorf("DigestBucket(%x) = %d, want %d", tt.tok, got, tt.want)
		}
		// A bucket lies inside one stripe.
		if stripeOf(tt.tok) != tt.want>>(DigestBits-stripeBits) {
			t.Errorf("bucket %d not inside stripe %d", tt.want, stripeOf(tt.tok))
		}
	}
}

func TestAppendDigestsWraps(t *testing.T) {
	e := openMem(t)
	var keys []string
	seen := map[int]bool{}
	for i := 0; len(keys) < 2; i++ { // one key in the last bucket, one in the first
		k := fmt.Sprint("w", i)
		b := DigestBucket(Token([]byte(k)))
		if (b == 0 || b == DigestBuckets-1) && !seen[b] {
			seen[b] = true
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		mustApply(t, e, k, val(ver(1, 0, 0), "v"))
	}
	all := e.AppendDigests(nil, 0, DigestBuckets)
	got := e.AppendDigests([]uint64{7}, DigestBuckets-1, 2)
	want := []uint64{7, all[DigestBuckets-1], all[0]}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("AppendDigests = %x, want %x", got, want)
	}
	if got[1] == 0 || got[2] == 0 {
		t.Fatalf("buckets with a record are zero: %x", got)
	}
	if got := e.AppendDigests(nil, 5, 0); len(got) != 0 {
		t.Fatalf("count 0 appended %d", len(got))
	}

	off := openMem(t, func(c *Config) { c.NoDigest = true })
	for _, k := range keys {
		mustApply(t, off, k, val(ver(1, 0, 0), "v"))
	}
	for i, h := range off.AppendDigests(nil, 0, DigestBuckets) {
		if h != 0 {
			t.Fatalf("NoDigest: bucket %d = %x", i, h)
		}
	}
}

// recomputeDigest is the oracle: the digest computed from a full Scan.
func recomputeDigest(t testing.TB, e *Engine) []uint64 {
	t.Helper()
	d := make([]uint64, DigestBuckets)
	err := e.Scan(0, 0, func(k []byte, r Record) error {
		d[DigestBucket(Token(k))] ^= ElementHash(k, r.Version, r.ExpireAt, r.Tombstone)
		return nil
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return d
}

func assertDigest(t testing.TB, e *Engine, when string) {
	t.Helper()
	want := recomputeDigest(t, e)
	got := e.AppendDigests(make([]uint64, 0, DigestBuckets), 0, DigestBuckets)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: bucket %d = %x, recomputed %x", when, i, got[i], want[i])
		}
	}
}

// assertDigestOf is assertDigest for the buckets of keys alone: cheap
// enough to run after every step of a sequence that writes only keys,
// with assertDigest now and then to catch a change to any other bucket
// (an XOR that went astray stays until something undoes exactly it).
func assertDigestOf(t testing.TB, e *Engine, keys [][]byte, when string) {
	t.Helper()
	want := recomputeDigest(t, e)
	for _, k := range keys {
		b := DigestBucket(Token(k))
		if got := e.AppendDigests(nil, b, 1)[0]; got != want[b] {
			t.Fatalf("%s: bucket %d (of %q) = %x, recomputed %x", when, b, k, got, want[b])
		}
	}
}

// digestOpKeys is how many keys randomDigestOp writes: k0, k1, ...
const digestOpKeys = 40

// randomDigestOp applies one random change: a batch of writes (values,
// TTLs, tombstones, stale versions), a reclaim after moving the clock, or
// rarely a DropAll.
func randomDigestOp(t *testing.T, rng *rand.Rand, e *Engine, clock *fakeClock, now *int64) string {
	t.Helper()
	switch p := rng.IntN(100); {
	case p < 2:
		if err := e.DropAll(); err != nil {
			t.Fatal(err)
		}
		return "dropall"
	case p < 20:
		*now += rng.Int64N(1500)
		clock.Set(*now)
		mustReclaim(t, e)
		return "reclaim"
	default:
		n := 1 + rng.IntN(8)
		keys, recs := make([][]byte, n), make([]Record, n)
		for i := range n {
			keys[i] = []byte(fmt.Sprint("k", rng.IntN(digestOpKeys)))
			v := ver(*now-500+rng.Int64N(1000), uint32(rng.IntN(3)), uint64(rng.IntN(3)))
			switch rng.IntN(4) {
			case 0:
				recs[i] = Record{Version: v, Tombstone: true}
			case 1:
				recs[i] = Record{Version: v, Value: keys[i], ExpireAt: *now + rng.Int64N(2000)}
			default:
				recs[i] = Record{Version: v, Value: []byte(fmt.Sprint(v))}
			}
		}
		if _, err := e.ApplyBatch(keys, recs); err != nil {
			t.Fatal(err)
		}
		return "apply"
	}
}

// TestDigestProperty: after random writes, reclaims (expiry and purge)
// and DropAlls the maintained digest equals one recomputed from a Scan,
// and stays equal across Close and Open.
func TestDigestProperty(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 77))
			now := int64(1_700_000_000_000)
			clock := newFakeClock(now)
			cfg := memConfig(vfs.NewMem())
			cfg.Now = clock.Now
			cfg.ReclaimInterval = time.Hour
			cfg.TombstoneGrace = time.Second
			if seed%2 == 1 {
				cfg.RowCacheBytes = 0 // both header sources of mergeKey
			}
			e := mustOpen(t, cfg)
			ops := map[string]int{}
			keys := make([][]byte, digestOpKeys)
			for i := range keys {
				keys[i] = []byte(fmt.Sprint("k", i))
			}
			const steps = 400
			for step := range steps {
				op := randomDigestOp(t, rng, e, clock, &now)
				ops[op]++
				when := fmt.Sprintf("step %d (%s)", step, op)
				// All 65,536 buckets are as many atomic loads, slow under
				// the race detector: the keys' buckets every step, all of
				// them every 20 steps and at the end.
				if step%20 == 19 || step == steps-1 {
					assertDigest(t, e, when)
				} else {
					assertDigestOf(t, e, keys, when)
				}
			}
			if ops["reclaim"] == 0 || ops["apply"] == 0 {
				t.Fatalf("ops %v: the sequence must exercise writes and reclaims", ops)
			}
			st := e.Stats()
			if st.ExpiredReclaimed == 0 || st.TombstonesPurged == 0 {
				t.Fatalf("stats %+v: expiry and purge must both happen", st)
			}
			before := e.AppendDigests(nil, 0, DigestBuckets)
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			e2 := mustOpen(t, cfg)
			after := e2.AppendDigests(nil, 0, DigestBuckets)
			for i := range before {
				if before[i] != after[i] {
					t.Fatalf("bucket %d changed across reopen: %x -> %x", i, before[i], after[i])
				}
			}
			assertDigest(t, e2, "after reopen")
		})
	}
}

// TestDigestConcurrent runs writers, hint writers and the reclaimer at
// once; when they stop the digest must equal the recomputed one.
func TestDigestConcurrent(t *testing.T) {
	now := int64(1_700_000_000_000)
	clock := newFakeClock(now)
	e := openMem(t, func(c *Config) {
		c.Fsync = FsyncNo
		c.Now = clock.Now
		c.ReclaimInterval = time.Hour // the goroutine below is the reclaimer
		c.TombstoneGrace = 50 * time.Millisecond
	})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 5))
			for range 300 {
				n := 1 + rng.IntN(8)
				keys, recs := make([][]byte, n), make([]Record, n)
				for i := range n {
					keys[i] = []byte(fmt.Sprint("c", rng.IntN(64)))
					v := ver(now+rng.Int64N(200), uint32(rng.IntN(1000)), uint64(w))
					switch rng.IntN(3) {
					case 0:
						recs[i] = Record{Version: v, Tombstone: true}
					case 1:
						recs[i] = Record{Version: v, Value: keys[i], ExpireAt: now + rng.Int64N(300)}
					default:
						recs[i] = Record{Version: v, Value: keys[i]}
					}
				}
				if _, err := e.ApplyBatch(keys, recs); err != nil {
					t.Error(err)
					return
				}
				if _, err := e.PutHints("n1", keys, recs, now); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // reclaims while moving the clock, so there is work
		defer wg.Done()
		for i := range 100 {
			clock.Set(now + int64(i)*5)
			if err := e.reclaimOnce(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	mustReclaim(t, e)
	if e.Stats().ExpiredReclaimed == 0 {
		t.Fatal("no expiry happened during the run")
	}
	assertDigest(t, e, "after concurrent run")
}

// BenchmarkApplyDigest measures what the digest costs on the
// pipelined-SET path (compare the sub-benchmarks).
func BenchmarkApplyDigest(b *testing.B) {
	for _, tc := range []struct {
		name string
		off  bool
	}{{"on", false}, {"off", true}} {
		b.Run(tc.name, func(b *testing.B) { benchApplyBatch(b, tc.off) })
	}
}
