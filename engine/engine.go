package engine

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
)

// Engine is the single-node record store. All methods are safe for
// concurrent use.
type Engine struct {
	cfg       Config
	db        *pebble.DB
	fs        *walGuardFS
	writeOpts *pebble.WriteOptions

	// stripes serialize read-compare-write per key; see stripes.go.
	stripes stripes
	// cache holds recent records; nil when off. Filled and changed only
	// under the key's stripe (see rowcache.go).
	cache *rowCache
	// presence answers for keys certainly not stored (presence.go); nil
	// when Config.NoPresenceFilter.
	presence *presence
	// clock tells EvictSampled which sampled records changed since
	// (writeclock.go).
	clock *writeClock

	// live counts stored non-tombstone records, expired-but-unreclaimed
	// ones included. Invariant: changed only while holding the stripe of
	// the key whose state changed, in the same step that commits the change.
	live atomic.Int64
	// used is UsedBytes, under the same invariant as live.
	used atomic.Int64
	// classes keeps the per-class figures (nil: classes off).
	classes *classStats
	// digest is the per-bucket XOR of the stored records' ElementHash
	// (digest.go); nil with Config.NoDigest. Invariant: a bucket changes
	// only under its stripe, after the change it reflects has committed.
	digest *digests
	// hints counts the pending hints per target (hintqueue.go), under the
	// same rule as the digest.
	hints hintBook

	// closeMu: every operation holds it shared while it uses db; Close
	// holds it exclusively while it closes db.
	closeMu sync.RWMutex
	closed  bool // guarded by closeMu

	closing atomic.Bool
	stop    chan struct{}  // closed by Close to stop the background goroutines
	bg      sync.WaitGroup // the reclaimer and the WAL syncer

	// floor is the flush floor (floor.go), nil for none; set under every
	// stripe.
	floor atomic.Pointer[Version]
	// floorDrop serializes RaiseFloor's drops; pending is the floor whose
	// drop has not finished (zero: none).
	floorDrop struct {
		sync.Mutex
		pending Version
	}

	// failure is the first fatal write error; once set, writes are refused.
	failure atomic.Pointer[error]
	// wedged: a failed commit panicked inside Pebble's commit pipeline
	// while holding its mutex; Pebble's Close would block forever.
	wedged atomic.Bool

	// dirty is set by every commit not yet fsynced and cleared by the WAL syncer.
	dirty atomic.Bool

	counters counters
	scratch  sync.Pool // *batchScratch
}

// Open opens (creating if needed) the store in cfg.Dir, moves a store of
// an older key layout to the current one (migrate.go), counts its live
// records, rebuilds the digest and the hint totals, and starts the
// background reclaimer and, for FsyncEverySec, the WAL syncer.
func Open(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	e := &Engine{cfg: cfg, stop: make(chan struct{}), cache: newRowCache(cfg.RowCacheBytes), classes: newClassStats(cfg)}
	if !cfg.NoDigest {
		e.digest = new(digests)
	}
	if !cfg.NoPresenceFilter {
		e.presence = newPresence()
	}
	e.clock = newWriteClock()
	// Every mode commits with Sync, so a write reaches the OS before it is
	// acknowledged; everysec and no defer the fsync itself (walguard.go).
	e.writeOpts = pebble.Sync
	e.fs = &walGuardFS{FS: cfg.FS, onErr: func(err error) { e.fail(err, false) }, deferSync: cfg.Fsync != FsyncAlways}

	cache := pebble.NewCache(cfg.CacheBytes)
	defer cache.Unref() // the DB holds its own reference
	db, err := e.openPebble(pebbleOptions(cfg, e.fs, cache))
	if err != nil {
		return nil, err
	}
	e.db = db
	for _, step := range []func() error{e.checkLayout, e.loadFloor, e.countLive, e.loadHints, e.finishFloorDrop} {
		if err := step(); err != nil {
			return nil, errors.Join(err, e.closeFailedOpen())
		}
	}

	e.bg.Add(1)
	go e.reclaimLoop()
	if e.presence != nil {
		e.bg.Add(1)
		go e.presenceLoop()
		e.presence.request()
	}
	if cfg.Fsync == FsyncEverySec {
		e.bg.Add(1)
		go e.syncLoop()
	}
	return e, nil
}

// closeFailedOpen closes Pebble after Open failed. As in Close, a Pebble
// whose write failed (a migration write, say) is left open, since closing
// it could panic or block; the process should exit.
func (e *Engine) closeFailedOpen() error { return e.guard(e.db.Close) }

