package engine

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
)

func TestApplyLastWriteWins(t *testing.T) {
	e := openMem(t, noReclaim)
	tests := []struct {
		name      string
		r         Record
		applied   bool
		wantValue string
	}{
		{"first write", val(ver(10, 0, 1), "a"), true, "a"},
		{"equal version is a no-op", val(ver(10, 0, 1), "other"), false, "a"},
		{"older wall", val(ver(9, 5, 9), "old"), false, "a"},
		{"newer logical", val(ver(10, 1, 0), "b"), true, "b"},
		{"node breaks tie", val(ver(10, 1, 2), "c"), true, "c"},
		{"older node", val(ver(10, 1, 1), "d"), false, "c"},
		{"newer wall", val(ver(11, 0, 0), "e"), true, "e"},
	}
	for _, tt := range tests {
		if got := mustApply(t, e, "k", tt.r); got != tt.applied {
			t.Fatalf("%s: applied = %v, want %v", tt.name, got, tt.applied)
		}
		r, ok := mustLookup(t, e, "k")
		if !ok || string(r.Value) != tt.wantValue {
			t.Fatalf("%s: lookup = %+v %v, want %q", tt.name, r, ok, tt.wantValue)
		}
	}
	// A tombstone wins like any write and is returned raw by Lookup.
	mustApply(t, e, "k", Record{Version: ver(12, 0, 0), Tombstone: true})
	r, ok := mustLookup(t, e, "k")
	if !ok || !r.Tombstone || r.Live(0) {
		t.Fatalf("tombstone lookup = %+v %v", r, ok)
	}
	// An older value cannot resurrect it.
	if mustApply(t, e, "k", val(ver(11, 5, 0), "zombie")) {
		t.Fatal("older value applied over tombstone")
	}
	if _, ok := mustLookup(t, e, "missing"); ok {
		t.Fatal("missing key found")
	}
	st := e.Stats()
	if st.Applied != 5 || st.Stale != 4 {
		t.Fatalf("stats applied=%d stale=%d, want 5 and 4", st.Applied, st.Stale)
	}
}

func TestApplyBatchSequentialSemantics(t *testing.T) {
	e := openMem(t, noReclaim)
	mustApply(t, e, "b", val(ver(5, 0, 0), "b5"))
	keys := [][]byte{[]byte("a"), []byte("b"), []byte("a"), []byte("a"), []byte("b"), []byte("c")}
	recs := []Record{
		val(ver(2, 0, 0), "a2"),
		val(ver(4, 0, 0), "b4"), // older than stored
		val(ver(3, 0, 0), "a3"),
		val(ver(1, 0, 0), "a1"), // older than a3 earlier in the batch
		val(ver(6, 0, 0), "b6"),
		{Version: ver(1, 0, 0), Tombstone: true},
	}
	n, err := e.ApplyBatch(keys, recs)
	if err != nil || n != 4 {
		t.Fatalf("ApplyBatch = %d, %v; want 4 applied", n, err)
	}
	want := map[string]string{"a": "a3", "b": "b6"}
	for k, v := range want {
		if r, _ := mustLookup(t, e, k); string(r.Value) != v {
			t.Fatalf("%s = %q, want %q", k, r.Value, v)
		}
	}
	if r, ok := mustLookup(t, e, "c"); !ok || !r.Tombstone {
		t.Fatalf("c = %+v %v, want tombstone", r, ok)
	}
	if _, err := e.ApplyBatch(keys[:1], nil); err == nil {
		t.Fatal("mismatched ApplyBatch succeeded")
	}
	if c, _ := e.Count(0); c != 2 {
		t.Fatalf("Count = %d, want 2", c)
	}
}

