package server

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// listener wraps the user's listener. It admits or rejects each client
// (maxclients, protected mode) before redcon sees it, wraps admitted ones in
// a clientConn, and during Shutdown holds redcon's accept loop until the
// clients have drained: redcon closes every connection as soon as Accept
// fails, which would cut in-flight replies.
type listener struct {
	net.Listener
	srv *Server
	// accepted is when the previous Accept returned: a connection in the
	// kernel's backlog was established after it; waiting is when the
	// current one began waiting (see connArrival).
	accepted, waiting time.Time
}

// Redis's rejection texts.
const (
	msgMaxClients = "-ERR max number of clients reached\r\n"
	msgDenied     = "-DENIED ringcache is running in protected mode because protected mode is enabled and no password is set for the default user. " +
		"In this mode connections are only accepted from the loopback interface. " +
		"If you want to connect from external computers to ringcache you may adopt one of the following solutions: " +
		"1) Disable protected mode by starting the server with protected mode turned off in its configuration, " +
		"however MAKE SURE ringcache is not publicly accessible from internet if you do so. " +
		"2) Set up an authentication password for the default user. " +
		"NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n"
)

// Accept returns the next admitted client.
func (l *listener) Accept() (net.Conn, error) {
	var backoff time.Duration
	for {
		l.waiting = time.Now()
		nc, err := l.Listener.Accept()
		if err != nil {
			if l.srv.isClosing() {
				<-l.srv.acceptDone
				return nil, fmt.Errorf("%w: %w", ErrServerClosed, net.ErrClosed)
			}
			if errors.Is(err, net.ErrClosed) {
				l.srv.setServeErr(err)
				return nil, err
			}
			// Transient (EMFILE, ECONNABORTED, ...): back off like net/http
			// instead of spinning, and keep serving the clients we have.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.srv.log.Warn("accept failed; retrying", "error", err, "delay", backoff)
			select {
			case <-time.After(backoff):
			case <-l.srv.closingCh:
			}
			continue
		}
		backoff = 0
		arrived := l.connArrival()
		if cc := l.srv.admit(nc); cc != nil {
			cc.readAt, cc.arrived = arrived, arrived
			return cc, nil
		}
	}
}

// connArrival returns the earliest moment the connection just accepted
// may have been established: now, unless the process stalled since the
// previous accept and the accept returned as it ran again, in which
// case it may have waited in the backlog since the stall began (and its
// first commands with it).
func (l *listener) connArrival() time.Time {
	now := time.Now()
	prev := l.accepted
	l.accepted = now
	if l.srv.cfg.Arrivals == nil {
		return now
	}
	return l.srv.cfg.Arrivals.ReadArrival(prev, l.waiting, now)
}

// admit decides whether nc may connect. Rejected clients get Redis's error
// line and are closed; admitted ones are registered and wrapped.
func (s *Server) admit(nc net.Conn) *clientConn {
	reject := func(msg, reason string) *clientConn {
		// Counted first: a client that read the refusal finds it counted.
		s.stats.rejected.Add(1)
		nc.SetWriteDeadline(time.Now().Add(time.Second))
		nc.Write([]byte(msg))
		nc.Close()
		if s.metrics != nil {
			s.metrics.ConnRejected(reason)
		}
		return nil
	}
	if s.stats.current.Load() >= s.live.maxClients.Load() {
		return reject(msgMaxClients, "maxclients")
	}
	if protectedModeDenies(s.live.protectedMode.Load(), s.live.password(), nc.RemoteAddr()) {
		return reject(msgDenied, "protected")
	}
	cc := newClientConn(s, nc)
	cc.cl = &client{
		id:      s.nextID.Add(1),
		conn:    cc,
		created: s.now(),
		authed:  s.live.password() == "",
	}
	cc.cl.w.errs = &s.errStats
	cc.cl.lastActive.Store(cc.cl.created.UnixMilli())
	cc.cl.proto.Store(2)
	if !s.register(cc.cl) {
		nc.Close()
		return nil
	}
	return cc
}

// protectedModeDenies reports whether protected mode refuses a client at
// addr: no password is configured and the peer is not on loopback (Unix
// sockets count as local).
func protectedModeDenies(protected bool, pass string, addr net.Addr) bool {
	if !protected || pass != "" {
		return false
	}
	switch a := addr.(type) {
	case *net.TCPAddr:
		return !a.IP.IsLoopback()
	case *net.UnixAddr:
		return false
	case nil:
		return true
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return true
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}
