package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// serverConn serves one peer connection: its goroutine (serve) reads
// requests and hands each to a worker goroutine, starting workers as
// needed up to MaxInFlightPerConn; responses go through the frameWriter.
//
// Workers live as long as the connection. A goroutine per request would
// start on a small stack and grow it through the engine and Pebble on
// every request (that copying once took a quarter of a replica's CPU);
// a worker grows its stack once.
type serverConn struct {
	s      *Server
	nc     net.Conn
	w      *frameWriter
	jobs   chan job // unbuffered: a send succeeds only to an idle worker
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
	// workers counts the started workers; only readLoop touches it.
	workers int
}

// job is one request for a worker.
type job struct {
	h header
	p []byte
	// deadline is when the request's caller stops waiting for it, counted
	// from when it may have arrived; zero: none.
	deadline time.Time
}

func (sc *serverConn) serve() {
	s := sc.s
	fr := newFrameReader(sc.nc, sc.nc, s.cfg.MaxFrameBytes, s.cfg.ReadTimeout, s.cfg.arrival)
	if err := serverHandshake(sc.nc, fr, s.cfg); err != nil {
		s.log.Warn("transport: peer rejected", "remote", sc.nc.RemoteAddr(), "err", err)
		_ = sc.nc.Close()
		sc.cancel()
		s.dropConn(sc, true)
		return
	}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); sc.w.run() }()
	rejected := sc.readLoop(fr)
	sc.s.dropConn(sc, rejected)
}

// readLoop reads requests until the connection ends. It reports whether
// it ended because the peer broke the protocol.
func (sc *serverConn) readLoop(fr *frameReader) bool {
	s := sc.s
	for {
		h, p, err := fr.next()
		if err == nil && h.kind != kindRequest {
			err = fmt.Errorf("%w: unexpected frame kind %d from a client", ErrProtocol, h.kind)
		}
		if err != nil {
			violation := errors.Is(err, ErrProtocol) || errors.Is(err, ErrFrameTooLarge)
			if violation {
				s.log.Warn("transport: dropping peer", "remote", sc.nc.RemoteAddr(), "err", err)
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Debug("transport: peer connection ended", "remote", sc.nc.RemoteAddr(), "err", err)
			}
			sc.close(err, !violation)
			return violation
		}
		s.st.bytesRecv.Add(int64(headerLen + len(p)))
		s.st.requests.Add(1)
		s.st.inFlight.Add(1)
		s.cfg.observe(h.clock)
		j := job{h: h, p: p}
		if h.budget > 0 {
			j.deadline = fr.arrived.Add(time.Duration(h.budget) * time.Millisecond)
		}
		if !sc.dispatch(j) {
			return false
		}
	}
}

// dispatch gives j to an idle worker, starts a new one if all are busy and
// the limit allows, or else waits for one to be free. It returns false if
// the connection closed meanwhile.
func (sc *serverConn) dispatch(j job) bool {
	select {
	case sc.jobs <- j:
		return true
	default:
	}
	if sc.workers < sc.s.cfg.MaxInFlightPerConn {
		sc.workers++
		sc.s.wg.Add(1)
		go sc.work(j)
		return true
	}
	select {
	case sc.jobs <- j:
		return true
	case <-sc.ctx.Done():
		sc.s.st.inFlight.Add(-1)
		return false
	}
}

// work handles j, then the jobs it is given, until the connection ends.
func (sc *serverConn) work(j job) {
	defer sc.s.wg.Done()
	for {
		sc.handle(j)
		select {
		case j = <-sc.jobs:
		case <-sc.ctx.Done():
			return
		}
	}
}

// handle runs one request and queues its answer. A request whose
// deadline passed before it could run (it waited in the socket of a
// stopped process, or behind busy workers) is refused with ErrExpired:
// its caller has given up on it, and work it would do now (a write
// stamped long ago landing late) is what nobody expects any more. The
// handler runs under the connection's context: replica work is short,
// and a context with a timer per request would cost every request
// allocations for the rare one that runs past its deadline.
func (sc *serverConn) handle(j job) {
	s, h := sc.s, j.h
	var resp []byte
	var err error
	if !j.deadline.IsZero() && !time.Now().Before(j.deadline) {
		s.st.expired.Add(1)
		err = fmt.Errorf("%w: op %d, deadline passed %v ago", ErrExpired, h.op, time.Since(j.deadline).Round(time.Millisecond))
	} else {
		resp, err = s.h.Serve(sc.ctx, h.op, j.p)
	}
	if err == nil && len(resp) > s.cfg.MaxFrameBytes {
		err = fmt.Errorf("%w: response of %d bytes, limit %d", ErrFrameTooLarge, len(resp), s.cfg.MaxFrameBytes)
	}
	out := header{kind: kindResponse, op: h.op, id: h.id, clock: s.cfg.peek()}
	if err != nil {
		s.st.errors.Add(1)
		out.kind, resp = kindError, appendError(nil, err)
	}
	sc.w.enqueueHeader(out, resp)
	s.st.inFlight.Add(-1)
}

// close ends the connection once. A graceful close (hard false) tells the
// peer why in an error frame and flushes queued responses first.
func (sc *serverConn) close(cause error, hard bool) {
	sc.once.Do(func() {
		if !hard {
			sc.w.enqueue(kindError, 0, 0, []byte(cause.Error()))
		}
		// Shut the writer before cancelling handlers, so that a handler
		// returning ctx.Err() cannot get an answer out on a connection
		// that is being torn down.
		sc.w.shutdown(hard)
		sc.cancel()
	})
}
