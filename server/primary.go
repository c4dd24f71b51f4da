package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tidwall/redcon"

	"github.com/ringcache/ringcache/server/store"
)

// A primary per key. In a cluster, any node accepts a command, and blind
// writes and reads run where they arrive; but a read-modify-write (INCR,
// SET NX, GETDEL, ...) run by two coordinators at once could interleave
// its read and its write with the other's. So those commands run at the
// key's primary (the store's Router names it: in a cluster, the first
// owner of its preference list that gossip reports alive): a
// coordinator that is not the primary forwards the command there, and the
// primary serializes it with every other command of the key under its key
// locks (keylock.go). A command whose keys have different primaries runs
// where it arrived, atomic on that node only.
//
// Two nodes can disagree on who is healthy for a moment (failure
// detection is not instantaneous); each may then take itself or another
// for a key's primary. A node that receives a forwarded command it is not
// the primary of in its own view passes it on once (maxHops) and then
// refuses it with store.ErrNotRun, which the sender answers by routing
// again, so no command runs on a node that does not hold itself to be the
// primary; but two nodes that each hold themselves to be the primary
// during that window run the key's commands concurrently (README,
// "Atomic operations").

// Router is implemented by stores whose keys have a primary (the
// cluster's Node); the server finds it by type assertion. Keys are store
// keys (db.go).
type Router interface {
	// Primary returns the id of the key's primary in this node's view, and
	// whether that is this node.
	Primary(key []byte) (id string, self bool)
	// Forward sends an encoded forwarded request to node id and returns
	// its encoded answer. An error wrapping store.ErrNotRun means the
	// request did not run.
	Forward(ctx context.Context, id string, req []byte) ([]byte, error)
}

// routeAttempts bounds how often one command is routed again after its
// primary refused it; retryPause is the pause before each new route.
const (
	routeAttempts = 3
	retryPause    = 20 * time.Millisecond
)

// errTryAgain answers a command whose primary kept changing.
var errTryAgain = newReplyError("TRYAGAIN the key's primary is changing (nodes disagree on who is healthy); the command was not run, retry it")

// run runs x's command, at its keys' primary when it must.
func (s *Server) run(x *call) error {
	if s.router == nil || x.cmd.primary == nil || x.c.atPrimary || x.c.inExec || !x.cmd.primary(x.args) {
		return x.cmd.run(x)
	}
	here := func() error { return x.cmd.run(x) }
	incr := batchKind(x.args) == batchIncr
	primary := here
	if incr {
		primary = func() error { return s.sendIncr(x.c, x.conn, "", x.args) }
	}
	return s.route(storeKeys(x.c.db, keyArgs(x.cmd, x.args)), primary, here, func(id string) error {
		if incr {
			return s.sendIncr(x.c, x.conn, id, x.args)
		}
		req := forwardRequest{hop: x.c.hop + 1, db: x.c.db, resp3: x.c.w.resp3, read: x.c.readLevel, write: x.c.writeLevel,
			cmds: [][][]byte{x.args}}
		if runsScript(x.cmd) {
			req.deadline = s.scriptDeadline()
		}
		return s.sendForward(x.c, x.conn, id, &req)
	})
}

// route runs a command of keys (store keys) where it belongs: here when
// this node is their primary, spread when they have several primaries or
// none, else forward to the primary, routed again while the node it went
// to refuses it unrun.
func (s *Server) route(keys [][]byte, here, spread func() error, forward func(id string) error) error {
	for attempt := 1; ; attempt++ {
		id, self := s.primaryOf(keys)
		var err error
		switch {
		case self:
			err = here() // ErrNotRun too, when run as if forwarded (sendIncr)
		case id == "":
			return spread()
		default:
			err = forward(id)
		}
		if !errors.Is(err, store.ErrNotRun) {
			return err
		}
		if attempt == routeAttempts {
			return errTryAgain
		}
		s.stats.rerouted.Add(1)
		if !s.pauseBeforeRetry() {
			return errTryAgain
		}
	}
}

