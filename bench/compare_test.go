package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// recordingTarget remembers what its inner target started so the test can
// check that Compare cleaned up after it.
type recordingTarget struct {
	Target
	mu   sync.Mutex
	pids []int
}

func (r *recordingTarget) Start(ctx context.Context) (string, int, error) {
	addr, pid, err := r.Target.Start(ctx)
	r.mu.Lock()
	r.pids = append(r.pids, pid)
	r.mu.Unlock()
	return addr, pid, err
}

func TestCompareShort(t *testing.T) {
	requireBinaries(t, "redis-server", "redis-benchmark")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // the targets' directories go here
	base := &recordingTarget{Target: NewRedisTarget("redis-noaof", "redis-server", "--appendonly", "no")}
	aof := &recordingTarget{Target: NewRedisTarget("redis-aof", "redis-server",
		"--appendonly", "yes", "--appendfsync", "everysec")}
	cfg := DefaultCompareConfig()
	cfg.Targets = []Target{aof, base}
	cfg.Runs = 2
	cfg.Pipelines = []int{1, 4}
	cfg.Clients = 4
	cfg.KeySpace = 1000
	cfg.MinRunTime = 0
	cfg.CalibrationRequests = 500
	cfg.RSSKeys = 2000
	var log bytes.Buffer
	cfg.Log = &log
	tab, err := Compare(testContext(t), cfg)
	if err != nil {
		t.Fatalf("Compare: %v\nlog:\n%s", err, log.String())
	}
	if len(tab.Rows) != 2*2*2 {
		t.Fatalf("%d rows, want 8: %+v", len(tab.Rows), tab.Rows)
	}
	for _, r := range tab.Rows {
		if r.OpsPerSec <= 0 || r.P50Ms <= 0 || r.P99Ms < r.P50Ms || r.Ratio == nil || len(r.Runs) != 2 {
			t.Errorf("implausible row %+v", r)
		}
	}
	if len(tab.Memory) != 2 {
		t.Fatalf("memory rows = %+v", tab.Memory)
	}
	for _, m := range tab.Memory {
		if m.Keys != 2000 || m.RSSBytes <= 0 {
			t.Errorf("memory row %+v, want 2000 keys and a positive RSS", m)
		}
	}
	// 2 targets × 2 pipelines × (1 calibration + 2 runs).
	if len(tab.Commands) != 12 || !strings.Contains(tab.Commands[0], "redis-benchmark -h 127.0.0.1 -p ") {
		t.Errorf("commands = %q", tab.Commands)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary directories left behind: %v", left)
	}
	for _, rt := range []*recordingTarget{base, aof} {
		for _, pid := range rt.pids {
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("%s pid %d still exists after Compare (kill 0: %v)", rt.Name(), pid, err)
			}
		}
	}
}

func TestCompareStopsTargetOnError(t *testing.T) {
	requireBinaries(t, "redis-server", "false")
	rt := &recordingTarget{Target: NewRedisTarget("redis-noaof", "redis-server", "--appendonly", "no")}
	cfg := DefaultCompareConfig()
	cfg.Targets = []Target{rt}
	cfg.RedisBenchmark = "false" // found, so the target starts, then fails
	if _, err := Compare(testContext(t), cfg); err == nil {
		t.Fatal("Compare with a failing redis-benchmark succeeded")
	}
	if len(rt.pids) != 1 {
		t.Fatalf("target started %d times, want 1", len(rt.pids))
	}
	if err := syscall.Kill(rt.pids[0], 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("pid %d still exists after failed Compare (kill 0: %v)", rt.pids[0], err)
	}
}

func TestComparePreflight(t *testing.T) {
	cfg := DefaultCompareConfig()
	cfg.RingcacheBin = "/nonexistent/ringcache"
	cfg.RedisServer, cfg.RedisBenchmark = "sh", "sh" // present everywhere
	_, err := Compare(testContext(t), cfg)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/ringcache") {
		t.Fatalf("err = %v, want the missing ringcache binary named", err)
	}
}

func TestTargetStartFailure(t *testing.T) {
	tgt := NewRingcacheTarget("ringcache", "/nonexistent/ringcache")
	_, _, err := tgt.Start(testContext(t))
	if !errors.Is(err, ErrTargetStart) {
		t.Fatalf("err = %v, want ErrTargetStart", err)
	}
	if err := tgt.Stop(context.Background()); err != nil {
		t.Fatalf("Stop after failed Start: %v", err)
	}
}

// TestRingcacheTargetFlags starts a stand-in for the ringcache binary that
// rejects any flag set other than the one the server documents.
func TestRingcacheTargetFlags(t *testing.T) {
	requireBinaries(t, "redis-server")
	tgt := NewRingcacheTarget("ringcache", "testdata/fake-ringcache.sh")
	addr, pid, err := tgt.Start(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(addr, "127.0.0.1:") || pid <= 0 {
		t.Errorf("Start = %q, %d", addr, pid)
	}
	if err := tgt.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("pid %d still exists after Stop (kill 0: %v)", pid, err)
	}
	if err := tgt.Stop(context.Background()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

// TestCompareScriptAndPrimaries: a script is measured as EVALSHA and the
// INCRs of Primaries as their own tests, on every target.
func TestCompareScriptAndPrimaries(t *testing.T) {
	requireBinaries(t, "redis-server", "redis-benchmark")
	t.Setenv("TMPDIR", t.TempDir())
	cfg := DefaultCompareConfig()
	cfg.Targets = []Target{NewRedisTarget("redis-noaof", "redis-server", "--appendonly", "no")}
	cfg.Tests, cfg.Script, cfg.Primaries = "incr", "return redis.call('INCR', KEYS[1])", true
	cfg.Runs, cfg.Pipelines, cfg.Clients, cfg.KeySpace = 1, []int{1}, 2, 100
	cfg.MinRunTime, cfg.CalibrationRequests, cfg.RSS = 0, 300, false
	tab, err := Compare(testContext(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var tests []string
	for _, r := range tab.Rows {
		if r.OpsPerSec <= 0 {
			t.Errorf("%s: %v ops/s", r.Test, r.OpsPerSec)
		}
		tests = append(tests, r.Test)
	}
	if want := []string{"INCR", "INCR@PRIMARY", "INCR@FORWARDED", "EVALSHA"}; !slices.Equal(tests, want) {
		t.Fatalf("tests %v, want %v", tests, want)
	}
}
