package bench

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRunBoundedOps(t *testing.T) {
	addr, _ := startRedis(t)
	ctx := testContext(t)
	cfg := DefaultConfig()
	cfg.Addr = addr
	cfg.Ops = 5003 // not a multiple of Pipeline: the last batches are partial
	cfg.Pipeline = 7
	cfg.Conns = 4
	cfg.Keys = 100
	cfg.Dist = DistZipfian
	cfg.Mix = Mix{Get: 6, Set: 3, Del: 1}
	cfg.TTL = time.Minute
	cfg.Progress = io.Discard
	r, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops != cfg.Ops {
		t.Fatalf("Ops = %d, want exactly %d", r.Ops, cfg.Ops)
	}
	if r.Errors != 0 {
		t.Fatalf("%d errors, first: %s", r.Errors, r.FirstError)
	}
	var sum int64
	for _, name := range []string{"get", "set", "del"} {
		o, ok := r.PerOp[name]
		if !ok || o.Ops == 0 {
			t.Fatalf("no %s in %+v", name, r.PerOp)
		}
		if o.Latency.P50 <= 0 || o.Latency.P50 > o.Latency.P99 || o.Latency.P99 > o.Latency.P999 ||
			o.Latency.P999 > o.Latency.Max {
			t.Errorf("%s latency not ordered: %+v", name, o.Latency)
		}
		sum += o.Ops
	}
	if sum != r.Ops {
		t.Errorf("per-op counts sum to %d, total %d", sum, r.Ops)
	}
	// With a 100-key space and a third of commands writing, some GETs hit.
	if g := r.PerOp["get"]; g.Misses >= g.Ops {
		t.Errorf("every GET missed (%d of %d)", g.Misses, g.Ops)
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	// Every key the run left behind carries the TTL (DEL may have removed some).
	withTTL := 0
	for i := 0; i < cfg.Keys; i++ {
		ttl, err := c.TTL(ctx, string(appendKey(nil, int64(i)))).Result()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case ttl == -2*time.Nanosecond: // missing: never written or deleted
		case ttl <= 0 || ttl > time.Minute:
			t.Errorf("key %d: TTL %v, want in (0, 1m]", i, ttl)
		default:
			withTTL++
		}
	}
	if withTTL == 0 {
		t.Errorf("no key left with a TTL")
	}
}

func TestRunSequentialWritesEveryKey(t *testing.T) {
	addr, _ := startRedis(t)
	ctx := testContext(t)
	cfg := DefaultConfig()
	cfg.Addr = addr
	cfg.Mix = Mix{Set: 1}
	cfg.Dist = DistSequential
	cfg.Keys = 3000
	cfg.Ops = 3000
	cfg.Pipeline = 16
	cfg.Conns = 8
	cfg.ValueSize = 10
	r, err := Run(ctx, cfg)
	if err != nil || r.Errors != 0 {
		t.Fatalf("Run: %v, %d errors", err, r.Errors)
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	n, err := c.DBSize(ctx).Result()
	if err != nil || n != 3000 {
		t.Fatalf("DBSIZE = %d, %v; want 3000", n, err)
	}
	v, err := c.Get(ctx, "key:000000002999").Result()
	if err != nil || len(v) != 10 {
		t.Fatalf("last key = %q, %v; want a 10-byte value", v, err)
	}
}

func TestRunDurationStopsByItself(t *testing.T) {
	addr, _ := startRedis(t)
	cfg := DefaultConfig()
	cfg.Addr = addr
	cfg.Conns = 2
	cfg.Duration = 200 * time.Millisecond
	r, err := Run(testContext(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops == 0 || r.Elapsed < cfg.Duration {
		t.Fatalf("ran %d ops in %v, want some ops in at least %v", r.Ops, r.Elapsed, cfg.Duration)
	}
}

func TestRunCancelled(t *testing.T) {
	addr, _ := startRedis(t)
	cfg := DefaultConfig()
	cfg.Addr = addr
	cfg.Conns = 2
	cfg.Duration = time.Hour
	ctx, cancel := context.WithCancel(testContext(t))
	go func() {
		// Cancel once the run is under way, not on a timer.
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		for ctx.Err() == nil {
			if n, _ := c.DBSize(ctx).Result(); n > 0 {
				cancel()
				return
			}
		}
	}()
	r, err := Run(ctx, cfg)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if r.Errors != 0 {
		t.Fatalf("cancellation counted as %d errors: %s", r.Errors, r.FirstError)
	}
}

func TestRunUnreachable(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:1"
	cfg.Ops = 1
	cfg.Timeout = time.Second
	if _, err := Run(testContext(t), cfg); err == nil {
		t.Fatal("Run against a closed port succeeded")
	}
}
