package transport

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// slot holds one of the Client's connections and the dial loop that
// (re)opens it.
type slot struct {
	c *Client
	// kick wakes a dial loop waiting out its backoff (Client.Redial);
	// capacity 1.
	kick chan struct{}
	// cur mirrors mu.conn for the lock-free fast path of every Call; it
	// is written only with mu held.
	cur atomic.Pointer[clientConn]
	mu  struct {
		sync.Mutex
		conn     *clientConn   // live connection, nil while down
		dialing  bool          // a dial loop is running
		ready    chan struct{} // closed when the current dial attempt ends
		failures int           // consecutive failed attempts; >0 means callers fail fast
		lastErr  error         // why the last attempt failed
		closed   bool
	}
}

// live returns the slot's connection, or nil after starting a dial loop if
// none is running.
func (s *slot) live() *clientConn {
	if cc := s.cur.Load(); cc != nil {
		return cc
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.conn == nil && !s.mu.dialing && !s.mu.closed {
		s.startDialLocked()
	}
	return s.mu.conn
}

// wait returns the slot's connection. If the slot is down and its last dial
// failed it returns ErrUnavailable at once; if the first attempt is still
// running it waits for it.
func (s *slot) wait(ctx context.Context) (*clientConn, error) {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	if s.mu.conn == nil && !s.mu.dialing {
		s.startDialLocked()
	}
	cc, failures, lastErr, ready := s.mu.conn, s.mu.failures, s.mu.lastErr, s.mu.ready
	s.mu.Unlock()
	switch {
	case cc != nil:
		return cc, nil
	case failures > 0:
		return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, s.c.addr, lastErr)
	}
	select {
	case <-ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("transport: %s: waiting for a connection: %w", s.c.addr, ctx.Err())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.conn != nil {
		return s.mu.conn, nil
	}
	if s.mu.closed {
		return nil, ErrClosed
	}
	return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, s.c.addr, s.mu.lastErr)
}

func (s *slot) startDialLocked() {
	s.mu.dialing = true
	s.mu.ready = make(chan struct{})
	s.c.wg.Add(1)
	go s.dialLoop()
}

// dialLoop dials until it succeeds or the Client closes, backing off
// between failures.
func (s *slot) dialLoop() {
	defer s.c.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.c.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		s.c.dials.Add(1)
		cc, err := dialConn(ctx, s.c, s)
		s.mu.Lock()
		if err == nil && s.mu.closed {
			err = ErrClosed
		}
		if err == nil {
			s.mu.conn, s.mu.failures, s.mu.lastErr, s.mu.dialing = cc, 0, nil, false
			s.cur.Store(cc)
			close(s.mu.ready)
			s.mu.Unlock()
			s.c.log.Debug("transport: connected", "peer", s.c.addr)
			return
		}
		s.c.dialKO.Add(1)
		s.mu.failures++
		s.mu.lastErr = err
		failures := s.mu.failures
		close(s.mu.ready)
		s.mu.ready = make(chan struct{})
		if s.mu.closed {
			s.mu.dialing = false
			s.mu.Unlock()
			if cc != nil {
				cc.fail(ErrClosed, true)
			}
			return
		}
		s.mu.Unlock()
		if failures == 1 {
			s.c.log.Warn("transport: peer unreachable", "peer", s.c.addr, "err", err)
		}
		t := time.NewTimer(s.backoff(failures))
		select {
		case <-t.C:
		case <-s.kick:
			t.Stop()
		case <-s.c.closing:
			t.Stop()
		}
	}
}

// backoff returns the delay after the n-th consecutive failure: MinBackoff
// doubling up to MaxBackoff, minus up to a quarter of jitter so that the
// nodes of a cluster do not redial a restarted peer in lockstep.
func (s *slot) backoff(n int) time.Duration {
	d := s.c.cfg.MinBackoff
	for i := 1; i < n && d < s.c.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.c.cfg.MaxBackoff)
	return d - time.Duration(rand.Int64N(int64(d)/4+1))
}

// connDied forgets cc if it is the slot's current connection; the next
// Call starts a new dial.
func (s *slot) connDied(cc *clientConn) {
	s.mu.Lock()
	if s.mu.conn == cc {
		s.mu.conn = nil
		s.cur.Store(nil)
	}
	s.mu.Unlock()
}

// redial makes a dial loop waiting out its backoff try again now, and
// lets calls wait for that attempt instead of failing fast.
func (s *slot) redial() {
	s.mu.Lock()
	dialing := s.mu.dialing
	s.mu.Unlock()
	if !dialing {
		return
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *slot) close() {
	s.mu.Lock()
	s.mu.closed = true
	cc := s.mu.conn
	s.mu.Unlock()
	if cc != nil {
		cc.fail(ErrClosed, true)
	}
}
