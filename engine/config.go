package engine

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/vfs"
)

// FsyncMode says when committed writes are forced to stable storage. See
// doc.go for exactly what each mode can lose.
type FsyncMode int

const (
	// FsyncAlways syncs the WAL before a write is acknowledged. Concurrent
	// writers share one fsync (Pebble's group commit).
	FsyncAlways FsyncMode = iota
	// FsyncEverySec acknowledges before syncing and syncs the WAL in the
	// background at least once a second while there are writes.
	FsyncEverySec
	// FsyncNo never syncs explicitly; Pebble syncs when it rotates the WAL
	// and on Close.
	FsyncNo
)

// ParseFsync parses "always", "everysec" or "no".
func ParseFsync(s string) (FsyncMode, error) {
	switch s {
	case "always":
		return FsyncAlways, nil
	case "everysec":
		return FsyncEverySec, nil
	case "no":
		return FsyncNo, nil
	}
	return 0, fmt.Errorf("%w: fsync mode %q (want always, everysec or no)", ErrInvalidConfig, s)
}

// String returns the name ParseFsync accepts.
func (m FsyncMode) String() string {
	switch m {
	case FsyncAlways:
		return "always"
	case FsyncEverySec:
		return "everysec"
	case FsyncNo:
		return "no"
	}
	return fmt.Sprintf("FsyncMode(%d)", int(m))
}

// Config configures an Engine. Start from DefaultConfig.
type Config struct {
	// Dir is the Pebble directory. Required.
	Dir string
	// FS is the filesystem. Default (nil): vfs.Default. Tests use vfs.NewMem().
	FS vfs.FS
	// Fsync is the durability mode. Default FsyncEverySec.
	Fsync FsyncMode
	// TombstoneGrace is how long a tombstone is kept (measured from its
	// Version.Wall) before it may be purged, so that replicas that missed
	// the delete learn it before it disappears. Default 1h.
	TombstoneGrace time.Duration
	// EvictionGrace is how long an eviction's tombstone is kept, from
	// the eviction (at most TombstoneGrace): evictions come at the write
	// rate of a full cache, so their tombstones go sooner than deletes'.
	// Anti-entropy must still have synced every replica since (the
	// PurgeAllowed hook). Default 10 minutes.
	EvictionGrace time.Duration
	// ReclaimInterval is the period of the background reclaimer that
	// expires records and purges tombstones. Default 100ms.
	ReclaimInterval time.Duration
	// CacheBytes is the Pebble block cache size in bytes. Default 128 MiB.
	CacheBytes int64
	// MemTableBytes is the Pebble memtable size in bytes. Default 8 MiB:
	// inserts into a smaller skiplist miss the CPU cache less (with three
	// nodes on one machine a replica's CPU per SET fell by about a tenth
	// from 32 MiB), while a larger one collapses more overwrites before
	// they reach compaction (4 MiB doubled the compaction work).
	MemTableBytes int64
	// RowCacheBytes bounds the in-memory record cache in front of Pebble
	// (see rowcache.go), in bytes: its entries and its index together,
	// to within a few percent. Records bigger than one of its chunks (64
	// KiB, less in a cache under 48 MiB) are not cached. Default 256 MiB;
	// 0 turns it off.
	RowCacheBytes int64
	// Logger receives engine and Pebble messages. Default (nil): discard.
	Logger *slog.Logger
	// Now is the clock for expiry and purge decisions. Default (nil): time.Now.
	Now func() time.Time
	// NewTicker starts the reclaimer's ticker with period d
	// (ReclaimInterval) and returns its channel and its stop. Default
	// (nil): a time.Ticker. Tests pass a ticker they drive, and make the
	// reclaimer run a given number of passes instead of waiting for them.
	NewTicker func(d time.Duration) (ticks <-chan time.Time, stop func())
	// PurgeAllowed is asked before a tombstone past its grace period is
	// deleted, with the time this engine stored it over a record of the
	// key (Unix milliseconds; 0 when it held nothing for the key). One an
	// earlier build stored, which did not note it, counts as stored when
	// the reclaimer first finds it due. Returning false keeps it and asks
	// again later. A tombstone may arrive long after it was written
	// (repair, hints), so a rule about what the other replicas hold must
	// count from storedAt when it is set, not from the tombstone's
	// version alone. It must not call back into the engine. Default
	// (nil): always allowed.
	PurgeAllowed func(key []byte, r Record, storedAt int64) bool
	// Classify and Classes sort keys into classes with figures of their
	// own (classes.go; the server's databases): Classify returns a key's
	// class in [0, Classes), or -1 for none. It must be cheap and must
	// not call back into the engine. Default (nil, 0): no classes.
	Classify func(key []byte) int
	Classes  int
	// OnRead, when set, is called with the user key of every record a
	// Lookup or LookupBatch finds (not a tombstone): the access signal of
	// eviction (engine/evict). Misses are left out: they would mark the
	// slots of a sketch as used for keys that are not there. It must be cheap, must not keep key and
	// must not call back into the engine. Default (nil): none.
	OnRead func(key []byte)
	// NoDigest turns off the anti-entropy digest (digest.go): writes skip
	// its two hashes per record and AppendDigests returns zeros. It exists
	// to measure the digest's cost. Default false (maintained).
	NoDigest bool
	// NoPresenceFilter turns off the presence filter (presence.go): every
	// write of a new key and every read of an absent one asks Pebble. It
	// exists to measure the filter and to check the engine against itself
	// without it. Default false (on).
	NoPresenceFilter bool
}

