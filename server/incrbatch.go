package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/tidwall/redcon"

	"github.com/ringcache/ringcache/server/store"
)

// A run of INCR, DECR, INCRBY and DECRBY in one pipeline is applied as a
// batch (runBatch): each command still reads and writes its key under
// the key's lock, in pipeline order for a key, but the run shares one
// read of every replica and one quorum write per primary, where one
// command after another would each pay both round trips. In a cluster
// the commands whose keys have another primary go to it in one forwarded
// request per primary, which the primary applies as a batch too; those
// requests and the batch of this node's own keys run at once. Commands of
// different keys may so take effect in another order than the pipeline's,
// as a batch of SETs does; commands of one key never do.

// incrDelta returns the amount an INCR-family command adds, or the error
// it answers (a malformed amount).
func incrDelta(args [][]byte) (int64, error) {
	switch {
	case len(args) == 2 && equalFold(args[0], "incr"):
		return 1, nil
	case len(args) == 2:
		return -1, nil
	}
	n, ok := parseInt64(args[2])
	switch {
	case !ok:
		return 0, errNotInteger
	case equalFold(args[0], "incrby"):
		return n, nil
	case n == math.MinInt64:
		return 0, errDecrOverflow
	}
	return -n, nil
}

// incrBatch applies a run of INCR-family commands (batchKind batchIncr)
// and writes their replies in order.
func (s *Server) incrBatch(c *client, conn *reply, cmds []redcon.Command, start time.Time) error {
	ctx := store.WithReadModifyWrite(c.storeCtx(s)) // before the goroutines: it may initialize c.base
	if s.cfg.MaxWait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, start.Add(s.cfg.MaxWait))
		defer cancel()
	}
	replies := make([][]byte, len(cmds))
	retry := make([]bool, len(cmds)) // refused unrun by the primary: run alone
	local, remote := s.incrGroups(c, cmds)
	var wg sync.WaitGroup
	var lastAns forwardAnswer
	last := len(cmds) - 1
	for id, idx := range remote {
		req := forwardRequest{hop: c.hop + 1, db: c.db, resp3: c.w.resp3, read: c.readLevel, write: c.writeLevel}
		for _, i := range idx {
			req.cmds = append(req.cmds, cmds[i].Args)
		}
		wg.Go(func() {
			ans, err := s.forwardIncrs(ctx, id, &req)
			switch {
			case errors.Is(err, store.ErrNotRun):
				for _, i := range idx {
					retry[i] = true
				}
			case err != nil:
				line := errorLine(err)
				for _, i := range idx {
					replies[i] = line
				}
			default:
				for j, i := range idx {
					replies[i] = ans.lines[j]
				}
				if idx[len(idx)-1] == last {
					lastAns = ans.forwardAnswer
				}
			}
		})
	}
	err := s.incrLocal(ctx, c, cmds, local, replies, start)
	wg.Wait()
	c.forwardedWrite(lastAns)
	share := time.Since(start) / time.Duration(len(cmds))
	for i, cmd := range cmds {
		if retry[i] {
			s.exec(c, conn, cmd.Args) // counted there
			continue
		}
		conn.writeReply(replies[i])
		if c.counted() {
			s.cmdStats.ran(lookup(cmd.Args[0]).name, share, len(replies[i]) > 0 && replies[i][0] == '-')
		}
	}
	return err
}

// incrGroups splits a run by the primary of each command's key: the
// positions this node applies, and those of each other primary.
func (s *Server) incrGroups(c *client, cmds []redcon.Command) (local []int, remote map[string][]int) {
	for i, cmd := range cmds {
		if s.router == nil || c.atPrimary {
			local = append(local, i)
			continue
		}
		id, self := s.router.Primary(appendDBKey(nil, c.db, cmd.Args[1]))
		if self || id == "" {
			local = append(local, i)
			continue
		}
		if remote == nil {
			remote = map[string][]int{}
		}
		remote[id] = append(remote[id], i)
	}
	return local, remote
}

// forwardedIncrs is a primary's answer to a run of INCR-family commands:
// one reply line per command.
type forwardedIncrs struct {
	forwardAnswer
	lines [][]byte
}

// forwardIncrs sends a run to its primary and splits the replies: each
// command of the family answers one line (an integer or an error).
func (s *Server) forwardIncrs(ctx context.Context, id string, req *forwardRequest) (forwardedIncrs, error) {
	s.stats.forwarded.Add(1)
	b, err := s.forwardTo(ctx, id, req)
	if err != nil {
		if errors.Is(err, store.ErrNotRun) {
			return forwardedIncrs{}, err
		}
		return forwardedIncrs{}, newReplyError(fmt.Sprintf("NOQUORUM the key's primary (%s) did not answer: %v; the command may or may not have taken effect", id, err))
	}
	return splitIncrs(b, id, req)
}

