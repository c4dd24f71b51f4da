package server

import (
	"bytes"
	"slices"
	"time"

	"github.com/ringcache/ringcache/server/store"
)

// Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//
// After MULTI a client's commands are queued (each answered QUEUED) until
// EXEC or DISCARD. A command refused while queuing (unknown, wrong
// arity, not allowed) marks the transaction failed, and its EXEC answers
// EXECABORT. WATCH remembers the version of each key (store.Item.Version);
// EXEC answers a null array, running nothing, if any of them changed.
//
// On one node, and in a cluster when every key of the transaction (its
// commands' and its watched keys) has one primary, EXEC runs at that
// primary with the stripes of all those keys locked: the watched
// versions are compared and the commands run with nothing in between,
// and reads of the same keys (which take their stripes shared) see all
// of the transaction or none of it. Keys with different primaries cannot
// be locked together: then EXEC compares the watched versions, and runs
// the commands one after another, each atomic on its own keys, unless
// Config.StrictTransactions refuses the transaction with CROSSSLOT, as
// Redis Cluster does.

// txn is a client's transaction between MULTI and EXEC.
type txn struct {
	cmds   [][][]byte // queued, copied out of redcon's buffers
	failed bool       // a command was refused while queuing
}

// watchedKey is a key WATCH read, and what it read.
type watchedKey struct {
	db      int
	key     []byte
	version store.Version
}

var (
	errNestedMulti = newReplyError("ERR MULTI calls can not be nested")
	errExecNoMulti = newReplyError("ERR EXEC without MULTI")
	errDiscardNo   = newReplyError("ERR DISCARD without MULTI")
	errWatchInside = newReplyError("ERR WATCH inside MULTI is not allowed")
	errExecAbort   = newReplyError("EXECABORT Transaction discarded because of previous errors.")
	errMonitorTxn  = newReplyError("ERR MONITOR isn't allowed for DENY BLOCKING client")
	errCrossSlot   = newReplyError("CROSSSLOT Keys in request don't hash to the same slot")
)

// queued reports whether exec must queue cmd rather than run it: the
// client is in MULTI and cmd is not one of those that act on the
// transaction itself.
func queued(c *client, cmd *command) bool {
	if c.multi == nil {
		return false
	}
	switch cmd.name {
	case "exec", "discard", "multi", "watch", "quit", "reset":
		return false
	}
	return true
}

// queue adds args to the client's transaction.
func (c *client) queue(args [][]byte) {
	cp := make([][]byte, len(args))
	n := 0
	for _, a := range args {
		n += len(a)
	}
	buf := make([]byte, 0, n)
	for i, a := range args {
		buf = append(buf, a...)
		cp[i] = buf[len(buf)-len(a) : len(buf) : len(buf)]
	}
	c.multi.cmds = append(c.multi.cmds, cp)
}

// discardTxn ends the client's transaction and forgets its watched keys.
func (c *client) discardTxn() {
	c.multi = nil
	c.watching = nil
}

func cmdMulti(x *call) error {
	if x.c.multi != nil {
		return errNestedMulti
	}
	x.c.multi = &txn{}
	x.conn.WriteString("OK")
	return nil
}

func cmdDiscard(x *call) error {
	if x.c.multi == nil {
		return errDiscardNo
	}
	x.c.discardTxn()
	x.conn.WriteString("OK")
	return nil
}

func cmdUnwatch(x *call) error {
	x.c.watching = nil
	x.conn.WriteString("OK")
	return nil
}

// cmdWatch reads the keys' versions from every copy the store reaches.
func cmdWatch(x *call) error {
	if x.c.multi != nil {
		return errWatchInside
	}
	keys := x.args[1:]
	items, err := x.readMany(keys, true)
	if err != nil {
		return err
	}
	for i, k := range keys {
		x.c.watching = append(x.c.watching, watchedKey{db: x.c.db, key: bytes.Clone(k), version: items[i].Version})
	}
	x.conn.WriteString("OK")
	return nil
}

func cmdExec(x *call) error {
	c := x.c
	if c.multi == nil {
		return errExecNoMulti
	}
	t, watch := c.multi, c.watching
	c.discardTxn()
	if t.failed {
		return errExecAbort
	}
	return x.s.execTxn(c, x.conn, t.cmds, watch)
}

// execTxn runs a transaction for client c: where its keys' primary is,
// atomically, or command by command when they have several primaries.
func (s *Server) execTxn(c *client, conn *reply, cmds [][][]byte, watch []watchedKey) error {
	if s.router == nil || c.atPrimary {
		return s.execAtomic(c, conn, cmds, watch)
	}
	keys, ok := txnKeys(c.db, cmds, watch)
	spread := func() error {
		if len(keys) > 0 && s.cfg.StrictTransactions {
			return errCrossSlot
		}
		return s.execInTurn(c, conn, cmds, watch)
	}
	if !ok {
		return spread()
	}
	return s.route(keys, func() error { return s.execAtomic(c, conn, cmds, watch) }, spread,
		func(id string) error { return s.forwardTxn(c, conn, id, cmds, watch) })
}