// DefaultConfig returns a Config with every default filled in except Dir.
func DefaultConfig() Config {
	return Config{
		Fsync:           FsyncEverySec,
		TombstoneGrace:  time.Hour,
		EvictionGrace:   10 * time.Minute,
		ReclaimInterval: 100 * time.Millisecond,
		CacheBytes:      128 << 20,
		MemTableBytes:   8 << 20,
		RowCacheBytes:   256 << 20,
	}
}

// Validate reports the first invalid field; the error wraps ErrInvalidConfig.
func (c Config) Validate() error {
	switch {
	case c.Dir == "":
		return fmt.Errorf("%w: Dir is empty", ErrInvalidConfig)
	case c.Fsync < FsyncAlways || c.Fsync > FsyncNo:
		return fmt.Errorf("%w: Fsync %v", ErrInvalidConfig, c.Fsync)
	case c.TombstoneGrace <= 0:
		return fmt.Errorf("%w: TombstoneGrace %v must be positive", ErrInvalidConfig, c.TombstoneGrace)
	case c.ReclaimInterval <= 0:
		return fmt.Errorf("%w: ReclaimInterval %v must be positive", ErrInvalidConfig, c.ReclaimInterval)
	case c.Classes < 0 || c.Classes > 1<<20:
		return fmt.Errorf("%w: Classes %d not in [0, 2^20]", ErrInvalidConfig, c.Classes)
	case c.RowCacheBytes < 0:
		return fmt.Errorf("%w: RowCacheBytes %d is negative", ErrInvalidConfig, c.RowCacheBytes)
	case c.CacheBytes < 0:
		return fmt.Errorf("%w: CacheBytes %d is negative", ErrInvalidConfig, c.CacheBytes)
	case c.MemTableBytes < 1<<20 || c.MemTableBytes >= 4<<30:
		// Pebble requires the memtable to be below 4 GiB; tiny memtables
		// only make it flush constantly.
		return fmt.Errorf("%w: MemTableBytes %d not in [1 MiB, 4 GiB)", ErrInvalidConfig, c.MemTableBytes)
	}
	return nil
}

// withDefaults fills the nil hooks.
func (c Config) withDefaults() Config {
	if c.FS == nil {
		c.FS = vfs.Default
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.PurgeAllowed == nil {
		c.PurgeAllowed = func([]byte, Record, int64) bool { return true }
	}
	if c.EvictionGrace <= 0 {
		c.EvictionGrace = DefaultConfig().EvictionGrace
	}
	return c
}
