package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
)

// classOfKey is the tests' classifier: the key's first byte, '0' to '3'.
func classOfKey(k []byte) int {
	if len(k) == 0 || k[0] < '0' || k[0] > '3' {
		return -1
	}
	return int(k[0] - '0')
}

// countByScan is the oracle: every class's figures from the stored
// records, at nowMs.
func countByScan(t *testing.T, e *Engine, nowMs int64) []ClassCount {
	t.Helper()
	out := make([]ClassCount, 4)
	for k, r := range dump(t, e) {
		c := classOfKey([]byte(k))
		if c < 0 || r.Tombstone || (r.ExpireAt != 0 && r.ExpireAt <= nowMs) {
			continue
		}
		out[c].Keys++
		if r.ExpireAt != 0 {
			out[c].Expires++
			out[c].ExpireSum += r.ExpireAt / 1000
		}
	}
	return out
}

// TestClassCountsMatchAScan: writes, overwrites, deletes, expiries (due
// and reclaimed), a dropped range, DropAll and a reopen, in random order:
// after each step the kept figures equal a full count.
func TestClassCountsMatchAScan(t *testing.T) {
	const t0 = 1_700_000_000_000
	clock := newFakeClock(t0)
	fs := vfs.NewMem()
	mod := func(c *Config) {
		c.Now = clock.Now
		c.ReclaimInterval = time.Hour
		c.TombstoneGrace = 10 * time.Second
		c.Classify, c.Classes = classOfKey, 4
	}
	cfg := memConfig(fs)
	mod(&cfg)
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	rng := rand.New(rand.NewPCG(1, 2))
	now := int64(t0)
	wall := int64(t0)
	check := func(step string) {
		t.Helper()
		got, err := e.ClassCounts(now)
		if err != nil {
			t.Fatal(err)
		}
		want := countByScan(t, e, now)
		for c := range want {
			if got[c] != want[c] {
				t.Fatalf("after %s: class %d counts %+v, a scan %+v", step, c, got[c], want[c])
			}
		}
	}
	for step := range 3000 {
		wall++
		key := fmt.Sprintf("%d:%d", rng.IntN(5), rng.IntN(200)) // class 4: none
		r := Record{Version: ver(wall, 0, 1), Value: []byte("v")}
		switch rng.IntN(10) {
		case 0, 1:
			r = Record{Version: ver(wall, 0, 1), Tombstone: true}
		case 2, 3:
			r.ExpireAt = now + int64(rng.IntN(5000))
		case 4:
			r.Version = ver(wall-100, 0, 1) // an older write: may lose
		}
		if _, err := e.Apply([]byte(key), r); err != nil {
			t.Fatal(err)
		}
		switch step % 500 {
		case 100:
			now += 2000
			clock.Set(now)
			check("time passed")
			if err := e.reclaimOnce(); err != nil {
				t.Fatal(err)
			}
			check("reclaim")
		case 200:
			if _, err := e.DropRange(0, 1<<62, ver(wall+1, 0, 0), nil); err != nil {
				t.Fatal(err)
			}
			check("drop range")
		case 300:
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			if e, err = Open(cfg); err != nil {
				t.Fatal(err)
			}
			check("reopen")
		case 499:
			if step == 2999 {
				if err := e.DropAll(); err != nil {
					t.Fatal(err)
				}
				check("drop all")
			}
		}
	}
	check("the end")
}
