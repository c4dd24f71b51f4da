package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Config configures a Server. Start from DefaultConfig and override fields;
// New calls Validate. MaxClients, RequirePass, ProtectedMode, MaxBulkLen,
// QueryBufferLimit and IdleTimeout are where their CONFIG SET parameters
// start: the server keeps their live values (see live.go).
type Config struct {
	// Addr is the TCP address ListenAndServe binds. Default "127.0.0.1:6379".
	Addr string

	// RequirePass is the password of the default user. Empty means no
	// password: every client is authenticated on connect (and ProtectedMode
	// then restricts clients to loopback). Default "".
	RequirePass string

	// MaxClients is the maximum number of simultaneously connected clients;
	// further clients get "-ERR max number of clients reached" and are
	// closed. Default 10000.
	MaxClients int

	// ProtectedMode refuses non-loopback clients while RequirePass is empty,
	// like Redis's protected-mode. Default true.
	ProtectedMode bool

	// MaxBulkLen is the largest accepted bulk string, in bytes
	// (proto-max-bulk-len). It also caps the size of a value built by
	// APPEND. Default 512 MiB.
	MaxBulkLen int64

	// MaxMultibulk is the largest accepted number of arguments in one
	// command. Default 1024*1024.
	MaxMultibulk int64

	// MaxInlineLen is the longest accepted inline (telnet-style) command
	// line and the longest multibulk or bulk header line, in bytes.
	// Default 64 KiB.
	MaxInlineLen int

	// QueryBufferLimit is the most bytes one incomplete command may make
	// the server buffer (client-query-buffer-limit). A client over the limit
	// is closed. Default 1 GiB.
	QueryBufferLimit int64

	// PreAuthMaxBytes is the largest bulk string, in bytes, accepted from a
	// client that still has to authenticate. Redis 7 uses 16384. Only
	// applies when RequirePass is set. Default 16384.
	PreAuthMaxBytes int64

	// PreAuthMaxMultibulk is the largest argument count accepted from a
	// client that still has to authenticate. Redis 7 uses 10. Only applies
	// when RequirePass is set. Default 10.
	PreAuthMaxMultibulk int64

	// IdleTimeout closes a client that sent nothing for this long
	// (Redis's timeout). Zero disables it. Default 0.
	IdleTimeout time.Duration

	// Logger receives connection and panic events. Nil discards them.
	Logger *slog.Logger

	// Metrics receives per-command and per-connection events. Nil disables
	// them.
	Metrics Metrics

	// Memory is the node's dataset budget and its eviction (maxmemory):
	// commands that may grow the dataset ask it first, and INFO, OBJECT
	// FREQ and OBJECT IDLETIME read it. Nil: no budget, as maxmemory 0.
	Memory Memory

	// Settings supplies extra CONFIG GET parameters owned by the binary
	// (for example "fsync", "data-dir"). Nil means none.
	Settings func() map[string]string

	// RuntimeSettings are those of the binary's settings CONFIG SET may
	// change, by the name Settings shows: each parses a value and returns
	// the change to apply once every pair of the command parsed, or why
	// the value is wrong. The others are refused as immutable.
	RuntimeSettings map[string]func(value string) (apply func(), err error)

	// Consistency turns RINGCACHE CONSISTENCY <read> <write> into a
	// context for the connection's later Store calls. read and write are
	// the canonical level names "ONE", "QUORUM" or "ALL"; ctx is the
	// server's base context, so the returned one must derive from it (it is
	// cancelled when Shutdown gives up). A returned error is the command's
	// error reply. Nil means the store has no consistency levels and the
	// command answers "needs cluster mode". Default nil.
	Consistency func(ctx context.Context, read, write string) (context.Context, error)

	// Checkpoint writes a consistent copy of the store where the binary
	// keeps its backups: SAVE, BGSAVE and SHUTDOWN SAVE call it. Nil: the
	// commands answer that saving is not available.
	Checkpoint func() error

	// Shutdown asks the binary to stop as on SIGTERM (SHUTDOWN). It must
	// not wait for the stop. Nil: SHUTDOWN is refused.
	Shutdown func()

	// Version is the ringcache version reported by INFO. Default "dev".
	Version string

	// Now is the clock used for expiry arithmetic and TIME. Nil means
	// time.Now. Tests inject a fake clock.
	Now func() time.Time

	// Arrivals, if set, tells when input read at some moment may really
	// have arrived (stall.Detector): after the process was stopped
	// (SIGSTOP, a frozen machine) a command read as it resumes may have
	// waited in the socket the whole time. Nil: no such check.
	Arrivals Arrivals

	// MaxWait refuses, with a TIMEOUT error and without running it, a
	// command that waited longer than this through a stall of the process
	// before it could run: its client has most likely given up on it and
	// written elsewhere, and running it now, stamped as a fresh write,
	// would overwrite what was acknowledged meanwhile. A cluster node sets
	// it to its request timeout. Zero (the default) or a nil Arrivals:
	// never refuse.
	MaxWait time.Duration

	// Databases is how many databases SELECT chooses from (Redis's
	// "databases"). Default 16.
	Databases int

	// StrictTransactions refuses, in a cluster, a transaction whose keys
	// have different primaries with Redis Cluster's CROSSSLOT error,
	// instead of running its commands one after another (multi.go).
	// Default false.
	StrictTransactions bool

	// ForwardTimeout is how long a node waits for a command it forwards
	// to its keys' primary; the primary does not run it, or stamp its
	// write, later than that. A cluster node sets it to its request
	// timeout. Default 1s.
	ForwardTimeout time.Duration

	// BusyThreshold is how long a script runs before other commands are
	// answered BUSY and SCRIPT KILL may stop it (Redis's
	// busy-reply-threshold, alias lua-time-limit). Default 5s; 0: never.
	BusyThreshold time.Duration
}

