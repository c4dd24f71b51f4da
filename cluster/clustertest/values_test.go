package clustertest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ringcache/ringcache/cluster"
	"github.com/ringcache/ringcache/cluster/clustertest"
	"github.com/ringcache/ringcache/cluster/transport"
)

// smallFrames gives every node 1 MiB replica frames, so values around the
// cluster's limit stay cheap to move under the race detector; the rules
// are the same at the default 64 MiB.
const smallFrame = 1 << 20

func smallFrames(i int, cfg *cluster.NodeConfig) {
	cfg.Transport.MaxFrameBytes = smallFrame
	fastHandoff(i, cfg)
}

// value returns n bytes of v.
func value(n int, v byte) string { return strings.Repeat(string(v), n) }

// checkNoHintsOrRepairStuck requires every node to hold no hint and a
// repair round on every node to reach every peer and leave nothing
// behind.
func checkNoHintsOrRepairStuck(t *testing.T, c *clustertest.Cluster) {
	t.Helper()
	for _, i := range c.Running() {
		for _, h := range c.Node(i).Hints() {
			if h.Pending != 0 || h.Dropped != 0 {
				t.Fatalf("node %d holds hints %+v", i, h)
			}
		}
		sum, err := c.Node(i).Repair(context.Background())
		if err != nil || sum.PeersFailed != 0 {
			t.Fatalf("repair on node %d: %+v, %v", i, sum, err)
		}
		if n := c.Node(i).Repairer().Stats().KeysTooLarge; n != 0 {
			t.Fatalf("node %d left %d records unrepaired as too large", i, n)
		}
	}
}

// A key and value over the limit are refused at once with an -ERR naming
// the limit, on every write path; values up to the limit, and writes whose
// values together exceed a frame, go through; the node stays healthy and
// nothing is left behind in hints or repair.
func TestValuesOverTheFrameLimitRefusedAtOnce(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, clustertest.Options{Configure: smallFrames, Timeout: 3 * time.Second})
	ctx := context.Background()
	limit := transport.MaxRecordBytes(smallFrame)
	cl := c.Client(0)
	wantRefusal := func(what string, err error, size int) {
		t.Helper()
		want := fmt.Sprintf("ERR value too large for the cluster: key and value of %d bytes, the limit is %d bytes (cluster frame size)", size, limit)
		if err == nil || err.Error() != want {
			t.Fatalf("%s: %v, want -%s", what, err, want)
		}
	}

	start := time.Now()
	err := cl.Set(ctx, "big", value(limit-2, 'x'), 0).Err()
	took := time.Since(start)
	wantRefusal("SET one byte over", err, limit+1)
	t.Logf("SET of %d bytes refused after %v", limit+1, took)
	if took > 5*time.Second {
		t.Fatalf("the refusal took %v", took)
	}
	if n, err := cl.Exists(ctx, "big").Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS big after the refusal: %d, %v", n, err)
	}

	// Exactly at the limit: stored on every replica.
	if err := cl.Set(ctx, "atlimit", value(limit-len("atlimit"), 'a'), 0).Err(); err != nil {
		t.Fatalf("SET at the limit: %v", err)
	}
	// W=2 acknowledged it; the third replica's copy may still be on its way.
	c.Eventually("atlimit on every replica", func() error {
		for _, i := range c.Running() {
			if v, ok := localValue(t, c, i, "atlimit"); !ok || len(v) != limit-len("atlimit") {
				return fmt.Errorf("node %d holds %d bytes of atlimit (found %v)", i, len(v), ok)
			}
		}
		return nil
	})

	// MSET: values that fit one by one but not in one frame go through;
	// one value over the limit refuses the whole command.
	if err := cl.MSet(ctx, "m1", value(600_000, '1'), "m2", value(600_000, '2'), "m3", "small").Err(); err != nil {
		t.Fatalf("MSET of 1.2 MB over 1 MiB frames: %v", err)
	}
	c.Eventually("the MSET on every replica", func() error {
		for _, i := range c.Running() {
			for k, n := range map[string]int{"m1": 600_000, "m2": 600_000, "m3": 5} {
				if v, ok := localValue(t, c, i, k); !ok || len(v) != n {
					return fmt.Errorf("node %d holds %d bytes of %s (found %v)", i, len(v), k, ok)
				}
			}
		}
		return nil
	})
	err = cl.MSet(ctx, "n1", "small", "n2", value(limit, 'y')).Err()
	wantRefusal("MSET with a value over", err, limit+2)
	if n, err := cl.Exists(ctx, "n1", "n2").Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS after a refused MSET: %d, %v", n, err)
	}

	// APPEND past the limit: the grown value is refused, the old one stays.
	base := value(limit-len("grow")-10, 'g')
	if err := cl.Set(ctx, "grow", base, 0).Err(); err != nil {
		t.Fatal(err)
	}
	_, err = cl.Append(ctx, "grow", value(11, 'h')).Result()
	wantRefusal("APPEND past the limit", err, limit+1)
	if v, err := cl.Get(ctx, "grow").Result(); err != nil || v != base {
		t.Fatalf("GET grow after a refused APPEND: %d bytes, %v", len(v), err)
	}

	// The node is healthy: small requests through it are answered, MGET
	// of values that together exceed a frame too.
	for i := range 50 {
		k := fmt.Sprint("after", i)
		if err := cl.Set(ctx, k, k, 0).Err(); err != nil {
			t.Fatalf("SET after the refusals: %v", err)
		}
		if v, err := c.Client(1).Get(ctx, k).Result(); err != nil || v != k {
			t.Fatalf("GET after the refusals: %q, %v", v, err)
		}
	}
	vals, err := c.Client(2).MGet(ctx, "m1", "m2", "atlimit").Result()
	if err != nil || len(vals) != 3 || len(vals[0].(string)) != 600_000 || len(vals[2].(string)) != limit-len("atlimit") {
		t.Fatalf("MGET of 2.2 MB over 1 MiB frames: %d values, %v", len(vals), err)
	}
	checkNoHintsOrRepairStuck(t, c)
}

