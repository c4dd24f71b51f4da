package clustertest_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringcache/ringcache/cluster"
	"github.com/ringcache/ringcache/cluster/clustertest"
)

// TestTransfersShowTheOperationOnEveryNode: while a fourth node streams
// its ranges in (slowed by its stream rate), RINGCACHE TRANSFERS on a node
// that gains nothing shows the operation's streaming as the joining node
// reports it: ranges done of total, keys and bytes growing, a rate;
// done never goes back, and all of it ends with the operation.
func TestTransfersShowTheOperationOnEveryNode(t *testing.T) {
	c := clustertest.New(t, 4, clustertest.Options{Deferred: []int{3}, Timeout: time.Second,
		Configure: func(i int, cfg *cluster.NodeConfig) {
			if i == 3 {
				cfg.StreamRate = 512 << 10
			}
		}})
	ctx := context.Background()
	value := strings.Repeat("v", 1000)
	pipe := c.Client(0).Pipeline()
	for k := range 2000 {
		pipe.Set(ctx, fmt.Sprintf("transfers:%05d", k), value, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(3); err != nil {
		t.Fatal(err)
	}
	var samples, midway int
	lastDone := -1
	c.Eventually("the join to finish", func() error {
		f := transfers(t, c, 0)
		if f["topology_operation"] == "none" {
			if samples == 0 {
				return fmt.Errorf("no operation seen yet")
			}
			for _, name := range []string{"topology_operation_ranges_total", "topology_operation_keys_streamed"} {
				if f[name] != "0" {
					t.Errorf("after the operation %s = %s", name, f[name])
				}
			}
			return nil
		}
		samples++
		if f["topology_operation"] != "join n3" {
			t.Errorf("operation %q, want the join of n3", f["topology_operation"])
		}
		if f["topology_ranges_total"] != "0" {
			t.Errorf("node 0 gains no range, yet its own streaming is %s ranges", f["topology_ranges_total"])
		}
		done, total := atoi(t, f["topology_operation_ranges_done"]), atoi(t, f["topology_operation_ranges_total"])
		if total > 0 {
			if done < lastDone {
				t.Errorf("ranges done went back from %d to %d", lastDone, done)
			}
			lastDone = done
			if done < total && atoi(t, f["topology_operation_keys_streamed"]) > 0 &&
				atoi(t, f["topology_operation_bytes_streamed"]) > 0 && atoi(t, f["topology_operation_stream_rate_bytes"]) > 0 {
				midway++
			}
		}
		return fmt.Errorf("%s at %s: %d of %d ranges", f["topology_operation"], f["topology_stage"], done, total)
	})
	if midway == 0 {
		t.Fatalf("node 0 never showed the stream midway (%d samples of the operation, last ranges done %d)", samples, lastDone)
	}
	t.Logf("%d samples of the operation, %d of them midway", samples, midway)
}

// transfers returns RINGCACHE TRANSFERS of node i as a map.
func transfers(t *testing.T, c *clustertest.Cluster, i int) map[string]string {
	t.Helper()
	v, err := c.Client(i).Do(context.Background(), "RINGCACHE", "TRANSFERS").Slice()
	if err != nil {
		t.Fatal(err)
	}
	f := map[string]string{}
	for j := 0; j+1 < len(v); j += 2 {
		f[fmt.Sprint(v[j])] = fmt.Sprint(v[j+1])
	}
	return f
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return int(n)
}