func TestLookupBatch(t *testing.T) {
	e := openMem(t, noReclaim)
	mustApply(t, e, "a", val(ver(1, 0, 0), "va"))
	mustApply(t, e, "c", Record{Version: ver(1, 0, 0), Tombstone: true})
	keys := [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("a")}
	dst := make([]Record, len(keys))
	found := make([]bool, len(keys))
	if err := e.LookupBatch(keys, dst, found); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		found bool
		value string
		tomb  bool
	}{{true, "va", false}, {false, "", false}, {true, "", true}, {true, "va", false}}
	for i, w := range want {
		if found[i] != w.found || string(dst[i].Value) != w.value || dst[i].Tombstone != w.tomb {
			t.Fatalf("key %s: %+v found=%v, want %+v", keys[i], dst[i], found[i], w)
		}
	}
	if err := e.LookupBatch(keys, dst[:1], found); err == nil {
		t.Fatal("short dst accepted")
	}
}

// Returned values are read-only and may be shared, but an append to one
// must copy rather than write into storage the next reader sees.
func TestLookupValueAppendCopies(t *testing.T) {
	for _, cache := range []int64{0, 1 << 20} {
		e := openMem(t, func(c *Config) { c.RowCacheBytes = cache })
		mustApply(t, e, "k", val(ver(1, 0, 0), "abc"))
		for i := 0; i < 2; i++ { // a miss, then a hit
			r, _ := mustLookup(t, e, "k")
			grown := append(r.Value, "def"...)
			grown[0] = 'X'
			if r2, _ := mustLookup(t, e, "k"); string(r2.Value) != "abc" {
				t.Fatalf("cache %d: stored value changed to %q", cache, r2.Value)
			}
		}
	}
}

func TestClosed(t *testing.T) {
	e := openMem(t)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	calls := map[string]error{
		"Apply":  func() error { _, err := e.Apply([]byte("k"), Record{}); return err }(),
		"Lookup": func() error { _, _, err := e.Lookup([]byte("k")); return err }(),
		"Count":  func() error { _, err := e.Count(0); return err }(),
		"Scan":   e.Scan(0, 0, func([]byte, Record) error { return nil }),
		"Drop":   e.DropAll(),
		"Sync":   e.Sync(),
	}
	for name, err := range calls {
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	_ = e.Stats() // must not panic after Close
}

// TestReopenRealDir reopens a store in a real directory after Close, in
// every fsync mode, and finds all data and the live count intact.
func TestReopenRealDir(t *testing.T) {
	for _, mode := range []FsyncMode{FsyncAlways, FsyncEverySec, FsyncNo} {
		t.Run(mode.String(), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Dir = filepath.Join(t.TempDir(), "db")
			cfg.Fsync = mode
			cfg.CacheBytes = 8 << 20
			cfg.MemTableBytes = 4 << 20
			e, err := Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := writeSome(t, e, 200)
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			e2 := mustOpen(t, cfg)
			checkState(t, e2, want)
			if c, _ := e2.Count(0); c != 199 {
				t.Fatalf("Count after reopen = %d, want 199", c)
			}
		})
	}
}

// writeSome writes n keys (the last one a tombstone) and returns them.
func writeSome(t testing.TB, e *Engine, n int) map[string]Record {
	want := map[string]Record{}
	// Recent walls, so the reclaimer does not purge the tombstone.
	base := time.Now().UnixMilli()
	for i := range n {
		k := fmt.Sprintf("key-%04d", i)
		r := val(ver(base+int64(i), 0, 1), fmt.Sprintf("value-%d", i))
		if i == n-1 {
			r = Record{Version: ver(base+int64(i), 0, 1), Tombstone: true}
		}
		mustApply(t, e, k, r)
		want[k] = r
	}
	return want
}

func checkState(t testing.TB, e *Engine, want map[string]Record) {
	t.Helper()
	got := dump(t, e)
	if len(got) != len(want) {
		for k := range want {
			if _, ok := got[k]; !ok {
				t.Logf("missing %s", k)
			}
		}
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || !recordsEqual(g, w) {
			t.Fatalf("%s = %+v (found %v), want %+v", k, g, ok, w)
		}
	}
}

