package main

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/engine"
)

// TestMemoryUsageIsTheEngineCount checks that MEMORY USAGE answers what
// the key adds to used_memory, which is engine.RecordBytes: the server
// computes it without the engine, so the two must not drift apart.
func TestMemoryUsageIsTheEngineCount(t *testing.T) {
	if testing.Short() {
		t.Skip("real process")
	}
	addr := freeAddr(t)
	startNode(t, addr, "--data-dir", t.TempDir())
	cl := redis.NewClient(&redis.Options{Addr: addr})
	defer cl.Close()
	ctx := context.Background()
	for _, tc := range []struct {
		key, value string
		ttl        time.Duration
	}{
		{"k", "v", 0},
		{"a-longer-key", string(make([]byte, 1000)), 0},
		{"ttl-key", "value", time.Hour},
	} {
		before, err := infoInt(cl, "memory", "used_memory")
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.Set(ctx, tc.key, tc.value, tc.ttl).Err(); err != nil {
			t.Fatal(err)
		}
		after, err := infoInt(cl, "memory", "used_memory")
		if err != nil {
			t.Fatal(err)
		}
		usage, err := cl.MemoryUsage(ctx, tc.key).Result()
		if err != nil {
			t.Fatal(err)
		}
		want := engine.RecordBytes(len(tc.key), len(tc.value), tc.ttl > 0)
		if usage != want || after-before != want {
			t.Errorf("%s: MEMORY USAGE %d, used_memory grew by %d, engine.RecordBytes %d", tc.key, usage, after-before, want)
		}
	}
}
