package engine

import (
	"strings"
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
type walGuardFS struct {
	vfs.FS
	// onErr is called with the first and every later WAL write or sync error.
	onErr func(error)
	syncs atomic.Uint64
}

func isWAL(name string) bool { return strings.HasSuffix(name, ".log") }

func (fs *walGuardFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	if err != nil || !isWAL(name) {
		return f, err
	}
	return &walFile{File: f, fs: fs}, nil
}

func (fs *walGuardFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname)
	if err != nil || !isWAL(newname) {
		return f, err
	}
	return &walFile{File: f, fs: fs}, nil
}

type walFile struct {
	vfs.File
	fs *walGuardFS
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
	f.fs.syncs.Add(1)
	return f.check(f.File.Sync())
}

func (f *walFile) SyncData() error {
	f.fs.syncs.Add(1)
	return f.check(f.File.SyncData())
}