// TestFsyncModesMem runs open/apply/close/reopen in every mode on a
// MemFS whose unsynced data is discarded at reopen: Close must have
// synced everything.
func TestFsyncModesMem(t *testing.T) {
	for _, mode := range []FsyncMode{FsyncAlways, FsyncEverySec, FsyncNo} {
		t.Run(mode.String(), func(t *testing.T) {
			fs := newStrictMem(t)
			cfg := memConfig(fs)
			cfg.Fsync = mode
			e, err := Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := writeSome(t, e, 100)
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			fs.ResetToSyncedState()
			e2 := mustOpen(t, cfg)
			checkState(t, e2, want)
		})
	}
}

// TestFsyncAlwaysSurvivesPowerLoss drops everything not synced without a
// Close: in FsyncAlways every acknowledged write is still there.
func TestFsyncAlwaysSurvivesPowerLoss(t *testing.T) {
	fs := newStrictMem(t)
	cfg := memConfig(fs)
	cfg.Fsync = FsyncAlways
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := writeSome(t, e, 50)
	fs.SetIgnoreSyncs(true) // freeze the synced state: the "power loss" point
	// The abandoned engine is closed only to stop its goroutines.
	_ = e.Close()
	fs.ResetToSyncedState()
	fs.SetIgnoreSyncs(false)
	e2 := mustOpen(t, cfg)
	checkState(t, e2, want)
}

// TestFsyncEverySecSyncsInBackground checks that the background syncer
// makes unsynced writes durable without any explicit call.
func TestFsyncEverySecSyncsInBackground(t *testing.T) {
	fs := newStrictMem(t)
	cfg := memConfig(fs)
	cfg.Fsync = FsyncEverySec
	e := mustOpen(t, cfg)
	want := writeSome(t, e, 20)
	base := e.Stats().ExplicitSyncs
	waitFor(t, "background WAL sync", func() bool { return e.Stats().ExplicitSyncs > base })
	fs.SetIgnoreSyncs(true)
	_ = e.Close()
	fs.ResetToSyncedState()
	fs.SetIgnoreSyncs(false)
	e2, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	checkState(t, e2, want)
}

func TestLayoutMismatch(t *testing.T) {
	fs := vfs.NewMem()
	cfg := memConfig(fs)
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.Set(metaLayoutKey, []byte{99}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(cfg); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open with foreign layout = %v, want ErrCorrupt", err)
	}
}

// newStrictMem returns a MemFS that can drop unsynced state, with the
// store directory created and synced (Pebble syncs the files inside its
// directory, not the directory's own entry in its parent).
func newStrictMem(t testing.TB) *vfs.MemFS {
	fs := vfs.NewStrictMem()
	if err := fs.MkdirAll("db", 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := fs.OpenDir("")
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Sync(); err != nil {
		t.Fatal(err)
	}
	_ = root.Close()
	return fs
}

// TestCheckpointOpensAsOfTheCall: a checkpoint on disk holds every
// acknowledged write before it, none after, and opens as an engine.
func TestCheckpointOpensAsOfTheCall(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dir = filepath.Join(t.TempDir(), "db")
	e := mustOpen(t, cfg)
	for i := range 100 {
		mustApply(t, e, fmt.Sprintf("k%03d", i), val(ver(1700000000000, 0, 1), "v"))
	}
	dir := filepath.Join(t.TempDir(), "cp")
	if err := e.Checkpoint(dir); err != nil {
		t.Fatal(err)
	}
	mustApply(t, e, "after", val(ver(1700000000000, 0, 1), "v"))
	if err := e.Checkpoint(dir); err == nil {
		t.Fatal("a checkpoint over an existing directory succeeded")
	}
	cpCfg := DefaultConfig()
	cpCfg.Dir = dir
	cp := mustOpen(t, cpCfg)
	for i := range 100 {
		if _, ok := mustLookup(t, cp, fmt.Sprintf("k%03d", i)); !ok {
			t.Fatalf("k%03d missing from the checkpoint", i)
		}
	}
	if _, ok := mustLookup(t, cp, "after"); ok {
		t.Fatal("a write after the checkpoint is in it")
	}
	e.Close()
	if err := e.Checkpoint(filepath.Join(t.TempDir(), "cp2")); !errors.Is(err, ErrClosed) {
		t.Fatalf("checkpoint after Close: %v, want ErrClosed", err)
	}
}
