package server

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"github.com/ringcache/ringcache/server/store"
)

// call is one command being executed: the handler's whole world. Each
// client reuses its own call value, so dispatch does not allocate.
type call struct {
	s    *Server
	c    *client
	conn *reply
	cmd  *command
	args [][]byte
	// start is when the handler began (after a CLIENT PAUSE ended).
	start time.Time
	// opCtx, when set, is the context of the command's store calls: a
	// read-modify-write's, with its deadline.
	opCtx context.Context
}

// handle is redcon's handler. redcon hands over the first command of a
// pipeline; handle takes the rest with ReadPipeline so runs of GET/MGET and
// plain SET/MSET become one Store call each. A panic is contained to the
// client that caused it.
func (s *Server) handle(rc redcon.Conn, first redcon.Command) {
	c := clientOf(rc)
	if c == nil {
		rc.WriteError("ERR internal error")
		rc.Close()
		return
	}
	conn := &c.w
	conn.Conn = rc
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in command handler; closing client",
				"id", c.id, "panic", r, "stack", string(debug.Stack()))
			conn.WriteError(errInternal.msg)
			conn.Close()
		}
	}()
	cmds := append(c.cmds[:0], first)
	cmds = append(cmds, rc.ReadPipeline()...)
	if waited, refuse := s.stalledWait(c.conn); refuse {
		msg := fmt.Sprintf("TIMEOUT the command waited %v while this node was not running, longer than %v; it was not run",
			waited.Round(time.Millisecond), s.cfg.MaxWait)
		for range cmds {
			conn.WriteError(msg)
		}
		s.stats.stalled.Add(int64(len(cmds)))
		clear(cmds)
		c.cmds = cmds[:0]
		return
	}
	executed, i := 0, 0
	for i < len(cmds) && !c.closed && c.monitor == nil {
		if !c.needsAuth() && !c.silent() && c.multi == nil && !s.scripts.Busy() {
			if n := s.runBatch(c, conn, cmds[i:]); n > 0 {
				i += n
				executed += n
				continue
			}
		}
		s.exec(c, conn, cmds[i].Args)
		i++
		executed++
	}
	if c.monitor != nil {
		// MONITOR ran: serveMonitor serves the connection from now on,
		// starting with the rest of this pipeline.
		c.pending = copyCommands(cmds[i:])
	}
	clear(cmds)
	c.cmds = cmds[:0]
	s.stats.commands.Add(int64(executed))
	c.lastActive.Store(time.Now().UnixMilli())
}

// stalledWait reports how long the pipeline about to run may have waited
// through a stall of the process (SIGSTOP, a frozen machine) and whether
// that is longer than Config.MaxWait. Only a stall counts: a pipeline that
// waited behind slow commands of its own connection runs.
func (s *Server) stalledWait(cc *clientConn) (time.Duration, bool) {
	if s.cfg.MaxWait <= 0 || s.cfg.Arrivals == nil || cc == nil {
		return 0, false
	}
	now := time.Now()
	var from time.Time
	if cc.arrived.Before(cc.readAt) {
		from = cc.arrived // arrived during a stall, read as the process ran again
	} else if s.cfg.Arrivals.Arrival(cc.readAt, now).Before(now) {
		from = cc.readAt // read before a stall, run after it
	} else {
		return 0, false
	}
	waited := now.Sub(from)
	return waited, waited > s.cfg.MaxWait
}

// runsScript reports whether cmd runs a Lua script (EVAL and its forms).
func runsScript(cmd *command) bool {
	switch cmd.name {
	case "eval", "evalsha", "eval_ro", "evalsha_ro":
		return true
	}
	return false
}

// stalledWrite refuses the write of a command that began at start if
// the process stalled since (SIGSTOP, a frozen machine) and the command
// has now been running longer than Config.MaxWait. A read-modify-write
// (GETSET, INCR, SETRANGE, ...) reads the key's replicas before it
// writes; stopped in between and run again later, it would stamp its
// write with a fresh version, above the writes its client made through
// other nodes after giving up on it. The check at dispatch cannot see a
// stall that comes after it.
func (s *Server) stalledWrite(start time.Time) error {
	if s.cfg.MaxWait <= 0 || s.cfg.Arrivals == nil || start.IsZero() {
		return nil
	}
	now := time.Now()
	waited := now.Sub(start)
	// Asked only of a command already running longer than MaxWait, so
	// the usual write does not take the detector's lock.
	if waited <= s.cfg.MaxWait || !s.cfg.Arrivals.Arrival(start, now).Before(now) {
		return nil
	}
	s.stats.stalled.Add(1)
	return newReplyError(fmt.Sprintf("TIMEOUT the command was held up %v by a stall of this node, longer than %v; it wrote nothing",
		waited.Round(time.Millisecond), s.cfg.MaxWait))
}

