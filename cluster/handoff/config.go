package handoff

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
)

// Errors. Hold's refusals wrap ErrRefused.
var (
	// ErrRefused is wrapped by every refusal to store a hint.
	ErrRefused = errors.New("handoff: hint refused")
	// ErrWindow: the target has been down longer than MaxWindow.
	ErrWindow = fmt.Errorf("%w: target down longer than the hint window", ErrRefused)
	// ErrFull: the target's queue reached MaxBytes.
	ErrFull = fmt.Errorf("%w: hint queue full", ErrRefused)
	// ErrTooLarge: a record's key and value exceed MaxRecordBytes, so no
	// replica frame could carry the hint to its target.
	ErrTooLarge = fmt.Errorf("%w: record too large for a replica frame", ErrRefused)
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("handoff: closed")
	// ErrInvalidConfig wraps every Config.Validate failure.
	ErrInvalidConfig = errors.New("handoff: invalid config")
)

// Store is the persistent hint queue and metadata; *engine.Engine
// implements it.
type Store interface {
	PutHintsNewer(target string, keys [][]byte, recs []engine.Record, createdMs int64, newer []engine.Version) (int, error)
	LookupHints(target string, keys [][]byte, dst []engine.Record, found []bool) error
	ScanHints(target string, after []byte, fn func(key []byte, r engine.Record, createdMs int64) bool) error
	DeleteHints(target string, keys [][]byte, versions []engine.Version) (int, error)
	DropHints(target string) (int64, error)
	HintQueues() []engine.HintQueue
	HintQueue(target string) engine.HintQueue
	PutMeta(name string, val []byte) error
	DeleteMeta(name string) error
	ScanMeta(prefix string, fn func(name string, val []byte) bool) error
}

// Status is what the cluster says about a hint target.
type Status int

const (
	// Down: a member, not reachable now. Its hints wait.
	Down Status = iota
	// Alive: a healthy member. Its hints are delivered.
	Alive
	// Gone: no longer a member (it left). Its hints go to the keys'
	// current owners.
	Gone
)

func (s Status) String() string {
	switch s {
	case Alive:
		return "alive"
	case Gone:
		return "gone"
	}
	return "down"
}

// Cluster is how the Manager sees and reaches other nodes.
type Cluster interface {
	// Status reports target's state now.
	Status(target string) Status
	// Deliver applies records on target with last-write-wins; nil means
	// target acknowledged every one.
	Deliver(ctx context.Context, target string, keys [][]byte, recs []engine.Record) error
	// Handover stores records on the keys' current owners (for a target
	// that is Gone); nil means the write quorum acknowledged every one.
	Handover(ctx context.Context, keys [][]byte, recs []engine.Record) error
}

// Config configures a Manager. Start from DefaultConfig.
type Config struct {
	// Store keeps the hints. Required.
	Store Store
	// Cluster reports targets' state and delivers. Required.
	Cluster Cluster
	// ReplayRate bounds replay to one target, in bytes per second of
	// hint data. Default 16 MiB/s (about 100,000 small keys per second).
	ReplayRate int64
	// MaxWindow: no new hints for a target down longer than this.
	// Default 3h.
	MaxWindow time.Duration
	// MaxBytes caps one target's queue, in bytes. Default 1 GiB.
	MaxBytes int64
	// RetryInterval is the period of the replay loop's retry of every
	// queue. A node back from a short outage may not have been declared
	// dead by gossip, so no alive event announces it: this retry finds it.
	// Default 1s (a pass over a queue whose target is down costs a lookup).
	RetryInterval time.Duration
	// BatchKeys and BatchBytes bound one delivery batch: at most
	// BatchKeys hints, and at most BatchBytes of keys and encoded records
	// unless a single hint is larger (it then goes alone). Defaults 2048
	// keys and 1 MiB.
	BatchKeys  int
	BatchBytes int
	// MaxRecordBytes is the largest key plus value a hint may carry, in
	// bytes: what one replica frame holds (transport.MaxRecordBytes). A
	// larger hint could never be delivered, so Hold refuses it and replay
	// drops one found in a queue (counted in TooLarge and Dropped, with a
	// log line) instead of retrying it ahead of the hints behind it. 0: no
	// limit. Default: the limit of the transport's default 64 MiB frames;
	// a node sets its own frame's.
	MaxRecordBytes int
	// Timeout bounds one delivery batch. Default 5s.
	Timeout time.Duration
	// MaxAge drops, instead of replaying, a hint whose record was written
	// longer ago than this. Set it to the engine's tombstone grace: a
	// delete newer than such a record may have been purged on the target
	// already, and replaying the record would bring the key back (the
	// keys' other owners still hold what it carried, for anti-entropy).
	// 0: no limit. Default 0.
	MaxAge time.Duration
	// Logger receives replay start and end lines and refusals. Default
	// (nil): discard.
	Logger *slog.Logger
	// Now is the clock for hint ages and the window. Default time.Now.
	Now func() time.Time
	// NewTicker starts the replay loop's retry ticker with period d
	// (RetryInterval) and returns its channel and its stop. Default (nil):
	// a time.Ticker. Tests pass a ticker they drive, and make the loop
	// retry a given number of times instead of sleeping for it.
	NewTicker func(d time.Duration) (ticks <-chan time.Time, stop func())
}

// startTicker starts the retry ticker NewTicker describes.
func (c *Config) startTicker() (<-chan time.Time, func()) {
	if c.NewTicker != nil {
		return c.NewTicker(c.RetryInterval)
	}
	t := time.NewTicker(c.RetryInterval)
	return t.C, t.Stop
}

// DefaultConfig returns the defaults of every field that has one.
func DefaultConfig() Config {
	return Config{
		ReplayRate:     16 << 20,
		MaxWindow:      3 * time.Hour,
		MaxBytes:       1 << 30,
		RetryInterval:  time.Second,
		BatchKeys:      2048,
		BatchBytes:     1 << 20,
		MaxRecordBytes: transport.MaxRecordBytes(transport.DefaultConfig().MaxFrameBytes),
		Timeout:        5 * time.Second,
	}
}

// Validate reports the first invalid field; the error wraps
// ErrInvalidConfig.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.Store == nil:
		return bad("Store is nil")
	case c.Cluster == nil:
		return bad("Cluster is nil")
	case c.ReplayRate < 1:
		return bad("ReplayRate %d must be positive", c.ReplayRate)
	case c.MaxWindow <= 0:
		return bad("MaxWindow %v must be positive", c.MaxWindow)
	case c.MaxBytes < 1:
		return bad("MaxBytes %d must be positive", c.MaxBytes)
	case c.RetryInterval <= 0:
		return bad("RetryInterval %v must be positive", c.RetryInterval)
	case c.BatchKeys < 1 || c.BatchBytes < 1:
		return bad("BatchKeys %d and BatchBytes %d must be positive", c.BatchKeys, c.BatchBytes)
	case c.Timeout <= 0:
		return bad("Timeout %v must be positive", c.Timeout)
	case c.MaxAge < 0:
		return bad("MaxAge %v is negative", c.MaxAge)
	case c.MaxRecordBytes < 0:
		return bad("MaxRecordBytes %d is negative", c.MaxRecordBytes)
	}
	return nil
}
