package server

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"
)

// MONITOR turns a connection into a stream of every command the server
// runs, one line each, as Redis writes them:
//
//	+1700000000.123456 [0 127.0.0.1:50000] "SET" "k" "v"
//
// The connection leaves redcon's loop (Detach): a goroutine writes the
// lines, another reads what the client sends, of which only QUIT (the
// connection ends) and RESET (it becomes a normal connection again,
// served by that goroutine) are taken; other commands get an error.
// Administrative commands and those that carry passwords (AUTH, HELLO)
// are not shown. A monitor that falls monitorBacklog lines behind is
// disconnected, as Redis disconnects a client past its output limit.
// When no monitor is connected the cost per command is one atomic load.

// monitorBacklog is how many lines a monitor may fall behind.
const monitorBacklog = 1 << 14

type monitor struct {
	dc    redcon.DetachedConn
	lines chan []byte
	// behind is closed when the monitor fell too far behind.
	behind     chan struct{}
	behindOnce sync.Once
}

// monitors is the set of connections in MONITOR mode.
type monitors struct {
	n   atomic.Int32
	mu  sync.Mutex
	set map[*monitor]struct{}
}

func (ms *monitors) add(m *monitor) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.set == nil {
		ms.set = map[*monitor]struct{}{}
	}
	ms.set[m] = struct{}{}
	ms.n.Store(int32(len(ms.set)))
}

func (ms *monitors) remove(m *monitor) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	delete(ms.set, m)
	ms.n.Store(int32(len(ms.set)))
}

// feed sends the line of a command to every monitor.
func (s *Server) feed(c *client, cmd *command, args [][]byte, now time.Time) {
	if s.monitors.n.Load() == 0 || cmd.flags&(flagAdmin|flagNoAuth) != 0 {
		return
	}
	line := monitorLine(now, c.db, c.addr(), args)
	s.monitors.mu.Lock()
	defer s.monitors.mu.Unlock()
	for m := range s.monitors.set {
		select {
		case m.lines <- line:
		default:
			m.behindOnce.Do(func() { close(m.behind) })
		}
	}
}

// monitorLine formats one command as MONITOR shows it.
func monitorLine(now time.Time, db int, addr string, args [][]byte) []byte {
	b := append([]byte{'+'}, strconv.FormatInt(now.Unix(), 10)...)
	b = append(b, '.')
	us := strconv.Itoa(now.Nanosecond() / 1000)
	for range 6 - len(us) {
		b = append(b, '0')
	}
	b = append(b, us...)
	b = append(b, " ["...)
	b = strconv.AppendInt(b, int64(db), 10)
	b = append(b, ' ')
	b = append(b, addr...)
	b = append(b, ']')
	for _, a := range args {
		b = append(b, ' ')
		b = appendRepr(b, a)
	}
	return append(b, '\r', '\n')
}

// appendRepr appends s quoted as Redis's sdscatrepr does.
func appendRepr(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, ch := range s {
		switch ch {
		case '\\', '"':
			b = append(b, '\\', ch)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\a':
			b = append(b, '\\', 'a')
		case '\b':
			b = append(b, '\\', 'b')
		default:
			if ch >= 0x20 && ch < 0x7f {
				b = append(b, ch)
			} else {
				b = append(b, '\\', 'x', hex[ch>>4], hex[ch&15])
			}
		}
	}
	return append(b, '"')
}

// errMonitorOnly answers commands sent in MONITOR mode.
var errMonitorOnly = newReplyError("ERR only QUIT and RESET are accepted in MONITOR mode")

// cmdMonitor answers MONITOR: +OK, then the connection streams.
func cmdMonitor(x *call) error {
	if x.c.inTxn || x.c.conn == nil {
		return errMonitorTxn // inside EXEC, or forwarded: no connection to take
	}
	x.conn.WriteString("OK")
	m := &monitor{dc: x.conn.Conn.Detach(), lines: make(chan []byte, monitorBacklog), behind: make(chan struct{})}
	x.s.monitors.add(m)
	x.c.detached.Store(true)
	x.c.monitor = m // handle stops here and starts serveMonitor
	return nil
}