// Arrivals estimates when input arrived, from when it was read.
type Arrivals interface {
	// Arrival returns the earliest moment that input returned by a read
	// ending at read may have arrived, the previous read on the same
	// connection having ended at prev; read itself unless the process
	// stalled between the two.
	Arrival(prev, read time.Time) time.Time
	// ReadArrival is Arrival for a read that began waiting for input at
	// wait: a stall counts only if the read returned as the process ran
	// again (or as it began waiting, when that was later).
	ReadArrival(prev, wait, read time.Time) time.Time
}

// Redis's limits, mirrored so clients and tools see familiar behaviour.
const (
	defaultMaxBulkLen          = 512 << 20
	defaultMaxMultibulk        = 1024 * 1024
	defaultMaxInlineLen        = 64 << 10
	defaultQueryBufferLimit    = 1 << 30
	defaultPreAuthMaxBytes     = 16384
	defaultPreAuthMaxMultibulk = 10
)

// DefaultConfig returns the defaults documented on each Config field.
func DefaultConfig() Config {
	return Config{
		Addr:                "127.0.0.1:6379",
		MaxClients:          10000,
		ProtectedMode:       true,
		MaxBulkLen:          defaultMaxBulkLen,
		MaxMultibulk:        defaultMaxMultibulk,
		MaxInlineLen:        defaultMaxInlineLen,
		QueryBufferLimit:    defaultQueryBufferLimit,
		PreAuthMaxBytes:     defaultPreAuthMaxBytes,
		PreAuthMaxMultibulk: defaultPreAuthMaxMultibulk,
		Databases:           16,
		BusyThreshold:       5 * time.Second,
		ForwardTimeout:      time.Second,
		Version:             "dev",
	}
}

// Validate reports the first invalid field, wrapped in ErrInvalidConfig.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.MaxClients <= 0:
		return bad("MaxClients must be positive, got %d", c.MaxClients)
	case c.MaxBulkLen <= 0:
		return bad("MaxBulkLen must be positive, got %d", c.MaxBulkLen)
	case c.MaxMultibulk <= 0:
		return bad("MaxMultibulk must be positive, got %d", c.MaxMultibulk)
	case c.MaxInlineLen < 64:
		return bad("MaxInlineLen must be at least 64, got %d", c.MaxInlineLen)
	case c.QueryBufferLimit <= 0:
		return bad("QueryBufferLimit must be positive, got %d", c.QueryBufferLimit)
	case c.PreAuthMaxBytes <= 0 || c.PreAuthMaxBytes > c.MaxBulkLen:
		return bad("PreAuthMaxBytes must be in (0, MaxBulkLen], got %d", c.PreAuthMaxBytes)
	case c.PreAuthMaxMultibulk < 3 || c.PreAuthMaxMultibulk > c.MaxMultibulk:
		// HELLO 2 AUTH user pass needs 5; AUTH user pass needs 3.
		return bad("PreAuthMaxMultibulk must be in [3, MaxMultibulk], got %d", c.PreAuthMaxMultibulk)
	case c.IdleTimeout < 0:
		return bad("IdleTimeout must not be negative, got %s", c.IdleTimeout)
	case c.MaxWait < 0:
		return bad("MaxWait must not be negative, got %s", c.MaxWait)
	case c.Databases < 1 || c.Databases > maxDatabases:
		return bad("Databases must be in [1, %d], got %d", maxDatabases, c.Databases)
	case c.ForwardTimeout <= 0:
		return bad("ForwardTimeout must be positive, got %s", c.ForwardTimeout)
	case c.BusyThreshold < 0:
		return bad("BusyThreshold must not be negative, got %s", c.BusyThreshold)
	}
	return nil
}

// Memory is the node's dataset budget (Config.Memory).
type Memory interface {
	// Admit reports whether a command that may grow the dataset may run
	// now; it may hold the caller while eviction catches up.
	Admit() bool
	// Usage returns the dataset's size against the budget; it costs a
	// few atomic loads. DiskBytes returns the space the store's files
	// take, which asks the storage engine for its metrics (INFO only).
	Usage() MemoryUsage
	DiskBytes() uint64
	// Peek returns what the node knows of the reads of a stored key,
	// without counting an access: OBJECT looks before it reads the key.
	Peek(key []byte) KeyAccess
	// Freq returns the access frequency of the key that Peek saw, written
	// at writtenMs (OBJECT FREQ); ok is false unless an LFU policy is in
	// force. Idle returns its idle time in milliseconds (OBJECT
	// IDLETIME); ok is false while an LFU policy is in force. Both undo
	// the access of OBJECT's own read of the key.
	Freq(key []byte, a KeyAccess, writtenMs int64) (freq int, ok bool)
	Idle(key []byte, a KeyAccess, writtenMs int64) (ms int64, ok bool)
}

// KeyAccess is a key's reads as Memory.Peek saw them: Memory's own state,
// which the server passes back without reading it.
type KeyAccess struct {
	LastReadMs, AtMs int64
	Counter          uint8
	State            [2]uint64
}

// MemoryUsage is the dataset's size against its budget.
type MemoryUsage struct {
	// Used is the dataset's size and Max the budget (0: none), in bytes.
	Used, Max int64
	// Policy is the maxmemory-policy's name.
	Policy string
	// Evicted is the keys this node evicted.
	Evicted int64
}
