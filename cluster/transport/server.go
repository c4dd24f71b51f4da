package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Handler serves the requests of peers. Serve is called concurrently, up to
// Config.MaxInFlightPerConn times per connection. The payload is owned by
// the handler (it may keep it); the returned slice is copied before Serve's
// caller returns, so the handler may reuse it afterwards. A non-nil error
// is sent back as an error frame with err.Error() as the message and
// surfaces at the caller as a *RemoteError. ctx is cancelled when the
// connection dies or the Server closes.
type Handler interface {
	Serve(ctx context.Context, op uint8, payload []byte) ([]byte, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, op uint8, payload []byte) ([]byte, error)

// Serve implements Handler.
func (f HandlerFunc) Serve(ctx context.Context, op uint8, payload []byte) ([]byte, error) {
	return f(ctx, op, payload)
}

// Server accepts peer connections and serves their requests with a
// Handler.
type Server struct {
	h      Handler
	cfg    Config
	log    *slog.Logger
	ctx    context.Context // cancelled by Close; parent of every connection's ctx
	cancel context.CancelFunc
	st     counters

	mu struct {
		sync.Mutex
		closed   bool
		lns      []net.Listener
		conns    map[*serverConn]struct{}
		rejected int64 // connections dropped for a bad handshake or a protocol violation
		// done is closed once every goroutine in wg has ended; made by
		// the first Close.
		done chan struct{}
	}
	wg sync.WaitGroup // Serve loops, connections, handlers
}

// NewServer returns a Server that serves h.
func NewServer(h Handler, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("%w: nil Handler", ErrInvalidConfig)
	}
	s := &Server{h: h, cfg: cfg, log: cfg.logger()}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.conns = make(map[*serverConn]struct{})
	return s, nil
}

// Serve accepts connections on ln until ln fails or the Server closes. It
// always returns a non-nil error: ErrClosed after Close. The Server closes
// ln on Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrClosed
	}
	s.mu.lns = append(s.mu.lns, ln)
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: wait and retry
				// rather than stop serving the cluster.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("transport: accept failed; retrying", "err", err, "delay", delay)
				select {
				case <-time.After(delay):
				case <-s.ctx.Done():
				}
				continue
			}
			return err
		}
		delay = 0
		s.startConn(nc)
	}
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// Addr returns the address of the first listener passed to Serve, or nil
// if Serve has not been called.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.mu.lns) == 0 {
		return nil
	}
	return s.mu.lns[0].Addr()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.closed
}

// Close stops the listeners, closes every connection, cancels the context
// of running handlers and waits for all of the Server's goroutines,
// handlers included, for at most Config.CloseTimeout. Handlers still
// running then are left to finish on their own: their answers are
// dropped (the connections are gone), and Close returns ErrCloseTimeout
// saying how many there were. Close is idempotent; a later call waits
// for the same goroutines, again for at most CloseTimeout.
func (s *Server) Close() error {
	s.mu.Lock()
	if !s.mu.closed {
		s.mu.closed = true
		for _, ln := range s.mu.lns {
			_ = ln.Close()
		}
		for sc := range s.mu.conns {
			sc.close(ErrClosed, true)
		}
		s.cancel()
		// The waiter ends with the last of the goroutines it waits for;
		// only a handler that never returns keeps it.
		s.mu.done = make(chan struct{})
		go func(done chan struct{}) {
			s.wg.Wait()
			close(done)
		}(s.mu.done)
	}
	done := s.mu.done
	s.mu.Unlock()
	t := time.NewTimer(s.cfg.CloseTimeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
	}
	n := s.st.inFlight.Load()
	s.log.Warn("transport: handlers still running at close; left behind", "handlers", n, "waited", s.cfg.CloseTimeout)
	return fmt.Errorf("%w: %d handlers still running %v after their contexts were cancelled", ErrCloseTimeout, n, s.cfg.CloseTimeout)
}

// ServerStats is a snapshot of a Server's counters.
type ServerStats struct {
	// Conns is the number of open peer connections.
	Conns int
	// Rejected counts connections dropped for a failed handshake or a
	// protocol violation.
	Rejected int64
	// Requests counts requests received; Errors those whose handler failed.
	Requests, Errors int64
	// InFlight is the number of handlers running now.
	InFlight int64
	// BytesSent and BytesReceived count frame bytes, headers included.
	BytesSent, BytesReceived int64
	// Writes counts write syscalls; Writes/Requests shows the coalescing.
	Writes int64
	// Expired counts requests refused because their deadline passed
	// before they could run (ErrExpired); Errors counts them too.
	Expired int64
}

// Stats returns a snapshot of the Server's counters.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	conns, rejected := len(s.mu.conns), s.mu.rejected
	s.mu.Unlock()
	return ServerStats{
		Conns:         conns,
		Rejected:      rejected,
		Requests:      s.st.requests.Load(),
		Errors:        s.st.errors.Load(),
		InFlight:      s.st.inFlight.Load(),
		BytesSent:     s.st.bytesSent.Load(),
		BytesReceived: s.st.bytesRecv.Load(),
		Writes:        s.st.writes.Load(),
		Expired:       s.st.expired.Load(),
	}
}

func (s *Server) startConn(nc net.Conn) {
	sc := &serverConn{s: s, nc: nc, jobs: make(chan job)}
	sc.ctx, sc.cancel = context.WithCancel(s.ctx)
	sc.w = newFrameWriter(nc, s.cfg.WriteTimeout, &s.st, func(err error) { sc.close(err, true) })
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		_ = nc.Close()
		return
	}
	s.mu.conns[sc] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		sc.serve()
	}()
}

func (s *Server) dropConn(sc *serverConn, rejected bool) {
	s.mu.Lock()
	delete(s.mu.conns, sc)
	if rejected {
		s.mu.rejected++
	}
	s.mu.Unlock()
}
