package server

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ringcache/ringcache/server/script"
)

// Scripts: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT. Package script
// runs them on an embedded Lua; this file gives them their keys, their
// locks and the commands they call.
//
// A script runs with the stripes of its KEYS locked, like a transaction,
// and its redis.call commands run in a session of their own (the
// client's database, protocol per redis.setresp, authenticated) that
// neither locks nor forwards: the script is atomic with respect to every
// other command of its keys on the node. In a cluster it runs at its
// keys' primary (run, primary.go, forwards it there); keys with different
// primaries get Redis Cluster's CROSSSLOT. Keys a script touches without
// declaring them in KEYS are not locked (Redis Cluster does not allow
// them at all).
//
// The script cache is per node, as in Redis, but a cluster behaves as one
// Redis: SCRIPT LOAD and SCRIPT FLUSH reach every healthy member, and an
// EVALSHA of a script this node has not cached fetches it from the
// others (RINGCACHE SCRIPT) before it answers NOSCRIPT.

// Peers is implemented by stores with other members (the cluster's
// Node); the server finds it by type assertion.
type Peers interface {
	// Peers returns the ids of the other members it may forward to now:
	// those this node considers healthy.
	Peers() []string
}

var (
	errNumKeys     = newReplyError("ERR Number of keys can't be greater than number of args")
	errNegNumKeys  = newReplyError("ERR Number of keys can't be negative")
	errScriptFlush = newReplyError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
	errBusy        = newReplyError(strings.TrimSuffix(strings.TrimPrefix(script.ReplyBusy, "-"), "\r\n"))
)

// evalArgs splits EVAL's arguments after the script: numkeys, the keys,
// then ARGV.
func evalArgs(args [][]byte) (keys, argv [][]byte, err error) {
	n, ok := parseInt64(args[2])
	switch {
	case !ok:
		return nil, nil, errNotInteger
	case n < 0:
		return nil, nil, errNegNumKeys
	case n > int64(len(args)-3):
		return nil, nil, errNumKeys
	}
	return args[3 : 3+n], args[3+n:], nil
}

// evalKeys is the EVAL family's key function (command.keys): its KEYS,
// or none when numkeys is invalid.
func evalKeys(args [][]byte) [][]byte {
	if len(args) < 3 {
		return nil
	}
	keys, _, err := evalArgs(args)
	if err != nil {
		return nil
	}
	return keys
}

// errScriptLate refuses a forwarded script that could only start after
// its sender's deadline.
var errScriptLate = newReplyError("TIMEOUT the script could not start before its sender's deadline; it was not run")

func cmdEval(x *call) error      { return x.eval(false, false) }
func cmdEvalRO(x *call) error    { return x.eval(false, true) }
func cmdEvalSHA(x *call) error   { return x.eval(true, false) }
func cmdEvalSHARO(x *call) error { return x.eval(true, true) }

