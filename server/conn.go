package server

import (
	"net"
	"sync"
	"time"
)

// clientConn wraps an accepted net.Conn. redcon reads through it, so every
// byte redcon parses has passed the validator first, and Shutdown can stop a
// connection between pipelines without cutting a reply short.
//
// Read and Write run on the connection's redcon goroutine; drain and
// forceClose may run on any goroutine and only touch mu-guarded fields and
// the socket's deadline or Close, which are safe for concurrent use.
type clientConn struct {
	net.Conn
	srv *Server
	cl  *client
	v   validator

	// Unreleased input is in[r:w]; its first pass bytes are validated and
	// may be handed to redcon unchanged.
	in   []byte
	r, w int
	pass int
	// passEnd: the pass bytes complete a command.
	passEnd bool
	// Synthesized input (converted inline commands) waiting for redcon.
	out    []byte
	outOff int
	// failed holds a detected violation, reported once earlier bytes are
	// consumed.
	failed *verdict
	// readAt is when the latest socket read returned data, and arrived
	// the earliest moment its input may have arrived (Arrivals.
	// ReadArrival, from the end of the read before, when it began
	// waiting and readAt): the command being run arrived then or later
	// (or earlier, if redcon buffered it) and by readAt. A read that
	// filled its buffer may have left input as old as its own in the
	// socket: the read after it is dated no later (lastFull).
	readAt, arrived time.Time
	lastFull        bool

	mu struct {
		sync.Mutex
		reading  bool // inside Read; drain must interrupt it
		draining bool // Shutdown began; the next Read ends the connection
		deadline bool // an idle timeout is set on the socket
	}
}

const initialReadBuf = 4096

func newClientConn(srv *Server, nc net.Conn) *clientConn {
	now := time.Now() // nothing arrived before the connection did
	return &clientConn{
		Conn:    nc,
		srv:     srv,
		v:       validator{lim: *srv.live.limits.Load()},
		in:      make([]byte, initialReadBuf),
		readAt:  now,
		arrived: now,
	}
}

// Read releases validated bytes to redcon. While the client still has to
// authenticate it releases one command per call, so that AUTH takes effect
// before the next command's header is checked against the limits.
func (c *clientConn) Read(p []byte) (int, error) {
	if err := c.beginRead(); err != nil {
		return 0, err
	}
	n, err := c.read(p)
	c.endRead()
	return n, err
}