// exec runs one command: lookup, arity, auth, handler, and the single place
// where a handler's error becomes an error reply.
func (s *Server) exec(c *client, conn *reply, args [][]byte) {
	if len(args) == 0 {
		return
	}
	cmd, err := resolve(args)
	if err == nil && c.needsAuth() && cmd.flags&flagNoAuth == 0 {
		err = errNoAuth
	}
	if err == nil && cmd.flags&flagAllowBusy == 0 && c.origin != "lua" && s.scripts.Busy() {
		err = errBusy
	}
	if err == nil && cmd.flags&flagDenyOOM != 0 && !s.memoryAdmits() {
		err = errOOM
	}
	if err == nil && c.multi != nil && cmd.flags&flagNoMulti != 0 {
		err = errNotInMulti
	}
	if err != nil && cmd != nil && c.counted() {
		s.cmdStats.rejected(cmd.name)
	}
	if err == nil && queued(c, cmd) {
		c.queue(args)
		conn.WriteString("QUEUED")
		return
	}
	if err != nil && c.multi != nil {
		c.multi.failed = true // EXEC will answer EXECABORT
		if equalFold(args[0], "exec") {
			// An EXEC refused before it runs (arity, ...) ends the
			// transaction, as Redis's execCommandAbort does.
			c.discardTxn()
			err = newReplyError("EXECABORT Transaction discarded because of: " + strings.TrimPrefix(replyText(err), "ERR "))
		}
	}
	silent := c.silent()
	c.skipNext = false
	if silent {
		conn.mute()
		defer conn.unmute()
	}
	if err == nil {
		c.lastCmd.Store(cmd)
		conn.errored = false
		x := &c.call
		*x = call{s: s, c: c, conn: conn, cmd: cmd, args: args}
		start := time.Now()
		if s.paused.paused(start) && c.pausable() {
			s.paused.wait(c.pausedAsWrite(cmd), s.closingCh)
			start = time.Now()
		}
		x.start = start
		if !c.scriptStart.IsZero() {
			x.start = c.scriptStart
		}
		var cancel context.CancelFunc
		if cmd.primary != nil && cmd.primary(args) {
			x.opCtx = store.WithReadModifyWrite(c.storeCtx(s))
			if s.cfg.MaxWait > 0 && !runsScript(cmd) {
				// It writes within MaxWait of its start or not at all (the
				// store refuses a write stamped later). A script may run
				// longer, as in Redis: its commands have deadlines of their
				// own, and a stall of the process since it began stops its
				// writes (stalledWrite).
				x.opCtx, cancel = context.WithDeadline(x.opCtx, start.Add(s.cfg.MaxWait))
			}
		}
		if stripes := s.shareReadKeys(c, cmd, args); stripes != nil {
			err = s.run(x)
			s.locks.runlock(stripes)
			c.stripes = stripes[:0]
		} else {
			err = s.run(x)
		}
		if cancel != nil {
			cancel()
		}
		x.args, x.opCtx = nil, nil
		d := time.Since(start)
		if c.counted() {
			// EXEC's errored is its last command's: its commands' errors
			// are theirs, as in Redis.
			s.cmdStats.ran(cmd.name, d, err != nil || conn.errored && cmd.name != "exec")
		}
		if s.metrics != nil {
			s.metrics.ObserveCommand(cmd.name, d, err != nil)
		}
		s.latency.observe(cmd.flags&flagFast != 0, d, start)
		s.feed(c, cmd, args, start)
		if s.slow.slow(d) && cmd.flags&flagNoAuth == 0 {
			s.slow.add(c, args, d, start)
		}
	}
	if err != nil {
		conn.WriteError(replyText(err))
	}
}

// shareReadKeys takes shared the stripes of the keys of a command that
// only reads them, so that it sees all of a transaction or none of it
// (EXEC holds them exclusively), and returns them; nil when it takes
// none: the command writes, has no keys, runs inside EXEC, or is GET or
// MGET, whose readBatch takes them itself.
func (s *Server) shareReadKeys(c *client, cmd *command, args [][]byte) []int {
	if cmd.flags&flagReadonly == 0 || cmd.firstKey <= 0 || c.inExec || cmd.name == "get" || cmd.name == "mget" {
		return nil
	}
	keys := keyArgs(cmd, args)
	if len(keys) == 0 {
		return nil
	}
	stripes := stripesOf(c.stripes, keys)
	s.locks.rlock(stripes)
	return stripes
}

// resolve finds the command (or subcommand) for args and checks its arity.
func resolve(args [][]byte) (*command, error) {
	cmd := lookup(args[0])
	if cmd == nil {
		return nil, unknownCommand(args)
	}
	if cmd.subs != nil && (len(args) >= 2 || cmd.run == nil) {
		if len(args) < 2 {
			return nil, wrongArity(cmd.name)
		}
		sub := cmd.lookupSub(args[1])
		if sub == nil {
			return nil, newReplyError("ERR unknown subcommand '" + clip(args[1], 128) +
				"'. Try " + strings.ToUpper(cmd.name) + " HELP.")
		}
		cmd = sub
	}
	if (cmd.arity > 0 && len(args) != cmd.arity) || (cmd.arity < 0 && len(args) < -cmd.arity) {
		return nil, wrongArity(cmd.name)
	}
	return cmd, nil
}

func wrongArity(name string) error {
	return newReplyError("ERR wrong number of arguments for '" + name + "' command")
}

// unknownCommand builds Redis 7's reply: the name and arguments are quoted,
// clipped to 128 bytes, and CR/LF become spaces.
func unknownCommand(args [][]byte) error {
	var b strings.Builder
	b.WriteString("ERR unknown command '")
	b.WriteString(clip(args[0], 128))
	b.WriteString("', with args beginning with: ")
	written := 0
	for _, a := range args[1:] {
		if written >= 128 {
			break
		}
		part := "'" + clip(a, 128-written) + "' "
		b.WriteString(part)
		written += len(part)
	}
	return newReplyError(b.String())
}

// clip returns at most n bytes of b as a string safe for an error line.
func clip(b []byte, n int) string {
	if n < 0 {
		n = 0
	}
	if len(b) > n {
		b = b[:n]
	}
	out := make([]byte, len(b))
	for i, ch := range b {
		if ch == '\r' || ch == '\n' {
			ch = ' '
		}
		out[i] = ch
	}
	return string(out)
}

// admit asks the memory budget whether a command that may grow the
// dataset may run.
func (s *Server) memoryAdmits() bool { return s.cfg.Memory == nil || s.cfg.Memory.Admit() }
