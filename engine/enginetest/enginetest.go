// Package enginetest opens the small in-memory engines the tests of the
// packages above the engine run on: real Pebble on an in-memory
// filesystem, closed when the test ends.
package enginetest

import (
	"testing"

	"github.com/cockroachdb/pebble/vfs"

	"github.com/ringcache/ringcache/engine"
)

// Open opens an engine on a fresh in-memory filesystem with small caches
// and no fsync, after mods edit its config (set cfg.FS to reopen one a
// test kept), and closes it when the test ends.
func Open(t testing.TB, mods ...func(*engine.Config)) *engine.Engine {
	t.Helper()
	cfg := engine.DefaultConfig()
	cfg.Dir, cfg.FS, cfg.Fsync = "db", vfs.NewMem(), engine.FsyncNo
	cfg.CacheBytes, cfg.MemTableBytes, cfg.RowCacheBytes = 4<<20, 4<<20, 1<<20
	for _, m := range mods {
		m(&cfg)
	}
	e, err := engine.Open(cfg)
	if err != nil {
		t.Fatalf("open engine: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}
