package engine

import (
	"time"

	"github.com/cockroachdb/pebble"
)

// syncInterval is the FsyncEverySec period.
const syncInterval = time.Second

// syncLoop makes FsyncEverySec true: once a second, if anything was
// committed without a sync since the last round, it syncs the WAL. Owned by
// the Engine; stopped by Close.
func (e *Engine) syncLoop() {
	defer e.bg.Done()
	t := time.NewTicker(syncInterval)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
		if !e.dirty.Swap(false) {
			continue
		}
		if err := e.Sync(); err != nil {
			// The failure is sticky and was logged by fail; writes now
			// return it, so there is nothing more to do here.
			return
		}
	}
}

// Sync forces every write committed so far to stable storage, whatever
// the fsync mode.
func (e *Engine) Sync() error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	return e.syncWAL()
}

// syncWAL writes an empty WAL record with Sync. Pebble's LogWriter syncs
// everything queued before it, and concurrent Sync commits share the fsync.
func (e *Engine) syncWAL() error {
	err := e.guard(func() error { return e.db.LogData(nil, pebble.Sync) })
	if err == nil && e.fs.deferSync {
		err = e.fs.syncDirty()
	}
	if err == nil {
		e.counters.explicitSyncs.Add(1)
	}
	return err
}