// forwardTo sends req to node id through the Router, with a deadline
// ForwardTimeout from now unless it has one (a request passed on keeps
// its sender's), and returns the encoded answer.
func (s *Server) forwardTo(ctx context.Context, id string, req *forwardRequest) ([]byte, error) {
	if req.deadline == 0 {
		req.deadline = time.Now().Add(s.cfg.ForwardTimeout).UnixMicro()
	}
	ctx, cancel := context.WithDeadline(ctx, time.UnixMicro(req.deadline))
	defer cancel()
	return s.router.Forward(ctx, id, req.append(nil))
}

// scriptDeadline is the deadline of a forwarded request that runs a
// script: a script may run until busy-reply-threshold and beyond, as in
// Redis, so its sender waits that much longer (an hour more at most).
func (s *Server) scriptDeadline() int64 {
	return time.Now().Add(s.cfg.ForwardTimeout + min(s.scripts.BusyThreshold(), time.Hour)).UnixMicro()
}

// pauseBeforeRetry waits retryPause before a command is routed again;
// false if the server began shutting down meanwhile.
func (s *Server) pauseBeforeRetry() bool {
	select {
	case <-time.After(retryPause):
		return true
	case <-s.closingCh:
		return false
	}
}

// primaryOf returns the primary of store keys: its id and whether it is
// this node. The id is "" when the keys have different primaries (or
// there are none): the command runs where it is.
func (s *Server) primaryOf(keys [][]byte) (id string, self bool) {
	for i, k := range keys {
		kid, kself := s.router.Primary(k)
		if i > 0 && kid != id {
			return "", false
		}
		id, self = kid, kself
	}
	return id, self
}

// sendForward runs req at node id and writes its replies to c.
func (s *Server) sendForward(c *client, conn *reply, id string, req *forwardRequest) error {
	s.stats.forwarded.Add(1)
	b, err := s.forwardTo(c.storeCtx(s), id, req)
	if err != nil {
		if errors.Is(err, store.ErrNotRun) {
			return err
		}
		var re RESPError
		if errors.As(err, &re) {
			return err
		}
		return newReplyError(fmt.Sprintf("NOQUORUM the key's primary (%s) did not answer: %v; the command may or may not have taken effect", id, err))
	}
	ans, err := decodeAnswer(b)
	if err != nil {
		return err
	}
	conn.writeReply(ans.replies)
	c.forwardedWrite(ans)
	return nil
}

// forwardedWrite records in c's receipt the write of a request its
// primary answered, if it wrote: WAIT counts from what the primary's
// write had when it answered.
func (c *client) forwardedWrite(ans forwardAnswer) {
	if ans.wrote {
		gen := c.receipt.Start(1, time.Now())
		for range ans.acks {
			c.receipt.Ack(gen, []int{0})
		}
	}
}

// sendIncr runs an INCR-family command at node id ("" for this node),
// relayed with other clients' (relayIncrs), and writes its reply to c.
func (s *Server) sendIncr(c *client, conn *reply, id string, args [][]byte) error {
	lane := relayLane{id: id, db: c.db, hop: c.hop + 1, resp3: c.w.resp3, read: c.readLevel, write: c.writeLevel}
	lines, ans, err := s.relayIncrs(lane, [][][]byte{args}, time.Now().Add(s.cfg.ForwardTimeout).UnixMicro())
	if err != nil {
		return err
	}
	line := lines[0]
	conn.writeReply(line)
	if line[0] != '-' { // the others' commands wrote, not this one
		c.forwardedWrite(ans)
	}
	return nil
}

