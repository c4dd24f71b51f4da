package consensus

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ringcache/ringcache/engine"
)

// Config configures a Log.
type Config struct {
	// ID is this member's id in the group (non-zero).
	ID uint64
	// Store persists the log, its hard state and its snapshot. The
	// engine's metadata implements it.
	Store Store
	// Prefix is the metadata name prefix the log is stored under.
	// Default "consensus/".
	Prefix string
	// Machine is the state the log replicates.
	Machine StateMachine
	// Transport carries messages to the other members.
	Transport Transport
	// TickInterval is the length of one logical clock tick. Default
	// 100ms.
	TickInterval time.Duration
	// ElectionTicks is how many ticks a follower waits for the leader
	// before it campaigns. Default 10.
	ElectionTicks int
	// HeartbeatTicks is how many ticks pass between the leader's
	// heartbeats. Default 1.
	HeartbeatTicks int
	// SnapshotEvery is how many applied entries pass between two
	// snapshots (which let the log be truncated). Default 1000.
	SnapshotEvery uint64
	// ProposalGrace is how long after its deadline the leader still
	// accepts a proposal a follower forwarded: an allowance for the
	// difference between their clocks. Default: one election timeout
	// (TickInterval times ElectionTicks).
	ProposalGrace time.Duration
	// NewTicker makes the tick source (default time.NewTicker); tests
	// pass one they drive.
	NewTicker func(time.Duration) (<-chan time.Time, func())
	// Logger receives the log's events. Default: discard.
	Logger *slog.Logger
}

// Store is where a Log persists itself: named values, changed in
// atomic batches.
type Store interface {
	GetMeta(name string) ([]byte, bool, error)
	ScanMeta(prefix string, fn func(name string, val []byte) bool) error
	CommitMeta(b *engine.MetaBatch) error
}

// StateMachine is what the log replicates. Apply must be deterministic:
// every member applies the same commands in the same order and must
// reach the same state.
type StateMachine interface {
	// Apply applies one command. Its error is the proposal's result; it
	// must leave the state unchanged when it returns one.
	Apply(cmd []byte) error
	// Snapshot encodes the state as of the last command applied.
	Snapshot() []byte
	// Restore replaces the state with one Snapshot encoded.
	Restore(snap []byte) error
	// Voters returns the ids the group should have as voting members;
	// the leader changes the group to match, one member at a time.
	Voters() []uint64
}

// Transport sends one encoded message to member to. Delivery is best
// effort: the log retries what matters. Send may block; the log calls it
// from one goroutine per destination.
type Transport interface {
	Send(to uint64, msg []byte) error
}

// ErrInvalidConfig is wrapped by Validate's errors.
var ErrInvalidConfig = errors.New("consensus: invalid config")

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = "consensus/"
	}
	if c.TickInterval == 0 {
		c.TickInterval = 100 * time.Millisecond
	}
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 10
	}
	if c.HeartbeatTicks == 0 {
		c.HeartbeatTicks = 1
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = 1000
	}
	if c.ProposalGrace == 0 {
		c.ProposalGrace = c.TickInterval * time.Duration(c.ElectionTicks)
	}
	if c.NewTicker == nil {
		c.NewTicker = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks c after defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.ID == 0:
		return fmt.Errorf("%w: zero ID", ErrInvalidConfig)
	case c.Store == nil || c.Machine == nil || c.Transport == nil:
		return fmt.Errorf("%w: Store, Machine and Transport are required", ErrInvalidConfig)
	case c.TickInterval < 0 || c.ProposalGrace < 0:
		return fmt.Errorf("%w: negative TickInterval or ProposalGrace", ErrInvalidConfig)
	case c.HeartbeatTicks < 1 || c.ElectionTicks <= c.HeartbeatTicks:
		return fmt.Errorf("%w: ElectionTicks (%d) must exceed HeartbeatTicks (%d) >= 1", ErrInvalidConfig, c.ElectionTicks, c.HeartbeatTicks)
	}
	return nil
}
