package coordinator

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ringcache/ringcache/server/store"
)

// readsOf returns how many reads each replica served so far.
func readsOf(tc *testCluster) map[string]int {
	out := map[string]int{}
	for _, id := range tc.ids {
		out[id], _ = tc.net.calls(id)
	}
	return out
}

// TestReadAsksQuorumFirst: with R=2 of N=3 a read asks this node and one
// other replica, and successive reads take turns between the others.
func TestReadAsksQuorumFirst(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	co := tc.coords["n0"]
	ctx := context.Background()
	k := []byte("turns")
	if err := co.Put(ctx, []store.Mutation{{Key: k, Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	before := readsOf(tc)
	const reads = 10
	for range reads {
		items, err := co.Get(ctx, [][]byte{k})
		if err != nil || string(items[0].Value) != "v" {
			t.Fatalf("GET: %+v %v", items, err)
		}
	}
	after := readsOf(tc)
	total := 0
	for _, id := range tc.ids {
		d := after[id] - before[id]
		total += d
		if id == "n0" && d != reads {
			t.Fatalf("this node served %d of %d reads, want all", d, reads)
		}
		if id != "n0" && d == 0 {
			t.Fatalf("%s never asked in %d reads: %v -> %v", id, reads, before, after)
		}
	}
	if total != 2*reads {
		t.Fatalf("%d replica reads for %d quorum reads with R=2, want %d", total, reads, 2*reads)
	}
}

// TestReadSpeculatesPastSilentReplica: a replica that never answers is
// passed over after the speculation delay, so every read still gets its
// quorum from the others, long before the request timeout.
func TestReadSpeculatesPastSilentReplica(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *Config) {
		c.Timeout = 10 * time.Second
		c.ReadSpeculation = 5 * time.Millisecond
	})
	co := tc.coords["n0"]
	ctx := context.Background()
	var keys [][]byte
	for i := range 20 {
		keys = append(keys, []byte(fmt.Sprint("silent-", i)))
	}
	for _, k := range keys {
		if err := co.Put(ctx, []store.Mutation{{Key: k, Value: k}}); err != nil {
			t.Fatal(err)
		}
	}
	tc.net.set("n1", faultDrop)
	defer tc.net.set("n1", faultNone)
	for _, k := range keys {
		// Bounded well below the timeout: a read that waited for n1 would
		// fail here, not pass slowly.
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		items, err := co.Get(rctx, [][]byte{k})
		cancel()
		if err != nil || string(items[0].Value) != string(k) {
			t.Fatalf("GET %s with n1 silent: %+v %v", k, items, err)
		}
	}
}

// TestReadFailureAsksOthersAtOnce: with a chosen replica failing at once
// and a speculation delay longer than the request timeout, reads still
// succeed: the failure itself asks the other replicas.
func TestReadFailureAsksOthersAtOnce(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *Config) {
		c.Timeout = 2 * time.Second
		c.ReadSpeculation = time.Hour
	})
	co := tc.coords["n0"]
	ctx := context.Background()
	for i := range 10 {
		k := []byte(fmt.Sprint("failing-", i))
		if err := co.Put(ctx, []store.Mutation{{Key: k, Value: k}}); err != nil {
			t.Fatal(err)
		}
	}
	tc.net.set("n2", faultDown)
	defer tc.net.set("n2", faultNone)
	for i := range 10 {
		k := []byte(fmt.Sprint("failing-", i))
		items, err := co.Get(ctx, [][]byte{k})
		if err != nil || string(items[0].Value) != string(k) {
			t.Fatalf("GET %s with n2 down: %+v %v", k, items, err)
		}
	}
	if tc.net.rejections("n2") == 0 {
		t.Fatal("n2 was never asked: the test did not exercise a failed first choice")
	}
}