// ServeForward runs a request another node forwarded to this one as the
// primary of its keys, and returns the encoded answer. If this node is
// not the primary in its own view, it passes the request on to the node
// that is, once; a request passed on already is refused with
// store.ErrNotRun. The cluster calls it for each forwarded request.
func (s *Server) ServeForward(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := decodeForward(payload)
	if err != nil {
		return nil, err
	}
	if req.deadline != 0 {
		deadline := time.UnixMicro(req.deadline)
		if !time.Now().Before(deadline) {
			s.stats.refused.Add(1)
			return nil, fmt.Errorf("%w: it reached this node %v after its sender's deadline", store.ErrNotRun, time.Since(deadline).Round(time.Millisecond))
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	if s.router == nil {
		return nil, fmt.Errorf("%w: this node routes no keys", store.ErrNotRun)
	}
	keys := storeKeys(req.db, keysOf(req.cmds))
	for _, w := range req.watch {
		keys = append(keys, appendDBKey(nil, w.db, w.key))
	}
	if id, self := s.primaryOf(keys); !self && id != "" {
		if req.hop >= maxHops {
			s.stats.refused.Add(1)
			return nil, fmt.Errorf("%w: node %s is the keys' primary in this node's view", store.ErrNotRun, id)
		}
		req.hop++
		s.stats.relayed.Add(1)
		return s.forwardTo(ctx, id, &req)
	}
	if !req.txn && req.deadline != 0 && allIncrs(req.cmds) {
		// With this node's own and other nodes' INCRs (relayIncrs).
		lines, ans, err := s.relayIncrs(relayLane{db: req.db, hop: req.hop, resp3: req.resp3, read: req.read, write: req.write},
			req.cmds, req.deadline)
		if err != nil {
			return nil, err
		}
		out := forwardAnswer{wrote: ans.wrote, acks: ans.acks} // ans.replies has the others' too
		for _, l := range lines {
			out.replies = append(out.replies, l...)
		}
		return out.append(nil), nil
	}
	return s.serveHere(ctx, req)
}

// serveHere runs a forwarded request on this node, its keys' primary,
// and returns the encoded answer.
func (s *Server) serveHere(ctx context.Context, req forwardRequest) ([]byte, error) {
	c, err := s.forwardedClient(ctx, req)
	if err != nil {
		return nil, err
	}
	if req.txn {
		if err := s.execTxn(c, &c.w, req.cmds, req.watch); err != nil {
			c.w.WriteError(replyText(err))
		}
	} else {
		s.runPipeline(c, &c.w, req.cmds)
	}
	acks, _, _, wrote := c.receipt.State()
	ans := forwardAnswer{wrote: wrote, acks: acks, replies: c.w.Conn.(*captured).buf}
	return ans.append(nil), nil
}

// runPipeline runs cmds as a client's pipeline: runs of batchable
// commands as batches (runBatch), the others one by one.
func (s *Server) runPipeline(c *client, conn *reply, cmds [][][]byte) {
	rc := make([]redcon.Command, len(cmds))
	for i, args := range cmds {
		rc[i].Args = args
	}
	for i := 0; i < len(rc); {
		if s.scripts.Busy() {
			s.exec(c, conn, rc[i].Args) // answers BUSY
			i++
			continue
		}
		if n := s.runBatch(c, conn, rc[i:]); n > 0 {
			i += n
			continue
		}
		s.exec(c, conn, rc[i].Args)
		i++
	}
}

// keysOf returns the keys of every command in cmds.
func keysOf(cmds [][][]byte) [][]byte {
	var keys [][]byte
	for _, args := range cmds {
		if cmd, err := resolve(args); err == nil {
			keys = append(keys, keyArgs(cmd, args)...)
		}
	}
	return keys
}

// forwardedClient is the session a forwarded request runs in: the
// sender's database, protocol and consistency levels, authenticated (the
// sender checked), its replies captured, its store calls bounded by ctx
// (the sender's deadline), and marked as being at the primary so that
// its commands run here.
func (s *Server) forwardedClient(ctx context.Context, req forwardRequest) (*client, error) {
	c := &client{id: -1, authed: true, atPrimary: true, hop: req.hop, origin: "forwarded", uncounted: true, created: time.Now()}
	c.selectDB(req.db)
	c.w.Conn = &captured{}
	c.setProto(req.resp3)
	c.base = store.WithReceipt(ctx, &c.receipt)
	if hook := s.cfg.Consistency; hook != nil && (req.read != "" || req.write != "") {
		cctx, err := hook(c.base, req.read, req.write)
		if err != nil {
			return nil, err
		}
		if cctx != nil {
			c.setConsistency(cctx, req.read, req.write)
		}
	}
	return c, nil
}
