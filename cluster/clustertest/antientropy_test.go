package clustertest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/cluster/clustertest"
)

// repair runs RINGCACHE REPAIR on node i and returns its summary fields.
func repair(t *testing.T, c *clustertest.Cluster, i int) map[string]any {
	t.Helper()
	// A repair takes as long as its ranges take to compare and stream:
	// longer than a command's read timeout on a loaded machine.
	cl := redis.NewClient(&redis.Options{Addr: c.ClientAddr(i), Protocol: 2, DisableIdentity: true,
		MaxRetries: -1, ReadTimeout: 2 * time.Minute})
	defer cl.Close()
	reply, err := cl.Do(context.Background(), "RINGCACHE", "REPAIR").Slice()
	if err != nil {
		t.Fatalf("RINGCACHE REPAIR on node %d: %v", i, err)
	}
	out := map[string]any{}
	for k := 0; k+1 < len(reply); k += 2 {
		out[reply[k].(string)] = reply[k+1]
	}
	return out
}

// TestCassandraRepairCheck reproduces Cassandra's classic repair check:
// a node misses one write while it is away and hinted handoff is off;
// one repair brings it back exactly, exchanging only the differing leaf,
// and a second round sends nothing.
func TestCassandraRepairCheck(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, clustertest.Options{Configure: strict})
	ctx := context.Background()
	setOnAll(t, c, "first", 1000, map[int]int64{0: 1000, 1: 1000, 2: 1000})
	c.Stop(2)
	if err := c.Client(0).Set(ctx, "missed", "by-C", 0).Err(); err != nil {
		t.Fatalf("SET with C away: %v", err)
	}
	c.Restart(2)
	c.WaitMembers(3)
	setOnAll(t, c, "second", 1000, map[int]int64{0: 2001, 1: 2001, 2: 2000})

	sum := repair(t, c, 2)
	if sum["keys_received"] != int64(1) || sum["keys_sent"] != int64(0) || sum["leaves_differing"] != int64(1) || sum["ranges_differing"] != int64(1) {
		t.Fatalf("first repair %v: want exactly one differing leaf and one key received", sum)
	}
	if got := localCount(t, c, 2); got != 2001 {
		t.Fatalf("C holds %d records after repair, want 2001", got)
	}
	if v, ok := localValue(t, c, 2, "missed"); !ok || v != "by-C" {
		t.Fatalf("C's missed key after repair = %q, %v", v, ok)
	}
	for _, i := range []int{2, 0} {
		sum = repair(t, c, i)
		if sum["keys_received"] != int64(0) || sum["keys_sent"] != int64(0) || sum["ranges_differing"] != int64(0) {
			t.Fatalf("second repair on node %d %v: want nothing exchanged", i, sum)
		}
	}
}

// localCount returns node i's stored live records (its engine's count).
func localCount(t *testing.T, c *clustertest.Cluster, i int) int64 {
	t.Helper()
	info, err := c.Client(i).Info(context.Background(), "engine").Result()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, line := range strings.Split(info, "\r\n") {
		if _, err := fmt.Sscanf(line, "engine_live_records:%d", &n); err == nil {
			return n
		}
	}
	t.Fatalf("no engine_live_records in %q", info)
	return 0
}

// setOnAll SETs n keys prefix:NNNN through node 0 and waits until every
// node holds want records. An acknowledged SET may miss one replica (its
// call failed or came after the quorum, and hinted handoff is off): such
// keys are written again, so that the only key a test leaves missing is
// the one it means to.
func setOnAll(t *testing.T, c *clustertest.Cluster, prefix string, n int, want map[int]int64) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		if err := c.Client(0).Set(ctx, fmt.Sprintf("%s:%04d", prefix, i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.Eventually("record counts", func() error {
		var short error
		for node, w := range want {
			got := localCount(t, c, node)
			if got == w {
				continue
			}
			short = fmt.Errorf("node %d holds %d, want %d", node, got, w)
			for i := range n {
				k := fmt.Sprintf("%s:%04d", prefix, i)
				if _, ok := localValue(t, c, node, k); !ok {
					_ = c.Client(0).Set(ctx, k, "v", 0).Err()
				}
			}
		}
		return short
	})
}

func waitCounts(t *testing.T, c *clustertest.Cluster, want map[int]int64) {
	t.Helper()
	c.Eventually("record counts", func() error {
		for i, w := range want {
			if got := localCount(t, c, i); got != w {
				return fmt.Errorf("node %d holds %d, want %d", i, got, w)
			}
		}
		return nil
	})
}