// eval runs EVAL (bySHA false: args[1] is the script) or EVALSHA (the
// SHA1 of a cached one), read-only for the _RO forms.
func (x *call) eval(bySHA, readOnly bool) error {
	if bySHA && len(x.args[1]) != 40 {
		// No script has such a SHA1: Redis answers NOSCRIPT before it
		// reads numkeys.
		x.conn.writeReply([]byte(script.ReplyNoScript))
		return nil
	}
	keys, argv, err := evalArgs(x.args)
	if err != nil {
		return err
	}
	s := x.s
	if s.router != nil && len(keys) > 0 && !x.c.inExec {
		// run forwards a script whose keys have one primary; here the
		// keys are this node's or have several primaries.
		if id, _ := s.primaryOf(storeKeys(x.c.db, keys)); id == "" {
			return errCrossSlot
		}
	}
	conn, c := x.conn, x.c
	sha := string(x.args[1])
	if bySHA && !s.scripts.Exists(sha) {
		s.fetchScript(x.ctx(), sha) // before the keys are locked
	}
	if !c.inExec {
		defer x.unlockKeys(x.lockKeys(keys))
	}
	ctx := x.ctx()
	if d, ok := ctx.Deadline(); ok && c.origin == "forwarded" {
		// A script forwarded by another node runs to its end as a local
		// one does, past its sender's deadline (the sender may have
		// answered its client by then): stopped halfway, it would leave
		// half its writes. One that could not start in time (it waited
		// for its keys' locks) does not start: its sender gave up on it
		// and its client may send it again. It keeps the request's
		// values; the node's shutdown stops it.
		if !time.Now().Before(d) {
			return errScriptLate
		}
		var stop context.CancelFunc
		ctx, stop = context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		defer close(done)
		defer stop()
		go func() {
			select {
			case <-s.closingCh:
				stop()
			case <-done:
			}
		}()
	}
	host := s.newScriptHost(c, ctx, x.start)
	run := script.Run{Keys: keys, Args: argv, Proto: c.w.proto(), ReadOnly: readOnly, Host: host}
	var reply []byte
	if bySHA {
		reply, err = s.scripts.EvalSHA(ctx, sha, run)
		if err != nil {
			conn.writeReply([]byte(script.RESPError(err)))
			return nil
		}
	} else {
		reply = s.scripts.Eval(ctx, x.args[1], run)
	}
	conn.writeReply(reply)
	return nil
}

// scriptHost runs a script's redis.call commands in a session of their
// own: the client's database and consistency levels, its write receipt
// (WAIT after EVAL counts the script's last write), the protocol the
// script asks for, and its keys already locked by the script.
type scriptHost struct {
	s   *Server
	c   *client
	out *captured
}

func (s *Server) newScriptHost(parent *client, ctx context.Context, start time.Time) *scriptHost {
	c := &client{id: parent.id, authed: true, atPrimary: parent.atPrimary, hop: parent.hop, inExec: true, inTxn: true,
		origin: "lua", created: time.Now(), scriptStart: start, uncounted: !parent.counted()}
	c.selectDB(parent.db)
	out := &captured{}
	c.w.Conn = out
	c.base = ctx
	return &scriptHost{s: s, c: c, out: out}
}

// Command implements script.Host from the command table.
func (h *scriptHost) Command(args [][]byte) (script.Command, bool) {
	cmd := lookup(args[0])
	if cmd == nil {
		return script.Command{}, false
	}
	arity := cmd.arity
	if cmd.subs != nil {
		if len(args) > 1 {
			if sub := cmd.lookupSub(args[1]); sub != nil {
				cmd = sub
			}
		}
		arity = -1 // the dispatcher judges the subcommand
	}
	return script.Command{Arity: arity, Write: cmd.flags&flagWrite != 0, NoScript: cmd.flags&flagNoScript != 0}, true
}

// Call implements script.Host: the command runs as the client's would,
// its reply captured.
func (h *scriptHost) Call(args [][]byte, proto int) []byte {
	h.out.buf = h.out.buf[:0]
	h.c.setProto(proto == 3)
	h.s.exec(h.c, &h.c.w, args)
	return bytes.Clone(h.out.buf)
}

// fetchScript asks the other members for a script this node has not
// cached and caches it; false if none has it.
func (s *Server) fetchScript(ctx context.Context, sha string) bool {
	if s.router == nil || s.peers == nil || len(sha) != 40 {
		return false
	}
	for _, id := range s.peers.Peers() {
		req := forwardRequest{hop: maxHops, cmds: [][][]byte{{[]byte("RINGCACHE"), []byte("SCRIPT"), []byte(sha)}}}
		b, err := s.forwardTo(ctx, id, &req)
		if err != nil {
			continue
		}
		ans, err := decodeAnswer(b)
		if err != nil {
			continue
		}
		if body, ok := parseBulk(ans.replies); ok {
			if got, err := s.scripts.Load(body); err == nil && strings.EqualFold(got, sha) {
				return true
			}
		}
	}
	return false
}

