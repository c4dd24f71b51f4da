package server

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestLatencyMonitor: off by default; with a threshold, a command slower
// than it is a "command" sample with its latency, the slowest of its
// second; RESET drops it.
func TestLatencyMonitor(t *testing.T) {
	ts := defaultTestServer(t)
	c := ts.client(t, &redis.Options{Protocol: 2})
	ctx := context.Background()
	if got, err := c.Do(ctx, "LATENCY", "LATEST").Slice(); err != nil || len(got) != 0 {
		t.Fatalf("LATENCY LATEST while off: %v, %v", got, err)
	}
	slow := func(d time.Duration) {
		ts.store.getHook = func([][]byte) error { time.Sleep(d); return nil }
		defer func() { ts.store.getHook = nil }()
		if err := c.Incr(ctx, "n").Err(); err != nil {
			t.Fatal(err)
		}
	}
	slow(30 * time.Millisecond) // not recorded: off
	if err := c.ConfigSet(ctx, "latency-monitor-threshold", "20").Err(); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.ConfigGet(ctx, "latency-monitor-threshold").Result(); got["latency-monitor-threshold"] != "20" {
		t.Fatalf("CONFIG GET latency-monitor-threshold = %v", got)
	}
	slow(5 * time.Millisecond) // under the threshold
	slow(40 * time.Millisecond)
	got, err := c.Do(ctx, "LATENCY", "LATEST").Slice()
	if err != nil || len(got) != 1 {
		t.Fatalf("LATENCY LATEST: %v, %v", got, err)
	}
	ev := got[0].([]any)
	if ev[0] != "fast-command" || ev[2].(int64) < 40 || ev[3].(int64) < 40 {
		t.Fatalf("LATENCY LATEST = %v: want fast-command (INCR) with 40 ms or more", ev)
	}
	hist, err := c.Do(ctx, "LATENCY", "HISTORY", "fast-command").Slice()
	if err != nil || len(hist) != 1 {
		t.Fatalf("LATENCY HISTORY fast-command: %v, %v", hist, err)
	}
	if n, err := c.Do(ctx, "LATENCY", "RESET").Int(); err != nil || n != 1 {
		t.Fatalf("LATENCY RESET: %d, %v", n, err)
	}
	if got, err := c.Do(ctx, "LATENCY", "LATEST").Slice(); err != nil || len(got) != 0 {
		t.Fatalf("LATENCY LATEST after RESET: %v, %v", got, err)
	}
}

// TestConfigSetMaxclients: a lower maxclients set at run time refuses
// the next connection past it; raised again, it is accepted.
func TestConfigSetMaxclients(t *testing.T) {
	ts := defaultTestServer(t)
	c := ts.dial(t)
	c.send("CONFIG SET maxclients 1\r\n")
	if got := c.line(); got != "+OK" {
		t.Fatalf("CONFIG SET maxclients 1: %q", got)
	}
	over := ts.dial(t)
	if got := over.line(); got != "-ERR max number of clients reached" {
		t.Fatalf("a second client past maxclients 1: %q", got)
	}
	c.send("CONFIG SET maxclients 10\r\n")
	if got := c.line(); got != "+OK" {
		t.Fatalf("CONFIG SET maxclients 10: %q", got)
	}
	ok := ts.dial(t)
	ok.send("PING\r\n")
	if got := ok.line(); got != "+PONG" {
		t.Fatalf("a second client under maxclients 10: %q", got)
	}
}