// splitIncrs decodes the answer b of primary id to req, a run of
// INCR-family commands.
func splitIncrs(b []byte, id string, req *forwardRequest) (forwardedIncrs, error) {
	ans, err := decodeAnswer(b)
	if err != nil {
		return forwardedIncrs{}, err
	}
	out := forwardedIncrs{forwardAnswer: ans}
	rest := ans.replies
	for range req.cmds {
		i := bytes.Index(rest, []byte("\r\n"))
		if i < 0 || (rest[0] != ':' && rest[0] != '-') {
			return forwardedIncrs{}, fmt.Errorf("%w: primary %s answered %q", errMalformedForward, id, ans.replies)
		}
		out.lines = append(out.lines, rest[:i+2])
		rest = rest[i+2:]
	}
	if len(rest) != 0 {
		return forwardedIncrs{}, fmt.Errorf("%w: primary %s answered %q", errMalformedForward, id, ans.replies)
	}
	return out, nil
}

// incrLocal applies the commands at positions idx on this node: their
// keys locked, one read of every replica of them, the additions in
// order, one write of the keys they changed. A command's reply is its
// result, or its error; when the write fails, every command that would
// have changed a key answers its error.
func (s *Server) incrLocal(ctx context.Context, c *client, cmds []redcon.Command, idx []int, replies [][]byte, start time.Time) error {
	if len(idx) == 0 {
		return nil
	}
	pos := make(map[string]int, len(idx)) // key -> its position in keys
	var keys [][]byte
	for _, i := range idx {
		k := cmds[i].Args[1]
		if _, ok := pos[string(k)]; !ok {
			pos[string(k)] = len(keys)
			keys = append(keys, k)
		}
	}
	stripes := stripesOf(nil, keys)
	s.locks.lock(stripes)
	defer s.locks.unlock(stripes)
	items, err := s.readLatest(ctx, c.db, keys)
	if err != nil {
		line := errorLine(err)
		for _, i := range idx {
			replies[i] = line
		}
		return err
	}
	type state struct {
		val          int64
		bad, changed bool
	}
	st := make([]state, len(keys))
	for i, it := range items {
		if it.Found {
			v, ok := parseInt64(it.Value)
			st[i] = state{val: v, bad: !ok}
		}
	}
	var wrote []int
	for _, i := range idx {
		k := &st[pos[string(cmds[i].Args[1])]]
		delta, err := incrDelta(cmds[i].Args)
		next, ok := int64(0), false
		switch {
		case err != nil:
		case k.bad:
			err = errNotInteger
		default:
			if next, ok = addInt64(k.val, delta); !ok {
				err = errOverflow
			}
		}
		if err != nil {
			replies[i] = errorLine(err)
			continue
		}
		k.val, k.changed = next, true
		replies[i] = strconv.AppendInt([]byte{':'}, next, 10)
		replies[i] = append(replies[i], '\r', '\n')
		wrote = append(wrote, i)
	}
	var muts []store.Mutation
	for i, k := range st {
		if k.changed {
			muts = append(muts, store.Mutation{Key: keys[i], Value: strconv.AppendInt(nil, k.val, 10), ExpireAt: items[i].ExpireAt})
		}
	}
	if len(muts) == 0 {
		return nil
	}
	if err = s.stalledWrite(start); err == nil {
		err = s.store.Put(ctx, storeMuts(c.db, muts))
	}
	if err != nil {
		line := errorLine(err)
		for _, i := range wrote {
			replies[i] = line
		}
	}
	return err
}

// readLatest reads keys of database db from every replica the store
// reaches (or as Get does, for a store without LatestReader); expired
// keys read as missing.
func (s *Server) readLatest(ctx context.Context, db int, keys [][]byte) ([]store.Item, error) {
	items, err := s.storeRead(ctx, storeKeys(db, keys), true)
	if err != nil {
		return nil, err
	}
	hits := hideInvisible(items, s.now().UnixMilli())
	s.stats.hits.Add(hits)
	s.stats.misses.Add(int64(len(items)) - hits)
	return items, nil
}

// errorLine is the RESP error reply of err.
func errorLine(err error) []byte {
	return []byte("-" + replyText(err) + "\r\n")
}
