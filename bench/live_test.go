package bench

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// requireBinaries skips the test when a binary is missing on a developer
// machine, and fails it in CI, where a skip would hide lost coverage.
func requireBinaries(t *testing.T, bins ...string) {
	t.Helper()
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found and CI is set: %v", b, err)
			}
			t.Skipf("%s not found: %v", b, err)
		}
	}
}

// startRedis runs a redis-server without persistence for the test, through
// the same Target the compare command uses, and stops it at cleanup.
func startRedis(t *testing.T) (addr string, pid int) {
	t.Helper()
	requireBinaries(t, "redis-server")
	tgt := NewRedisTarget("test-redis", "redis-server", "--appendonly", "no")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addr, pid, err := tgt.Start(ctx)
	t.Cleanup(func() {
		if err := tgt.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return addr, pid
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}
