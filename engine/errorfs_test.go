package engine

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/cockroachdb/pebble/vfs/errorfs"
)

// diskFull fails every write-kind filesystem operation with ENOSPC while on.
type diskFull struct{ on atomic.Bool }

func (d *diskFull) MaybeError(op errorfs.Op, path string) error {
	if d.on.Load() && op.OpKind() == errorfs.OpKindWrite && op != errorfs.OpFileClose {
		return fmt.Errorf("%s: %w", path, syscall.ENOSPC)
	}
	return nil
}

// TestWriteFailure fills the disk after some records were acknowledged
// (and, outside FsyncAlways, synced): writes must fail with ErrWrite, the
// process must survive, reads keep working, and after a restart without
// the fault every acknowledged record is intact.
func TestWriteFailure(t *testing.T) {
	for _, mode := range []FsyncMode{FsyncAlways, FsyncEverySec, FsyncNo} {
		t.Run(mode.String(), func(t *testing.T) {
			inner := vfs.NewMem()
			fault := &diskFull{}
			cfg := memConfig(errorfs.Wrap(inner, fault))
			cfg.Fsync = mode
			e, err := Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := writeSome(t, e, 100)
			if mode != FsyncAlways {
				if err := e.Sync(); err != nil {
					t.Fatal(err)
				}
			}

			fault.on.Store(true)
			werr := writeUntilError(t, e)
			if !errors.Is(werr, ErrWrite) || !errors.Is(werr, syscall.ENOSPC) {
				t.Fatalf("write error = %v, want ErrWrite wrapping ENOSPC", werr)
			}
			if _, err := e.Apply([]byte("after"), val(ver(time.Now().UnixMilli(), 0, 0), "x")); !errors.Is(err, ErrWrite) {
				t.Fatalf("write after failure = %v, want ErrWrite", err)
			}
			if !e.Stats().Failed || e.Err() == nil {
				t.Fatal("engine does not report the failure")
			}
			if r, ok := mustLookup(t, e, "key-0000"); !ok || string(r.Value) != "value-0" {
				t.Fatalf("read after failure = %+v %v", r, ok)
			}
			// Reads keep working even if the failure wedged Pebble.
			if c, err := e.Count(0); err != nil || c < 99 {
				t.Fatalf("Count after failure = %d, %v", c, err)
			}
			if err := e.Scan(0, 0, func([]byte, Record) error { return nil }); err != nil {
				t.Fatalf("Scan after failure: %v", err)
			}
			_ = e.Close() // may report the failure; must not hang or crash

			// Restart: a fresh process sees the files as written.
			restarted := vfs.NewMem()
			if _, err := vfs.Clone(inner, restarted, "db", "db"); err != nil {
				t.Fatal(err)
			}
			cfg.FS = restarted
			e2 := mustOpen(t, cfg)
			got := dump(t, e2)
			for k, w := range want {
				if g, ok := got[k]; !ok || !recordsEqual(g, w) {
					t.Fatalf("acknowledged %s lost: %+v (found %v)", k, g, ok)
				}
			}
			if !mustApply(t, e2, "new", val(ver(time.Now().UnixMilli(), 0, 0), "ok")) {
				t.Fatal("write after restart not applied")
			}
		})
	}
}

// writeUntilError applies fresh 1 KiB records until one fails; in the
// unsynced modes the failure shows when Pebble writes the WAL block.
func writeUntilError(t *testing.T, e *Engine) error {
	t.Helper()
	big := make([]byte, 1024)
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		_, err := e.Apply([]byte(fmt.Sprintf("fill-%d", i)), Record{Version: ver(time.Now().UnixMilli(), 0, 0), Value: big})
		if err != nil {
			return err
		}
	}
	t.Fatal("no write failed while the disk was full")
	return nil
}
