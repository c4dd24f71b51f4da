package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"

	"github.com/ringcache/ringcache/server/store"
)

// client is one connection's session state. Fields without a comment are
// touched only by the connection's goroutine.
type client struct {
	id      int64
	conn    *clientConn
	created time.Time
	authed  bool // by AUTH, or connected while no password was set

	// lastActive is the Unix time in ms of the last command, read by
	// CLIENT LIST from other goroutines.
	lastActive atomic.Int64
	// lastCmd is the last command run, for CLIENT LIST's cmd= field.
	lastCmd atomic.Pointer[command]

	mu struct {
		sync.Mutex
		name, libName, libVer string
	}

	closed bool // QUIT ran; skip the rest of the pipeline

	// atPrimary is set on the session of a request forwarded by another
	// node (primary.go): its commands run here, none is forwarded again.
	// hop is how often the request was forwarded (0: a client's own).
	atPrimary bool
	hop       int
	// uncounted: INFO commandstats does not count the session's commands
	// (a forwarded request's, and a script's run for one; see counted).
	uncounted bool
	// origin names a session without a socket for MONITOR and SLOWLOG:
	// "forwarded", or "lua" for a script's commands.
	origin string

	// multi is the transaction MULTI began (nil: none); watching, the
	// keys WATCH read. inTxn is set while EXEC runs the transaction's
	// commands, inExec while it runs them with their keys locked: they
	// then neither lock nor forward.
	multi         *txn
	watching      []watchedKey
	inTxn, inExec bool
	// scriptStart is set on a script's session: when its EVAL began. The
	// script's commands count a stall of the process from then
	// (Server.stalledWrite), since what they write may rest on what the
	// script read before.
	scriptStart time.Time
	// monitor is set by MONITOR: the connection left redcon's loop, and
	// serveMonitor serves it, starting with pending, the commands of its
	// pipeline after MONITOR.
	monitor *monitor
	pending []redcon.Command
	// detached is set once MONITOR took the connection out of redcon's
	// loop, for good: redcon's exit callback (Server.closed) then starts
	// serveMonitor instead of forgetting the connection.
	detached atomic.Bool

	// db is the database SELECT chose; dbShown the same, for CLIENT
	// LIST on other connections' goroutines (selectDB sets both).
	db      int
	dbShown atomic.Int32

	// CLIENT REPLY OFF, and SKIP (the next command's reply); CLIENT
	// NO-EVICT (kept for when eviction exists).
	replyOff, skipNext, noEvict bool

	// ctx, when not nil, replaces the server's context in this
	// connection's Store calls: it carries a RINGCACHE CONSISTENCY
	// override. It is set once per override, so commands pay only a nil
	// check. Invariant: ctx is nil exactly when readLevel and writeLevel
	// are empty.
	ctx                   context.Context
	readLevel, writeLevel string
	// base is the context the connection's Store calls start from: the
	// server's, carrying receipt, which learns how many replicas
	// acknowledged the connection's last write (WAIT).
	base    context.Context
	receipt store.Receipt

	// Scratch space reused across pipelines so the hot path does not
	// allocate. Each is cleared after use so it does not pin requests.
	cmds    []redcon.Command
	keys    [][]byte
	muts    []store.Mutation
	hashes  []uint64
	stripes []int
	call    call

	// w writes this connection's replies, in the protocol it chose;
	// proto is that protocol's version, for CLIENT LIST on other
	// connections' goroutines. setProto changes both.
	w     reply
	proto atomic.Int32
}

// addr is the client's address for MONITOR and SLOWLOG: its socket's
// peer, or "forwarded" for a forwarded request's session.
func (c *client) addr() string {
	if c.conn == nil {
		return c.origin
	}
	return c.conn.RemoteAddr().String()
}

// needsAuth reports whether the client must AUTH before other commands:
// it has not, and a password is set (CONFIG SET may set or clear one).
func (c *client) needsAuth() bool { return !c.authed && c.conn.srv.live.password() != "" }

// setProto switches the connection's replies to RESP3 or back to RESP2.
func (c *client) setProto(resp3 bool) {
	c.w.resp3 = resp3
	c.proto.Store(int32(c.w.proto()))
}

// storeCtx is the context of this connection's Store calls: its
// consistency override, or the server's context.
func (c *client) storeCtx(s *Server) context.Context {
	if c.ctx != nil {
		return c.ctx
	}
	return c.baseCtx(s)
}

// baseCtx is the server's context carrying the connection's write
// receipt (WAIT), made once per connection.
func (c *client) baseCtx(s *Server) context.Context {
	if c.base == nil {
		c.base = store.WithReceipt(s.ctx, &c.receipt)
	}
	return c.base
}

// setConsistency installs (ctx non-nil) or clears (ctx nil) the
// connection's consistency override.
func (c *client) setConsistency(ctx context.Context, read, write string) {
	c.ctx, c.readLevel, c.writeLevel = ctx, read, write
}

// clearConsistency drops the connection's consistency override.
func (c *client) clearConsistency() {
	c.ctx, c.readLevel, c.writeLevel = nil, "", ""
}

func (c *client) selectDB(db int) {
	c.db = db
	c.dbShown.Store(int32(db))
}

func (c *client) setName(name string) {
	c.mu.Lock()
	c.mu.name = name
	c.mu.Unlock()
}

func (c *client) name() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.name
}

func (c *client) setLib(name, ver *string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if name != nil {
		c.mu.libName = *name
	}
	if ver != nil {
		c.mu.libVer = *ver
	}
}

func (c *client) lib() (name, ver string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.libName, c.mu.libVer
}

// clientOf returns the session behind a redcon connection, attaching it on
// the connection's first command.
func clientOf(conn redcon.Conn) *client {
	if c, ok := conn.Context().(*client); ok {
		return c
	}
	cc, ok := conn.NetConn().(*clientConn)
	if !ok {
		return nil
	}
	conn.SetContext(cc.cl)
	return cc.cl
}

// pausable reports whether CLIENT PAUSE holds the session's commands:
// it pauses this node's clients. A request another node forwarded to
// this one as its keys' primary is that node's client's, and runs (its
// sender waits a request timeout at most). The commands of a script or
// of EXEC run: the pause held the script or the transaction before it
// began, or let it begin, as in Redis (held midway, they would keep
// their keys locked).
func (c *client) pausable() bool {
	return c.origin != "forwarded" && c.origin != "lua" && !c.inExec
}

// counted reports whether INFO commandstats counts the session's
// commands: every session's but a forwarded request's, which the node
// its client sent it to counts (and the local relay of lone INCRs, which
// runs as one), and a script's run for one.
func (c *client) counted() bool { return !c.uncounted }

// pausedAsWrite reports whether CLIENT PAUSE WRITE holds cmd: writes,
// and, as in Redis, EVAL and EVALSHA (a script may write), WAIT, and an
// EXEC whose transaction holds one of them.
func (c *client) pausedAsWrite(cmd *command) bool {
	switch cmd.name {
	case "eval", "evalsha", "wait":
		return true
	case "exec":
		if c.multi != nil {
			for _, args := range c.multi.cmds {
				if q := lookup(args[0]); q != nil && c.pausedAsWrite(q) {
					return true
				}
			}
		}
	}
	return cmd.flags&flagWrite != 0
}
