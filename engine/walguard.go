package engine

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/vfs"
)

// walGuardFS wraps the configured filesystem to watch the WAL files.
//
// Pebble writes the WAL from a background goroutine; a failed write there
// is only noticed by a later commit, and in Pebble v1.1.5 that commit
// panics while holding the commit pipeline's mutex (record.LogWriter's
// sticky error reaches DB.commitWrite's panic), which wedges every later
// commit and Close. Seeing the failure at the filesystem lets the engine
// stop accepting writes before any commit runs into it. It also counts
// real WAL fsyncs for Stats.
//
// With deferSync (FsyncEverySec and FsyncNo) it also splits Pebble's WAL
// sync in two. The engine commits every write with pebble.Sync, so that
// Pebble's log writer hands the write to the OS (write(2)) before the
// commit returns; the WAL file's Sync is then a no-op that only marks the
// file dirty, and the real fsync happens when syncDirty runs (every second
// for FsyncEverySec) or when the file is closed. So an acknowledged write
// survives a SIGKILL in every mode, and only a power loss can take the
// writes since the last fsync.
type walGuardFS struct {
	vfs.FS
	// onErr is called with the first and every later WAL write or sync error.
	onErr func(error)
	syncs atomic.Uint64
	// deferSync: WAL Sync calls only mark the file dirty (see above).
	deferSync bool

	mu sync.Mutex
	// open holds the WAL files Pebble has open; guarded by mu.
	open map[*walFile]struct{}
}

// track registers a new WAL file.
func (fs *walGuardFS) track(f vfs.File) vfs.File {
	w := &walFile{File: f, fs: fs}
	fs.mu.Lock()
	if fs.open == nil {
		fs.open = make(map[*walFile]struct{})
	}
	fs.open[w] = struct{}{}
	fs.mu.Unlock()
	return w
}

// syncDirty fsyncs every open WAL file written since its last fsync.
func (fs *walGuardFS) syncDirty() error {
	fs.mu.Lock()
	files := make([]*walFile, 0, len(fs.open))
	for f := range fs.open {
		files = append(files, f)
	}
	fs.mu.Unlock()
	var first error
	for _, f := range files {
		if err := f.realSync(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func isWAL(name string) bool { return strings.HasSuffix(name, ".log") }

func (fs *walGuardFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	if err != nil || !isWAL(name) {
		return f, err
	}
	return fs.track(f), nil
}

func (fs *walGuardFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname)
	if err != nil || !isWAL(newname) {
		return f, err
	}
	return fs.track(f), nil
}

type walFile struct {
	vfs.File
	fs *walGuardFS
	// dirty: written since the last real fsync (deferSync only).
	dirty atomic.Bool
	// syncMu serializes real fsyncs of this file with its Close.
	syncMu sync.Mutex
	closed bool // guarded by syncMu
}

// realSync fsyncs the file if it was written since the last fsync.
func (f *walFile) realSync() error {
	f.syncMu.Lock()
	defer f.syncMu.Unlock()
	if f.closed || !f.dirty.Swap(false) {
		return nil
	}
	f.fs.syncs.Add(1)
	return f.check(f.File.Sync())
}

// Close makes a deferred file durable before it is closed (Pebble closes a
// WAL when it rotates to a new memtable, and at Close).
func (f *walFile) Close() error {
	err := f.realSync()
	f.syncMu.Lock()
	f.closed = true
	f.syncMu.Unlock()
	f.fs.mu.Lock()
	delete(f.fs.open, f)
	f.fs.mu.Unlock()
	return errors.Join(err, f.File.Close())
}

func (f *walFile) check(err error) error {
	if err != nil {
		f.fs.onErr(err)
	}
	return err
}

func (f *walFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	return n, f.check(err)
}

func (f *walFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	return n, f.check(err)
}

func (f *walFile) Sync() error {
	if f.fs.deferSync {
		f.dirty.Store(true)
		return nil
	}
	f.fs.syncs.Add(1)
	return f.check(f.File.Sync())
}

func (f *walFile) SyncData() error {
	if f.fs.deferSync {
		f.dirty.Store(true)
		return nil
	}
	f.fs.syncs.Add(1)
	return f.check(f.File.SyncData())
}
