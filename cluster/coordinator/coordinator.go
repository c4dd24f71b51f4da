package coordinator

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringcache/ringcache/cluster/topology"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/engine/hlc"
)

// Config configures a Coordinator. Start from DefaultConfig.
type Config struct {
	// N is the replication factor: how many nodes hold each key.
	// Default 3.
	N int
	// R is how many replicas must answer a read. 1 ≤ R ≤ N. Default 2.
	R int
	// W is how many replicas must acknowledge a write. 1 ≤ W ≤ N.
	// Default 2.
	W int
	// Timeout bounds one request: replica calls, waiting for the quorum
	// and the synchronous read repair. Default 1s.
	Timeout time.Duration
	// FlushTimeout bounds FLUSHALL/FLUSHDB: how long Flush waits for
	// every member to drop its data, which waits for the writes in
	// flight there and a synced commit. Never shorter than Timeout.
	// Default 10s.
	FlushTimeout time.Duration
	// Self is this node's id. Required.
	Self string
	// Logger receives replica failures (debug) and repair problems.
	// Default (nil): discard.
	Logger *slog.Logger
	// Now is the clock for expiry decisions. Default (nil): time.Now.
	Now func() time.Time
	// Clock stamps write versions. Default (nil): hlc.New(Self, Now);
	// a node shares one clock between everything that stamps versions.
	Clock *hlc.Clock
	// Topology is where the node publishes its topology (the ring, the
	// replica of each member, who is healthy): each request loads it
	// once and works with that snapshot from planning to reply. Required;
	// until it holds a topology, requests fail with ErrNoPlacement.
	Topology *topology.Current
	// RepairWorkers bounds the background read-repair goroutines. When
	// all are busy, late repairs are skipped (and counted). Default 64.
	RepairWorkers int
	// Sloppy enables sloppy quorum (sloppy.go): a request uses the first
	// N healthy nodes of a key's preference list, stand-ins keeping the
	// copies of unhealthy owners as hints, unless the topology says the
	// node must use the owners alone right now (topology.Strict).
	// Default false: strict quorum over the owners.
	Sloppy bool
	// Fallbacks is how many nodes beyond a key's N owners may stand in for
	// unhealthy owners. Default 8.
	Fallbacks int
	// Hints, when set, keeps the records of owners whose write call failed
	// with no substitute, as hints on this node. Default nil: none kept.
	Hints HintHolder
	// ReadSpeculation is how long a read waits for the R replicas it asks
	// first (this node first when it holds the key, the others in turn)
	// before it also asks the key's other replicas; a failed answer asks
	// them at once. 0: every read asks every replica at once. Default 20ms.
	ReadSpeculation time.Duration
	// MaxRecordBytes is the largest key plus value a write may carry, in
	// bytes: a record larger than one replica frame holds could reach no
	// replica, so Put refuses it (*ValueTooLargeError) before sending
	// anything. 0: no limit. Default 0; a Node sets
	// transport.MaxRecordBytes of its frame size.
	MaxRecordBytes int
}

// HintHolder keeps records for an owner whose write call failed, to hand
// them over when it is back. The coordinator holds hints through it.
type HintHolder interface {
	Hold(target string, keys [][]byte, recs []engine.Record) error
}

// DefaultConfig returns the defaults of every field that has one.
func DefaultConfig() Config {
	return Config{N: 3, R: 2, W: 2, Timeout: time.Second, FlushTimeout: 10 * time.Second,
		RepairWorkers: 64, Fallbacks: 8,
		ReadSpeculation: 20 * time.Millisecond}
}

// Validate reports the first invalid field; the error wraps
// ErrInvalidConfig.
func (c Config) Validate() error {
	switch {
	case c.N < 1:
		return fmt.Errorf("%w: N %d must be at least 1", ErrInvalidConfig, c.N)
	case c.R < 1 || c.R > c.N:
		return fmt.Errorf("%w: R %d not in [1, N=%d]", ErrInvalidConfig, c.R, c.N)
	case c.W < 1 || c.W > c.N:
		return fmt.Errorf("%w: W %d not in [1, N=%d]", ErrInvalidConfig, c.W, c.N)
	case c.Timeout <= 0:
		return fmt.Errorf("%w: Timeout %v must be positive", ErrInvalidConfig, c.Timeout)
	case c.FlushTimeout < 0:
		return fmt.Errorf("%w: FlushTimeout %v is negative", ErrInvalidConfig, c.FlushTimeout)
	case c.Self == "":
		return fmt.Errorf("%w: Self is empty", ErrInvalidConfig)
	case c.Topology == nil:
		return fmt.Errorf("%w: Topology is nil", ErrInvalidConfig)
	case c.RepairWorkers < 1:
		return fmt.Errorf("%w: RepairWorkers %d must be at least 1", ErrInvalidConfig, c.RepairWorkers)
	case c.Fallbacks < 0 || c.Fallbacks > 8:
		return fmt.Errorf("%w: Fallbacks %d not in [0, 8]", ErrInvalidConfig, c.Fallbacks)
	case c.ReadSpeculation < 0:
		return fmt.Errorf("%w: ReadSpeculation %v is negative", ErrInvalidConfig, c.ReadSpeculation)
	case c.MaxRecordBytes < 0:
		return fmt.Errorf("%w: MaxRecordBytes %d is negative", ErrInvalidConfig, c.MaxRecordBytes)
	}
	return nil
}

// Coordinator implements server.Store as quorum operations over each
// key's replicas. Any node runs one; it is safe for concurrent use.
type Coordinator struct {
	cfg   Config
	clock *hlc.Clock
	log   *slog.Logger
	now   func() time.Time

	// life is cancelled by Close: every replica call derives from it.
	life context.Context
	stop context.CancelFunc

	mu struct {
		sync.RWMutex
		// closed is set once by Close. Under mu so that no request adds
		// to wg after Close started waiting on it.
		closed bool
	}
	// wg counts requests in progress, every goroutine they start and
	// every asynchronous replica call not yet answered.
	wg sync.WaitGroup
	// repairSlots bounds background repairs: a send takes a slot.
	repairSlots chan struct{}
	// readTurn rotates the replicas reads ask first (readTargets).
	readTurn atomic.Uint64

	stats counters
}

// New returns a Coordinator; cfg must pass Validate.
func New(cfg Config) (*Coordinator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = hlc.New(cfg.Self, cfg.Now)
	}
	c := &Coordinator{
		cfg:         cfg,
		clock:       cfg.Clock,
		log:         cfg.Logger,
		now:         cfg.Now,
		repairSlots: make(chan struct{}, cfg.RepairWorkers),
	}
	c.life, c.stop = context.WithCancel(context.Background())
	return c, nil
}

// Close stops the coordinator: new requests fail with ErrClosed, replica
// calls in flight are cancelled, and Close returns once every goroutine
// the coordinator started has ended. Idempotent.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	c.mu.closed = true
	c.mu.Unlock()
	c.stop()
	c.wg.Wait()
	return nil
}

// enter registers a request; leave must follow.
func (c *Coordinator) enter() error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.mu.closed {
		return ErrClosed
	}
	c.wg.Add(1)
	return nil
}

func (c *Coordinator) leave() { c.wg.Done() }

// closedErr returns ErrClosed once Close has started, else nil.
func (c *Coordinator) closedErr() error {
	if c.life.Err() != nil {
		return ErrClosed
	}
	return nil
}