// openPebble opens Pebble, turning a Fatalf during recovery into an error.
func (e *Engine) openPebble(opts *pebble.Options) (db *pebble.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("engine: open %s: %v", e.cfg.Dir, r)
		}
	}()
	db, err = pebble.Open(e.cfg.Dir, opts)
	if err != nil {
		return nil, fmt.Errorf("engine: open %s: %w", e.cfg.Dir, err)
	}
	return db, nil
}

// checkLayout records the key layout version in a new store, migrates a
// layout-1 store (migrate.go), and refuses a store written with any other
// layout.
func (e *Engine) checkLayout() error {
	v, closer, err := e.db.Get(metaLayoutKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return e.setLayout([]byte{layoutVersion})
	case err != nil:
		return fmt.Errorf("engine: read layout: %w", err)
	}
	v = bytes.Clone(v)
	_ = closer.Close()
	switch {
	case bytes.Equal(v, []byte{layoutVersion}):
		return nil
	case bytes.Equal(v, []byte{1}), bytes.Equal(v, layoutMigrating):
		return e.migrateLayout1(v)
	}
	return fmt.Errorf("%w: store layout %v, this build reads %d", ErrCorrupt, v, layoutVersion)
}

// Close stops the background goroutines, syncs the WAL and closes Pebble.
// It is idempotent: later calls return nil. If a write failure wedged
// Pebble's commit pipeline, Pebble cannot be closed; Close then returns the
// write error and the process should exit and reopen the store.
func (e *Engine) Close() error {
	if !e.closing.CompareAndSwap(false, true) {
		return nil
	}
	close(e.stop)
	e.bg.Wait()

	e.closeMu.Lock()
	defer e.closeMu.Unlock()
	e.closed = true
	if e.wedged.Load() {
		return fmt.Errorf("engine: close: pebble left open after a wedged commit: %w", *e.failure.Load())
	}
	var syncErr error
	if e.failure.Load() == nil {
		syncErr = e.syncWAL()
	}
	closeErr := e.guard(e.db.Close)
	return errors.Join(syncErr, closeErr)
}

// enter admits an operation; it must be paired with leave.
func (e *Engine) enter() error {
	e.closeMu.RLock()
	if e.closed {
		e.closeMu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (e *Engine) leave() { e.closeMu.RUnlock() }

// commit applies b with the mode's write options; see guard.
func (e *Engine) commit(b *pebble.Batch, opts *pebble.WriteOptions) error {
	if err := e.guard(func() error { return e.db.Apply(b, opts) }); err != nil {
		return err
	}
	if opts == pebble.NoSync || e.fs.deferSync {
		e.dirty.Store(true)
	}
	e.counters.commits.Add(1)
	return b.Close()
}

// guard runs a Pebble write. It refuses to run once a write has failed,
// and turns Pebble's panics and fatal errors into an error wrapping
// ErrWrite that also marks the engine failed.
func (e *Engine) guard(write func() error) (err error) {
	if f := e.failure.Load(); f != nil {
		return *f
	}
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		_, viaFatalf := r.(pebbleFatal)
		cause, ok := r.(error)
		if !ok {
			cause = fmt.Errorf("%v", r)
		}
		// A Fatalf is raised after the commit pipeline released its locks;
		// any other panic came from inside it, with its mutex held.
		err = e.fail(cause, !viaFatalf)
	}()
	if err := write(); err != nil {
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	return nil
}

// fail records a fatal write error and returns it wrapped in ErrWrite.
func (e *Engine) fail(cause error, wedged bool) error {
	err := fmt.Errorf("%w: %w", ErrWrite, cause)
	if wedged {
		e.wedged.Store(true)
	}
	if e.failure.CompareAndSwap(nil, &err) {
		e.cfg.Logger.Error("engine: storage write failed; refusing writes until reopened", "err", cause, "wedged", wedged)
	}
	return err
}

// Err returns the write failure that made the engine refuse writes, or nil.
func (e *Engine) Err() error {
	if f := e.failure.Load(); f != nil {
		return *f
	}
	return nil
}

// Checkpoint writes a consistent copy of the store to dir, which must not
// exist: every write the engine acknowledged before the call, with the
// write-ahead log flushed into it. Opened with Open (Config.Dir = dir), the
// copy is the store as of the call; it shares unchanged table files with
// the live store through hard links where the file system allows.
func (e *Engine) Checkpoint(dir string) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	if err := e.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return fmt.Errorf("engine: checkpoint to %s: %w", dir, err)
	}
	return nil
}