// txnKeys returns the store keys of a transaction's commands (in
// database db, the client's when EXEC came) and of its watched keys. ok
// is false when a command changes the database (SELECT, SWAPDB) or has
// keys in another one (MOVE, COPY DB): its keys cannot be known before it
// runs, so the transaction runs command by command.
func txnKeys(db int, cmds [][][]byte, watch []watchedKey) (keys [][]byte, ok bool) {
	for _, args := range cmds {
		cmd, err := resolve(args)
		if err != nil {
			continue
		}
		switch cmd.name {
		case "select", "swapdb", "move", "copy", "flushall", "flushdb":
			return nil, false
		}
		keys = append(keys, storeKeys(db, keyArgs(cmd, args))...)
	}
	for _, w := range watch {
		keys = append(keys, appendDBKey(nil, w.db, w.key))
	}
	return keys, true
}

// execAtomic runs a transaction on this node with every key it touches
// locked: none of its commands is forwarded, none locks on its own.
func (s *Server) execAtomic(c *client, conn *reply, cmds [][][]byte, watch []watchedKey) error {
	var keys [][]byte
	for _, args := range cmds {
		if cmd, err := resolve(args); err == nil {
			keys = append(keys, keyArgs(cmd, args)...)
		}
	}
	stripes := s.lockAll(keys, watch)
	defer s.locks.unlock(stripes)
	if changed, err := s.watchChanged(c, watch); err != nil || changed {
		if err == nil {
			conn.WriteNullArray()
		}
		return err
	}
	c.inExec, c.inTxn = true, true
	defer func() { c.inExec, c.inTxn = false, false }()
	conn.WriteArray(len(cmds))
	for _, args := range cmds {
		s.exec(c, conn, args)
	}
	return nil
}

// execInTurn runs a transaction whose keys have several primaries: the
// watched versions are compared, then each command runs as if sent alone.
func (s *Server) execInTurn(c *client, conn *reply, cmds [][][]byte, watch []watchedKey) error {
	if changed, err := s.watchChanged(c, watch); err != nil || changed {
		if err == nil {
			conn.WriteNullArray()
		}
		return err
	}
	c.inTxn = true
	defer func() { c.inTxn = false }()
	conn.WriteArray(len(cmds))
	for _, args := range cmds {
		s.exec(c, conn, args)
	}
	return nil
}

// lockAll takes, exclusively and in order, the stripes of keys (as the
// client sent them: stripes hash keys without their database) and of the
// watched keys.
func (s *Server) lockAll(keys [][]byte, watch []watchedKey) []int {
	all := slices.Grow(slices.Clip(keys), len(watch))
	for _, w := range watch {
		all = append(all, w.key)
	}
	stripes := stripesOf(nil, all)
	s.locks.lock(stripes)
	return stripes
}

// watchChanged reports whether a watched key's version differs from the
// one WATCH read.
func (s *Server) watchChanged(c *client, watch []watchedKey) (bool, error) {
	if len(watch) == 0 {
		return false, nil
	}
	keys := make([][]byte, len(watch))
	for i, w := range watch {
		keys[i] = appendDBKey(nil, w.db, w.key)
	}
	items, err := s.storeRead(c.storeCtx(s), keys, true)
	if err != nil {
		return false, err
	}
	for i, w := range watch {
		if items[i].Version != w.version {
			return true, nil
		}
	}
	return false, nil
}

// forwardTxn runs a transaction at node id, its keys' primary, and writes
// EXEC's reply to c.
func (s *Server) forwardTxn(c *client, conn *reply, id string, cmds [][][]byte, watch []watchedKey) error {
	req := forwardRequest{hop: c.hop + 1, db: c.db, resp3: c.w.resp3, read: c.readLevel, write: c.writeLevel,
		txn: true, watch: watch, cmds: cmds}
	for _, cmd := range cmds {
		if cmd := lookup(cmd[0]); cmd != nil && runsScript(cmd) {
			req.deadline = s.scriptDeadline()
			break
		}
	}
	start := time.Now()
	err := s.sendForward(c, conn, id, &req)
	if err == nil && c.counted() {
		// Counted here, the node the client sent them to, as when the
		// transaction runs here (whether each failed is not known here).
		share := time.Since(start) / time.Duration(max(len(cmds), 1))
		for _, args := range cmds {
			if cmd, rerr := resolve(args); rerr == nil {
				s.cmdStats.ran(cmd.name, share, false)
			}
		}
	}
	return err
}
