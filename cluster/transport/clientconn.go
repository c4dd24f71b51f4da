package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"time"
)

// clientConn is one authenticated connection to the peer with many
// requests in flight. Its reader goroutine matches responses to callers by
// request id; its frameWriter coalesces requests into few writes.
type clientConn struct {
	c   *Client
	s   *slot
	nc  net.Conn
	fr  *frameReader
	w   *frameWriter
	sem chan struct{} // one token per request in flight

	mu struct {
		sync.Mutex
		pending map[uint64]*call // requests sent and not yet answered or abandoned
		lastID  uint64           // ids 1..lastID were issued, in order
		err     error            // non-nil once the connection is dead; pending is then nil
	}
	dead chan struct{} // closed when mu.err is set
}

type call struct{ ch chan result }

type result struct {
	payload []byte
	err     error
}

var callPool = sync.Pool{New: func() any { return &call{ch: make(chan result, 1)} }}

// dialConn connects and authenticates, bounded by ctx and DialTimeout, and
// starts the connection's goroutines (owned by the Client's WaitGroup).
func dialConn(ctx context.Context, c *Client, s *slot) (*clientConn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	fr := newFrameReader(nc, nc, c.cfg.MaxFrameBytes, c.cfg.ReadTimeout, nil)
	if err := clientHandshake(nc, fr, c.cfg); err != nil {
		_ = nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	cc := &clientConn{c: c, s: s, nc: nc, fr: fr, sem: make(chan struct{}, c.cfg.MaxInFlightPerConn), dead: make(chan struct{})}
	cc.mu.pending = make(map[uint64]*call)
	cc.w = newFrameWriter(nc, c.cfg.WriteTimeout, &c.st, func(err error) { cc.fail(err, true) })
	c.wg.Add(2)
	go func() { defer c.wg.Done(); cc.w.run() }()
	go func() { defer c.wg.Done(); cc.readLoop() }()
	return cc, nil
}

// roundTrip sends one request and waits for its answer, ctx, or the
// connection's death, whichever comes first.
func (cc *clientConn) roundTrip(ctx context.Context, op uint8, payload []byte) ([]byte, error) {
	select {
	case cc.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("transport: %s op %d: waiting for a slot: %w", cc.c.addr, op, ctx.Err())
	case <-cc.dead:
		return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, cc.c.addr, cc.deadErr())
	}
	defer func() { <-cc.sem }()

	cl := callPool.Get().(*call)
	cc.mu.Lock()
	if cc.mu.err != nil {
		err := cc.mu.err
		cc.mu.Unlock()
		callPool.Put(cl)
		return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, cc.c.addr, err)
	}
	cc.mu.lastID++
	id := cc.mu.lastID
	cc.mu.pending[id] = cl
	// Enqueued under mu so that fail, which also takes mu, either sees
	// this call in pending or happens before it was registered.
	cc.w.enqueueHeader(header{kind: kindRequest, op: op, id: id, clock: cc.c.cfg.peek(), budget: budget(ctx)}, payload)
	cc.mu.Unlock()

	select {
	case r := <-cl.ch:
		callPool.Put(cl)
		if r.err != nil && ctx.Err() != nil {
			// The peer gave up at the same deadline (see budget): the
			// caller's own reason is the one to report.
			return nil, fmt.Errorf("transport: %s op %d: %w (peer: %w)", cc.c.addr, op, ctx.Err(), r.err)
		}
		return r.payload, r.err
	case <-ctx.Done():
		cc.mu.Lock()
		_, mine := cc.mu.pending[id]
		delete(cc.mu.pending, id)
		cc.mu.Unlock()
		if !mine {
			// The reader (or fail) took the call first; its result is
			// already on the way, so take it rather than lose it.
			r := <-cl.ch
			callPool.Put(cl)
			return r.payload, r.err
		}
		callPool.Put(cl)
		return nil, fmt.Errorf("transport: %s op %d: %w", cc.c.addr, op, ctx.Err())
	}
}

func (cc *clientConn) deadErr() error {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.mu.err
}

// readLoop reads responses until the connection fails.
func (cc *clientConn) readLoop() {
	for {
		h, p, err := cc.fr.next()
		if err != nil {
			graceful := errors.Is(err, ErrProtocol) || errors.Is(err, ErrFrameTooLarge)
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("peer closed the connection: %w", err)
			}
			cc.fail(err, !graceful)
			return
		}
		cc.c.st.bytesRecv.Add(int64(headerLen + len(p)))
		if err := cc.dispatch(h, p); err != nil {
			cc.fail(err, false)
			return
		}
	}
}

// dispatch hands one frame to the call waiting for it. An error it returns
// is a protocol violation that ends the connection.
func (cc *clientConn) dispatch(h header, p []byte) error {
	switch {
	case h.kind == kindError && h.id == 0:
		return fmt.Errorf("%w: peer closed the connection: %s", ErrProtocol, p)
	case h.kind != kindResponse && h.kind != kindError:
		return fmt.Errorf("%w: unexpected frame kind %d from a server", ErrProtocol, h.kind)
	}
	cc.mu.Lock()
	cl, ok := cc.mu.pending[h.id]
	delete(cc.mu.pending, h.id)
	issued := h.id <= cc.mu.lastID
	cc.mu.Unlock()
	switch {
	case !ok && issued:
		cc.c.cfg.observe(h.clock)
		cc.c.st.late.Add(1) // its caller gave up; drop it
		return nil
	case !ok:
		return fmt.Errorf("%w: response for unknown request id %d", ErrProtocol, h.id)
	}
	// The peer's clock is observed before its answer is handed over, so
	// that a write the caller stamps next orders after what the peer saw.
	cc.c.cfg.observe(h.clock)
	if h.kind == kindError {
		cl.ch <- result{err: decodeError(h.op, p)}
	} else {
		cl.ch <- result{payload: p}
	}
	return nil
}

// budget returns the milliseconds left until ctx's deadline, for a
// request's header: 0 without a deadline, at least 1 with one (a request
// sent with none left is refused by the peer on arrival).
func budget(ctx context.Context) uint32 {
	d, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	// Rounded up, so that the peer never gives up before the caller.
	left := (time.Until(d) + time.Millisecond - 1).Milliseconds()
	switch {
	case left < 1:
		return 1
	case left > math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(left)
}

// fail marks the connection dead, fails every pending call and stops the
// writer. hard closes the socket at once; otherwise an error frame telling
// the peer why goes out first. Only the first call has an effect.
func (cc *clientConn) fail(cause error, hard bool) {
	cc.mu.Lock()
	if cc.mu.err != nil {
		cc.mu.Unlock()
		return
	}
	cc.mu.err = cause
	pending := cc.mu.pending
	cc.mu.pending = nil
	cc.mu.Unlock()
	close(cc.dead)

	if !hard {
		cc.w.enqueue(kindError, 0, 0, []byte(cause.Error()))
	}
	cc.w.shutdown(hard)
	err := fmt.Errorf("%w: %s: %w", ErrConnLost, cc.c.addr, cause)
	for _, cl := range pending {
		cl.ch <- result{err: err}
	}
	cc.s.connDied(cc)
	if !errors.Is(cause, ErrClosed) {
		cc.c.log.Warn("transport: connection to peer lost", "peer", cc.c.addr, "err", cause, "pending", len(pending))
	}
}