// Large hints are replayed in batches that fit a frame: two hints that
// would overflow one frame together go in two, and none waits behind the
// other.
func TestLargeHintsReplayedWithinFrames(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 4, clustertest.Options{Configure: smallFrames, Timeout: 3 * time.Second})
	ctx := context.Background()
	const owner = 1
	keys := keysOwnedBy(t, c, 4, 3, owner, 0)
	c.Isolate(owner)
	for _, k := range keys {
		if err := c.Client(0).Set(ctx, k, value(700_000, k[len(k)-1]), 0).Err(); err != nil {
			t.Fatalf("SET %s of 700 kB with its owner cut off: %v", k, err)
		}
	}
	c.Eventually("one hint per key", func() error {
		if p, _, _, _ := pendingFor(c, c.ID(owner)); p != int64(len(keys)) {
			return fmt.Errorf("%d hints pending for the cut-off owner, want %d", p, len(keys))
		}
		return nil
	})
	c.Heal()
	c.Eventually("every hint delivered", func() error {
		if p, _, _, _ := pendingFor(c, c.ID(owner)); p != 0 {
			return fmt.Errorf("%d hints pending", p)
		}
		for _, k := range keys {
			if v, _ := localValue(t, c, owner, k); len(v) != 700_000 {
				return fmt.Errorf("owner holds %d bytes of %s", len(v), k)
			}
		}
		return nil
	})
	if _, _, delivered, dropped := pendingFor(c, c.ID(owner)); delivered < int64(len(keys)) || dropped != 0 {
		t.Fatalf("delivered %d, dropped %d; want %d delivered, none dropped", delivered, dropped, len(keys))
	}
}
