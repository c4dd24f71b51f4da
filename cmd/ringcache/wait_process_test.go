package main

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestWaitCountsReplicas: on a 3-node cluster (N=3, W=2) WAIT answers how
// many replicas hold the connection's last write: all three once they
// answered; two when one is SIGKILLed (after waiting out its timeout, and
// never longer than the write's own request timeout when asked to wait
// for ever); on one node, 0, as Redis without replicas.
func TestWaitCountsReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	c := startProcCluster(t, 3)
	c.waitAlive(3)
	ctx := context.Background()
	cl := c.client(0)
	if n, err := cl.Wait(ctx, 3, time.Second).Result(); err != nil || n != 0 {
		t.Fatalf("WAIT before any write: %d, %v; want 0", n, err)
	}
	// The third replica answers within the write's request timeout (1s)
	// unless the machine is overloaded: a few tries.
	for try := 1; ; try++ {
		if err := cl.Set(ctx, "w:1", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		n, err := cl.Wait(ctx, 3, 5*time.Second).Result()
		if err == nil && n == 3 {
			break
		}
		if try == 5 || err != nil || n < 2 {
			t.Fatalf("WAIT 3 after a write: %d, %v; want 3", n, err)
		}
	}
	if n, err := cl.Wait(ctx, 1, 0).Result(); err != nil || n != 3 {
		t.Fatalf("WAIT 1 0: %d, %v; want 3 (every replica answered)", n, err)
	}
	c.nodes[2].proc.kill()
	if err := cl.Set(ctx, "w:2", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if n, err := cl.Wait(ctx, 3, 300*time.Millisecond).Result(); err != nil || n != 2 {
		t.Fatalf("WAIT 3 300 with a node down: %d, %v; want 2", n, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("WAIT 3 300 took %v", d)
	}
	start = time.Now()
	if n, err := cl.Wait(ctx, 3, 0).Result(); err != nil || n != 2 {
		t.Fatalf("WAIT 3 0 with a node down: %d, %v; want 2", n, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("WAIT 3 0 with a node down took %v: it must end with the write's request timeout", d)
	}

	one := freeAddr(t)
	startNode(t, one, "--data-dir", t.TempDir())
	single := redis.NewClient(&redis.Options{Addr: one, MaxRetries: -1})
	defer single.Close()
	if err := single.Set(ctx, "w", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := single.Wait(ctx, 1, 100*time.Millisecond).Result(); err != nil || n != 0 {
		t.Fatalf("WAIT on one node: %d, %v; want 0", n, err)
	}
}
