package engine

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"

	"github.com/ringcache/ringcache/bench/await"
)

// fakeClock is an injectable Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(ms int64) *fakeClock { return &fakeClock{t: time.UnixMilli(ms)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(ms int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = time.UnixMilli(ms)
}

func memConfig(fs vfs.FS) Config {
	cfg := DefaultConfig()
	cfg.Dir = "db"
	cfg.FS = fs
	cfg.CacheBytes = 8 << 20
	cfg.MemTableBytes = 4 << 20
	return cfg
}

func mustOpen(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func openMem(t testing.TB, mods ...func(*Config)) *Engine {
	t.Helper()
	cfg := memConfig(vfs.NewMem())
	for _, m := range mods {
		m(&cfg)
	}
	return mustOpen(t, cfg)
}

// noReclaim keeps the background reclaimer from ticking while a test
// runs: a tombstone with an old version (one below a flush floor, or a
// test's small wall) is due for purge at once, and a tick between its
// Apply and the check that looks for it would purge it.
func noReclaim(c *Config) { c.ReclaimInterval = time.Hour }

func mustApply(t testing.TB, e *Engine, key string, r Record) bool {
	t.Helper()
	ok, err := e.Apply([]byte(key), r)
	if err != nil {
		t.Fatalf("Apply(%q): %v", key, err)
	}
	return ok
}

func mustLookup(t testing.TB, e *Engine, key string) (Record, bool) {
	t.Helper()
	r, ok, err := e.Lookup([]byte(key))
	if err != nil {
		t.Fatalf("Lookup(%q): %v", key, err)
	}
	return r, ok
}

// recordsEqual compares records treating nil and empty values alike.
func recordsEqual(a, b Record) bool {
	return a.Version == b.Version && a.ExpireAt == b.ExpireAt &&
		a.Tombstone == b.Tombstone && a.EvictedAt == b.EvictedAt && bytes.Equal(a.Value, b.Value)
}

// dump returns the full stored state, keyed by user key.
func dump(t testing.TB, e *Engine) map[string]Record {
	t.Helper()
	m := map[string]Record{}
	err := e.Scan(0, 0, func(k []byte, r Record) error {
		r.Value = bytes.Clone(r.Value)
		m[string(k)] = r
		return nil
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return m
}

// waitFor retries cond until it holds, for up to 10s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	await.T(t, 10*time.Second, what, cond)
}

func val(v Version, s string) Record { return Record{Version: v, Value: []byte(s)} }

func ver(wall int64, logical uint32, node uint64) Version {
	return Version{Wall: wall, Logical: logical, Node: node}
}
