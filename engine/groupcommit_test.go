package engine

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
)

// TestGroupCommit runs concurrent FsyncAlways writers on a disk whose WAL
// fsync is slow. Every write must succeed and be durable, and Pebble's
// commit pipeline must share fsyncs among writers: fewer WAL syncs than
// writes. (Each writer waits for its own sync, so without sharing there
// would be at least one sync per write.)
func TestGroupCommit(t *testing.T) {
	fs := newStrictMem(t)
	cfg := memConfig(slowSyncFS{fs})
	cfg.Fsync = FsyncAlways
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 16, 25
	base := e.Stats().WALSyncs
	now := time.Now().UnixMilli()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				k := []byte(fmt.Sprintf("w%d-%d", w, i))
				if _, err := e.Apply(k, val(ver(now, 0, 0), "v")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	syncs := e.Stats().WALSyncs - base
	if syncs == 0 || syncs >= writers*each {
		t.Fatalf("%d WAL syncs for %d concurrent synced writes; want 0 < syncs < writes", syncs, writers*each)
	}
	t.Logf("%d writes, %d WAL syncs", writers*each, syncs)

	// Everything acknowledged survives losing all unsynced state.
	fs.SetIgnoreSyncs(true)
	_ = e.Close()
	fs.ResetToSyncedState()
	fs.SetIgnoreSyncs(false)
	cfg.FS = fs
	e2 := mustOpen(t, cfg)
	if got := dump(t, e2); len(got) != writers*each {
		t.Fatalf("%d records after power loss, want %d", len(got), writers*each)
	}
}

// slowSyncFS makes WAL fsyncs take a millisecond, like a real disk, so
// that concurrent committers overlap with a sync in progress.
type slowSyncFS struct{ vfs.FS }

type slowSyncFile struct{ vfs.File }

func (fs slowSyncFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return slowSyncFile{f}, nil
}

func (f slowSyncFile) Sync() error {
	time.Sleep(time.Millisecond) // simulated device latency, not a wait
	return f.File.Sync()
}

func (f slowSyncFile) SyncData() error {
	time.Sleep(time.Millisecond) // simulated device latency, not a wait
	return f.File.SyncData()
}
