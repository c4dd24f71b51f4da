package transport

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Caller is the one method a coordinator needs from a replica transport.
// *Client implements it; a test harness wraps it to drop, delay or
// partition calls, and the typed helpers (Apply, Read, Ping) accept any
// Caller.
type Caller interface {
	Call(ctx context.Context, op uint8, payload []byte) ([]byte, error)
}

// CallerFunc adapts a function to Caller.
type CallerFunc func(ctx context.Context, op uint8, payload []byte) ([]byte, error)

// Call implements Caller.
func (f CallerFunc) Call(ctx context.Context, op uint8, payload []byte) ([]byte, error) {
	return f(ctx, op, payload)
}

// Client sends requests to one peer over a small pool of connections that
// it opens on first use and reopens, with backoff, after a failure. There
// is no Dial: NewClient never blocks and never fails for an unreachable
// peer; Call reports ErrUnavailable instead. A Client is safe for
// concurrent use.
type Client struct {
	addr   string
	cfg    Config
	log    *slog.Logger
	slots  []*slot
	next   atomic.Uint64
	st     counters
	dials  atomic.Int64
	dialKO atomic.Int64

	closing chan struct{} // closed by Close
	once    sync.Once
	wg      sync.WaitGroup // every goroutine of every connection and dial loop
}

// NewClient returns a Client for the peer at addr (host:port). It does not
// connect yet.
func NewClient(addr string, cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{addr: addr, cfg: cfg, log: cfg.logger(), closing: make(chan struct{})}
	c.slots = make([]*slot, cfg.ConnsPerPeer)
	for i := range c.slots {
		c.slots[i] = &slot{c: c, kick: make(chan struct{}, 1)}
	}
	return c, nil
}

// Addr returns the peer address the Client was created for.
func (c *Client) Addr() string { return c.addr }

// Call sends a request for operation op and returns the peer's response
// payload. It returns when the response arrives, ctx is done (the request
// is abandoned and a late response dropped), or the connection dies
// (ErrConnLost). While the peer is unreachable it fails fast with
// ErrUnavailable. A handler error comes back as a *RemoteError. Call does
// not retain payload after it returns.
func (c *Client) Call(ctx context.Context, op uint8, payload []byte) ([]byte, error) {
	start := time.Now()
	c.st.requests.Add(1)
	c.st.inFlight.Add(1)
	resp, err := c.call(ctx, op, payload)
	c.st.inFlight.Add(-1)
	if err != nil {
		c.st.errors.Add(1)
	}
	if c.cfg.Observe != nil {
		c.cfg.Observe(c.addr, op, time.Since(start), err)
	}
	return resp, err
}

func (c *Client) call(ctx context.Context, op uint8, payload []byte) ([]byte, error) {
	if len(payload) > c.cfg.MaxFrameBytes {
		return nil, fmt.Errorf("%w: request of %d bytes, limit %d", ErrFrameTooLarge, len(payload), c.cfg.MaxFrameBytes)
	}
	select {
	case <-c.closing:
		return nil, ErrClosed
	default:
	}
	cc, err := c.pick(ctx)
	if err != nil {
		return nil, err
	}
	return cc.roundTrip(ctx, op, payload)
}

// pick returns a live connection, round-robin, starting dials for slots
// that have none. Only when no connection is live does it wait, for the
// dial of a slot that has not failed yet.
func (c *Client) pick(ctx context.Context) (*clientConn, error) {
	i := c.next.Add(1)
	n := uint64(len(c.slots))
	for j := range n {
		if cc := c.slots[(i+j)%n].live(); cc != nil {
			return cc, nil
		}
	}
	return c.slots[i%n].wait(ctx)
}

// Redial makes the connections that are down try to reconnect now rather
// than after their backoff: the caller learned that the peer is back (it
// heard from it, or gossip reported it alive).
func (c *Client) Redial() {
	for _, s := range c.slots {
		s.redial()
	}
}

// Close closes every connection, fails the calls in flight with
// ErrConnLost (wrapping ErrClosed) and waits for the Client's goroutines.
// It is idempotent.
func (c *Client) Close() error {
	c.once.Do(func() {
		close(c.closing)
		for _, s := range c.slots {
			s.close()
		}
	})
	c.wg.Wait()
	return nil
}

// Stats is a snapshot of a Client's counters.
type Stats struct {
	// Peer is the peer address.
	Peer string
	// Requests counts Calls made; Errors those that returned an error.
	Requests, Errors int64
	// InFlight is the number of Calls running now.
	InFlight int64
	// BytesSent and BytesReceived count frame bytes, headers included.
	BytesSent, BytesReceived int64
	// Writes counts write syscalls; Writes/Requests shows the coalescing.
	Writes int64
	// LateResponses counts responses that arrived after their Call gave up.
	LateResponses int64
	// Conns is the number of live connections.
	Conns int
	// Dials and DialFailures count connection attempts.
	Dials, DialFailures int64
}

// Stats returns a snapshot of the Client's counters.
func (c *Client) Stats() Stats {
	conns := 0
	for _, s := range c.slots {
		s.mu.Lock()
		if s.mu.conn != nil {
			conns++
		}
		s.mu.Unlock()
	}
	return Stats{
		Peer:          c.addr,
		Requests:      c.st.requests.Load(),
		Errors:        c.st.errors.Load(),
		InFlight:      c.st.inFlight.Load(),
		BytesSent:     c.st.bytesSent.Load(),
		BytesReceived: c.st.bytesRecv.Load(),
		Writes:        c.st.writes.Load(),
		LateResponses: c.st.late.Load(),
		Conns:         conns,
		Dials:         c.dials.Load(),
		DialFailures:  c.dialKO.Load(),
	}
}