// copyCommands copies commands read but not run yet, whose arguments
// alias redcon's read buffer.
func copyCommands(cmds []redcon.Command) []redcon.Command {
	out := make([]redcon.Command, len(cmds))
	for i, c := range cmds {
		out[i].Raw = append([]byte(nil), c.Raw...)
		for _, a := range c.Args {
			out[i].Args = append(out[i].Args, append([]byte(nil), a...))
		}
	}
	return out
}

// serveMonitor owns a detached connection in MONITOR mode until it ends
// (QUIT, the client going away, Shutdown, or falling behind); after RESET
// it serves it as a normal connection, until it ends or MONITOR runs
// again.
func (s *Server) serveMonitor(c *client) {
	for {
		m, pending := c.monitor, c.pending
		c.pending = nil
		pending, reset, err := s.streamMonitor(m, pending)
		if !reset {
			m.dc.Close()
			s.unregister(c.conn, err)
			return
		}
		c.monitor = nil
		if err := s.serveDetached(c, m.dc, pending); err != nil || c.monitor == nil {
			m.dc.Close()
			s.unregister(c.conn, err)
			return
		}
	}
}

// streamMonitor writes m's lines to its connection and answers what the
// client sends, starting with pending, until QUIT, RESET (reset is true),
// an error, or the monitor falling behind. It returns the commands read
// after RESET but not run.
func (s *Server) streamMonitor(m *monitor, pending []redcon.Command) (rest []redcon.Command, reset bool, err error) {
	dc := m.dc
	var mu sync.Mutex // one writer at a time on dc
	stop := make(chan struct{})
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for {
			select {
			case <-stop:
				return
			case <-m.behind:
				dc.Close() // ends the reader's ReadCommand
				return
			case line := <-m.lines:
				mu.Lock()
				dc.WriteRaw(line)
				for n := len(m.lines); n > 0; n-- {
					dc.WriteRaw(<-m.lines)
				}
				err := dc.Flush()
				mu.Unlock()
				if err != nil {
					dc.Close()
					return
				}
			}
		}
	}()
	defer func() {
		s.monitors.remove(m)
		close(stop)
		<-wrote
	}()
	mu.Lock()
	err = dc.Flush() // the +OK
	mu.Unlock()
	for err == nil {
		var cmd redcon.Command
		if cmd, err = nextCommand(dc, &pending); err != nil {
			break
		}
		name := ""
		if len(cmd.Args) > 0 {
			name = string(cmd.Args[0])
		}
		mu.Lock()
		switch {
		case equalFold([]byte(name), "quit"):
			dc.WriteString("OK")
			if err = dc.Flush(); err == nil {
				mu.Unlock()
				return nil, false, nil
			}
		case equalFold([]byte(name), "reset") && len(cmd.Args) == 1:
			mu.Unlock()
			return pending, true, nil
		default:
			dc.WriteError(errMonitorOnly.msg)
			err = dc.Flush()
		}
		mu.Unlock()
	}
	return nil, false, err
}

// serveDetached serves a connection MONITOR detached and RESET made normal
// again, starting with RESET's answer and then pending, until it ends
// (QUIT, an error) or MONITOR runs again (c.monitor is set, c.pending
// holds what the client sent after it).
func (s *Server) serveDetached(c *client, dc redcon.DetachedConn, pending []redcon.Command) error {
	s.handle(dc, redcon.Command{Args: [][]byte{[]byte("RESET")}})
	for c.monitor == nil {
		if err := dc.Flush(); err != nil || c.closed {
			return err
		}
		cmd, err := nextCommand(dc, &pending)
		if err != nil {
			return err
		}
		s.handle(dc, cmd)
	}
	c.pending = append(c.pending, pending...)
	return nil
}

// nextCommand returns the first of *pending, the commands read before the
// connection was detached, or else the next one the client sends.
func nextCommand(dc redcon.DetachedConn, pending *[]redcon.Command) (redcon.Command, error) {
	if len(*pending) > 0 {
		cmd := (*pending)[0]
		*pending = (*pending)[1:]
		return cmd, nil
	}
	return dc.ReadCommand()
}
