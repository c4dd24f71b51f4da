package transport

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/ringcache/ringcache/engine"
)

// Config configures both ends of the transport. The client and the server
// of one cluster must agree on ClusterName and Secret; the other fields
// are local choices.
type Config struct {
	// Secret enables HMAC-SHA256 challenge/response authentication in both
	// directions. Empty (the default) disables it; a plain hello is still
	// exchanged so that a foreign peer is turned away.
	Secret string
	// ClusterName is sent in the hello and mixed into the authentication
	// proofs, so nodes of two clusters sharing a secret still refuse each
	// other. At most 255 bytes. Default "ringcache".
	ClusterName string
	// MaxFrameBytes bounds a frame's payload in bytes, in both directions.
	// A peer announcing a longer frame gets an error frame and is
	// disconnected. Default 64 MiB; at most 1 GiB.
	MaxFrameBytes int
	// ConnsPerPeer is how many TCP connections a Client keeps to its peer.
	// Requests are spread over them round-robin. Default 2.
	ConnsPerPeer int
	// DialTimeout bounds connecting plus the handshake, on both sides.
	// Default 2s.
	DialTimeout time.Duration
	// MaxInFlightPerConn bounds the requests outstanding on one connection:
	// on a Client a Call waits (within its ctx) for a slot; on a Server the
	// connection stops reading until a handler finishes. Default 256.
	MaxInFlightPerConn int
	// WriteTimeout bounds one write to the socket; a peer that stops
	// reading for longer is disconnected. 0 disables it. Default 5s.
	WriteTimeout time.Duration
	// ReadTimeout bounds how long the rest of a frame may take once its
	// first byte arrived; a peer stalling mid-frame is disconnected. Idle
	// connections are not affected. 0 disables it. Default 10s.
	ReadTimeout time.Duration
	// CloseTimeout bounds how long Server.Close waits for the server's
	// goroutines once it has closed the listeners and connections and
	// cancelled the handlers' contexts. A handler that ignores its
	// context and is still running then is left behind (its answer is
	// dropped) and Close returns ErrCloseTimeout, so a node's shutdown
	// does not depend on what its handlers are doing. Default 2s.
	CloseTimeout time.Duration
	// MinBackoff and MaxBackoff bound the delay between reconnection
	// attempts to an unreachable peer; the delay doubles from MinBackoff up
	// to MaxBackoff, with jitter. Defaults 50ms and 2s.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives connection-level events (connects, failures, peers
	// rejected). Nil discards them.
	Logger *slog.Logger
	// Observe, if set, is called by a Client after every Call with the
	// peer address, the operation, the latency and the error (nil on
	// success). It runs on the caller's goroutine and must be cheap; it is
	// the hook for per-peer latency metrics.
	Observe func(peer string, op uint8, d time.Duration, err error)
	// Clock, if set, is the node's hybrid logical clock: every request
	// and response frame carries its reading, and every frame received
	// from a peer advances it past the peer's. A node therefore never
	// stamps a write below a version that any peer it has talked to had
	// seen. Nil: frames carry a zero clock and received clocks are
	// ignored.
	Clock Clock
	// Arrivals, if set, tells a Server when a request read at some moment
	// may really have arrived (see stall.Detector): a request's deadline
	// counts from then, so one that waited out its caller's deadline in
	// the socket of a stopped process is refused, not run. Nil: a request
	// arrived when it was read.
	Arrivals Arrivals
}

// Clock is the hybrid logical clock the transport carries between nodes.
type Clock interface {
	// Peek returns the clock's current reading without issuing a version.
	Peek() engine.Version
	// Observe advances the clock past a version seen elsewhere.
	Observe(engine.Version)
}

// Arrivals estimates when input arrived, from when it was read.
type Arrivals interface {
	// Arrival returns the earliest moment that input returned by a read
	// ending at read may have arrived, the previous read on the same
	// connection having ended at prev.
	Arrival(prev, read time.Time) time.Time
	// ReadArrival is Arrival for a read that began waiting for input at
	// wait: a stall counts only if the read returned as the process ran
	// again (or as it began waiting, when that was later).
	ReadArrival(prev, wait, read time.Time) time.Time
}

// DefaultConfig returns a Config with every field at its default.
func DefaultConfig() Config {
	return Config{
		ClusterName:        "ringcache",
		MaxFrameBytes:      64 << 20,
		ConnsPerPeer:       2,
		DialTimeout:        2 * time.Second,
		MaxInFlightPerConn: 256,
		WriteTimeout:       5 * time.Second,
		ReadTimeout:        10 * time.Second,
		CloseTimeout:       2 * time.Second,
		MinBackoff:         50 * time.Millisecond,
		MaxBackoff:         2 * time.Second,
	}
}

// maxFrameLimit keeps frame lengths well inside the uint32 length field and
// int on every platform.
const maxFrameLimit = 1 << 30

// Validate reports the first invalid field, wrapped in ErrInvalidConfig.
func (c Config) Validate() error {
	switch {
	case len(c.ClusterName) == 0 || len(c.ClusterName) > 255:
		return fmt.Errorf("%w: ClusterName must be 1..255 bytes, got %d", ErrInvalidConfig, len(c.ClusterName))
	case c.MaxFrameBytes < 1024 || c.MaxFrameBytes > maxFrameLimit:
		return fmt.Errorf("%w: MaxFrameBytes %d outside [1024, %d]", ErrInvalidConfig, c.MaxFrameBytes, maxFrameLimit)
	case c.ConnsPerPeer < 1 || c.ConnsPerPeer > 64:
		return fmt.Errorf("%w: ConnsPerPeer %d outside [1, 64]", ErrInvalidConfig, c.ConnsPerPeer)
	case c.DialTimeout <= 0:
		return fmt.Errorf("%w: DialTimeout must be positive", ErrInvalidConfig)
	case c.MaxInFlightPerConn < 1:
		return fmt.Errorf("%w: MaxInFlightPerConn must be at least 1", ErrInvalidConfig)
	case c.WriteTimeout < 0 || c.ReadTimeout < 0:
		return fmt.Errorf("%w: negative WriteTimeout or ReadTimeout", ErrInvalidConfig)
	case c.CloseTimeout <= 0:
		return fmt.Errorf("%w: CloseTimeout must be positive", ErrInvalidConfig)
	case c.MinBackoff <= 0 || c.MaxBackoff < c.MinBackoff:
		return fmt.Errorf("%w: need 0 < MinBackoff <= MaxBackoff", ErrInvalidConfig)
	}
	return nil
}

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// peek returns the clock's reading, zero without a clock.
func (c *Config) peek() engine.Version {
	if c.Clock == nil {
		return engine.Version{}
	}
	return c.Clock.Peek()
}

// observe advances the clock past a peer's reading (zero: none sent).
func (c *Config) observe(v engine.Version) {
	if c.Clock != nil && !v.IsZero() {
		c.Clock.Observe(v)
	}
}

// arrival returns when a frame whose first byte was read by a read that
// began waiting at wait and ended at read (the one before ending at
// prev) may have arrived.
func (c *Config) arrival(prev, wait, read time.Time) time.Time {
	if c.Arrivals == nil {
		return read
	}
	return c.Arrivals.ReadArrival(prev, wait, read)
}