func (c *clientConn) read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if c.outOff < len(c.out) {
			k := copy(p[n:], c.out[c.outOff:])
			c.outOff += k
			n += k
			if c.outOff < len(c.out) {
				return n, nil
			}
			c.out, c.outOff = c.out[:0], 0
			if c.cl.needsAuth() {
				return n, nil
			}
			continue
		}
		if c.pass > 0 {
			k := copy(p[n:], c.in[c.r:c.r+c.pass])
			c.r += k
			c.pass -= k
			n += k
			if c.pass > 0 || (c.passEnd && c.cl.needsAuth()) {
				return n, nil
			}
			continue
		}
		if c.failed != nil {
			if n > 0 {
				return n, nil
			}
			return 0, c.fail(c.failed.reply)
		}
		if c.v.state == stCommand {
			c.v.lim = *c.srv.live.limits.Load() // CONFIG SET may have changed them
		}
		vd := c.v.step(c.in[c.r:c.w], c.cl.needsAuth())
		switch vd.act {
		case actPass:
			c.pass, c.passEnd = vd.n, vd.end
		case actDrop:
			c.r += vd.n
		case actEmit:
			c.r += vd.n
			c.out = append(c.out[:0], vd.emit...)
		case actFail:
			failed := vd // copied so that vd itself stays on the stack
			c.failed = &failed
		case actMore:
			if n > 0 {
				return n, nil
			}
			if k, ok, err := c.readBulkDirect(p); ok {
				return k, err
			}
			if err := c.fill(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// readBulkDirect reads bulk data straight into redcon's buffer, skipping the
// copy through c.in when a large value streams in.
func (c *clientConn) readBulkDirect(p []byte) (int, bool, error) {
	if c.v.state != stBulkData || c.r != c.w || len(p) < initialReadBuf {
		return 0, false, nil
	}
	if int64(len(p)) > c.v.bulkLeft {
		p = p[:c.v.bulkLeft]
	}
	k, err := c.socketRead(p)
	c.v.bulkLeft -= int64(k)
	if c.v.bulkLeft == 0 {
		c.v.state = stBulkEnd
	}
	if k > 0 {
		err = nil
	}
	return k, true, err
}

// fill reads more input from the socket after the unreleased bytes.
func (c *clientConn) fill() error {
	if c.r > 0 {
		c.w = copy(c.in, c.in[c.r:c.w])
		c.r = 0
	}
	if c.w == len(c.in) {
		// Only a header line can need more room; the validator caps it at
		// MaxInlineLen, so the buffer never grows past that.
		grown := make([]byte, 2*len(c.in))
		copy(grown, c.in[:c.w])
		c.in = grown
	}
	k, err := c.socketRead(c.in[c.w:])
	c.w += k
	if k > 0 {
		return nil
	}
	return err
}

// socketRead reads from the socket, counts the bytes and, for the stall
// check (Config.MaxWait), records when a read that returned data began
// waiting and ended.
func (c *clientConn) socketRead(p []byte) (int, error) {
	if c.srv.cfg.Arrivals == nil {
		k, err := c.Conn.Read(p)
		c.srv.stats.bytesIn.Add(int64(k))
		return k, err
	}
	began := time.Now()
	k, err := c.Conn.Read(p)
	c.srv.stats.bytesIn.Add(int64(k))
	if k > 0 {
		now := time.Now()
		a := c.srv.cfg.Arrivals.ReadArrival(c.readAt, began, now)
		if c.lastFull && c.arrived.Before(a) {
			a = c.arrived
		}
		c.readAt, c.arrived, c.lastFull = now, a, k == len(p)
	}
	return k, err
}

// fail writes the protocol error reply (if any) and ends the connection.
func (c *clientConn) fail(reply string) error {
	if reply != "" {
		c.Write([]byte("-" + reply + "\r\n"))
	}
	c.srv.log.Debug("closing client on protocol error",
		"id", c.cl.id, "addr", c.RemoteAddr().String(), "error", reply)
	return errProtocol
}

// Write counts outgoing bytes.
func (c *clientConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.srv.stats.bytesOut.Add(int64(n))
	return n, err
}

// beginRead starts a Read: it ends a draining connection, and applies the
// idle timeout (CONFIG SET timeout) as a read deadline, under mu so that
// drain's immediate deadline always wins. A connection in MONITOR mode has
// none, as in Redis.
func (c *clientConn) beginRead() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.draining {
		return errDraining
	}
	c.mu.reading = true
	idle := c.srv.live.idle()
	if c.cl.monitor != nil {
		idle = 0
	}
	c.setIdleLocked(time.Now(), idle)
	return nil
}

// setIdleLocked sets the read deadline of an idle timeout counted from
// since, or clears it when idle is 0.
func (c *clientConn) setIdleLocked(since time.Time, idle time.Duration) {
	switch {
	case idle > 0:
		c.Conn.SetReadDeadline(since.Add(idle))
		c.mu.deadline = true
	case c.mu.deadline:
		c.Conn.SetReadDeadline(time.Time{})
		c.mu.deadline = false
	}
}

// idleChanged applies a new idle timeout (CONFIG SET timeout) to a
// connection waiting for its next command, counted from its last one, so
// a client idle for longer already is closed now, as Redis does. A busy
// connection applies it at its next read; a monitor has none.
func (c *clientConn) idleChanged(idle time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.mu.reading || c.mu.draining || c.cl.detached.Load() {
		return
	}
	c.setIdleLocked(time.UnixMilli(c.cl.lastActive.Load()), idle)
}

func (c *clientConn) endRead() {
	c.mu.Lock()
	c.mu.reading = false
	c.mu.Unlock()
}

// drain makes the connection end at its next read: an idle connection is
// woken now, a busy one finishes its pipeline and flushes the replies first.
func (c *clientConn) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.draining = true
	if c.mu.reading {
		c.Conn.SetReadDeadline(time.Unix(1, 0))
	}
}

// forceClose closes the socket whatever the connection is doing.
func (c *clientConn) forceClose() { c.Conn.Close() }
