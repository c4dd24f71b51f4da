package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// serverConn serves one peer connection: its goroutine (serve) reads
// requests and starts a handler goroutine for each, up to
// MaxInFlightPerConn at a time; responses go through the frameWriter.
type serverConn struct {
	s      *Server
	nc     net.Conn
	w      *frameWriter
	sem    chan struct{} // one token per running handler
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
}

func (sc *serverConn) serve() {
	s := sc.s
	fr := newFrameReader(sc.nc, sc.nc, s.cfg.MaxFrameBytes, s.cfg.ReadTimeout)
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
		select {
		case sc.sem <- struct{}{}:
		case <-sc.ctx.Done():
			return false
		}
		s.st.inFlight.Add(1)
		s.wg.Add(1)
		go sc.handle(h, p)
	}
}

func (sc *serverConn) handle(h header, p []byte) {
	s := sc.s
	defer s.wg.Done()
	resp, err := s.h.Serve(sc.ctx, h.op, p)
	if err == nil && len(resp) > s.cfg.MaxFrameBytes {
		err = fmt.Errorf("%w: response of %d bytes, limit %d", ErrFrameTooLarge, len(resp), s.cfg.MaxFrameBytes)
	}
	if err != nil {
		s.st.errors.Add(1)
		sc.w.enqueue(kindError, h.op, h.id, []byte(err.Error()))
	} else {
		sc.w.enqueue(kindResponse, h.op, h.id, resp)
	}
	s.st.inFlight.Add(-1)
	<-sc.sem
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