// parseBulk returns the bulk string that is the whole of reply.
func parseBulk(reply []byte) ([]byte, bool) {
	if len(reply) < 4 || reply[0] != '$' {
		return nil, false
	}
	i := bytes.Index(reply, []byte("\r\n"))
	n, err := strconv.Atoi(string(reply[1:max(i, 1)]))
	if i < 0 || err != nil || n < 0 || len(reply) != i+2+n+2 {
		return nil, false
	}
	return reply[i+2 : i+2+n], true
}

// toPeers runs args on every other healthy member (SCRIPT LOAD, FLUSH,
// KILL) at once, and returns their replies; a member that fails is left
// out. A forwarded client's command reaches no one: the node it came from
// reaches them.
func (s *Server) toPeers(c *client, args [][]byte) [][]byte {
	if c.atPrimary || s.router == nil || s.peers == nil {
		return nil
	}
	ids := s.peers.Peers()
	out := make([][]byte, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			req := forwardRequest{hop: maxHops, cmds: [][][]byte{args}}
			b, err := s.forwardTo(c.storeCtx(s), id, &req)
			if err != nil {
				return
			}
			if ans, err := decodeAnswer(b); err == nil {
				out[i] = ans.replies
			}
		})
	}
	wg.Wait()
	return out
}

func cmdScriptLoad(x *call) error {
	sha, err := x.s.scripts.Load(x.args[2])
	if err != nil {
		x.conn.writeReply([]byte(script.RESPError(err)))
		return nil
	}
	x.s.toPeers(x.c, x.args)
	x.conn.WriteBulkString(sha)
	return nil
}

func cmdScriptExists(x *call) error {
	x.conn.WriteArray(len(x.args) - 2)
	for _, sha := range x.args[2:] {
		if x.s.scripts.Exists(string(sha)) {
			x.conn.WriteInt(1)
		} else {
			x.conn.WriteInt(0)
		}
	}
	return nil
}

func cmdScriptFlush(x *call) error {
	if len(x.args) > 3 || len(x.args) == 3 && !equalFold(x.args[2], "sync") && !equalFold(x.args[2], "async") {
		return errScriptFlush
	}
	x.s.scripts.Flush()
	x.s.toPeers(x.c, x.args)
	x.conn.WriteString("OK")
	return nil
}

// cmdScriptKill stops the busy script of this node, or else of another
// member (in a cluster a script runs at its keys' primary).
func cmdScriptKill(x *call) error {
	err := x.s.scripts.Kill()
	if errors.Is(err, script.ErrNotBusy) {
		for _, r := range x.s.toPeers(x.c, x.args) {
			if len(r) > 0 && !bytes.HasPrefix(r, []byte("-NOTBUSY")) {
				x.conn.writeReply(r)
				return nil
			}
		}
	}
	if err != nil {
		x.conn.writeReply([]byte(script.RESPError(err)))
		return nil
	}
	x.conn.WriteString("OK")
	return nil
}

func cmdScriptHelp(x *call) error {
	return writeHelp(x, "SCRIPT", []string{
		"EXISTS <sha1> [<sha1> ...]",
		"    Return information about the existence of the scripts in the script cache.",
		"FLUSH [ASYNC|SYNC]",
		"    Flush the Lua scripts cache. Very dangerous on replicas.",
		"    When called without the optional mode argument, the behavior is determined by the",
		"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
		"    * ASYNC: Asynchronously flush the scripts cache.",
		"    * SYNC: Synchronously flush the scripts cache.",
		"KILL",
		"    Kill the currently executing Lua script.",
		"LOAD <script>",
		"    Load a script into the scripts cache without executing it.",
	})
}

// cmdRingcacheScript answers the body of a cached script, or a null: the
// members of a cluster fetch the scripts they lack from each other.
func cmdRingcacheScript(x *call) error {
	body, ok := x.s.scripts.Body(string(x.args[2]))
	if !ok {
		x.conn.WriteNull()
		return nil
	}
	x.conn.WriteBulk(body)
	return nil
}
