package cluster

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/ringcache/ringcache/antientropy"
	"github.com/ringcache/ringcache/cluster/layout"
	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/ring"
	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
)

// Topology operations in motion. The leader of the layout's group drives
// the operation in progress (drive): a stage that changes where requests
// go (write-both/read-old, write-both/read-new, use-new) is advanced
// once every live member's requests use its epoch (OpLayoutEpoch), so no
// coordinator still routes by the stage before; the streaming stage is
// advanced once every member gaining ranges reported it has them. Every
// member gaining ranges streams them (stream): each moved range is
// synced with R of its old replicas by the anti-entropy exchange (a
// merge by version both ways, so a stale or missing old replica is
// covered by the others), within NodeConfig.StreamRate, and recorded
// done in the engine's metadata so a restart resumes where it stopped.
// Members that are down do not hold an operation up: their requests
// carry an old epoch, which replicas refuse until they catch up.

// transitionLoop drives and streams until Close.
func (n *Node) transitionLoop() {
	defer n.loops.Done()
	t := time.NewTicker(n.cfg.TransitionInterval)
	defer t.Stop()
	var dead deadJoiner
	gone := goneStreamers{}
	var cleaned uint64 // the layout epoch last cleaned up after
	for {
		l := n.lay.current()
		if l.Op == nil && cleaned != l.Epoch && n.member() && n.cleanup(l) {
			cleaned = l.Epoch
		}
		if l.Op != nil {
			if l.Op.Stage == layout.Streaming && slices.Contains(l.Op.Pending, n.cfg.NodeID) {
				n.stream(l)
			}
			if n.cons.Status().IsLeader && !n.abortIfGone(l, &dead) && !n.skipGoneStreamers(l, gone) {
				n.drive(l)
			}
		}
		select {
		case <-n.life.Done():
			return
		case <-t.C:
		case <-n.layoutUpdated():
		}
	}
}

// deadJoiner is when the driver first saw the node an operation brings
// in down (zero: not down).
type deadJoiner struct {
	op    uint64 // the operation's starting epoch
	since time.Time
}

// abortIfGone rolls back a join or replacement whose new node has been
// down for NodeConfig.AbortJoinAfter while the operation still reads from
// the old replicas (which hold every write): its ranges would otherwise
// wait for it forever. It reports whether it proposed the abort.
func (n *Node) abortIfGone(l *layout.Layout, d *deadJoiner) bool {
	op := l.Op
	if (op.Kind != layout.Join && op.Kind != layout.Replace) || op.Stage >= layout.WriteBothReadNew || n.cfg.AbortJoinAfter <= 0 {
		return false
	}
	if m, ok := n.topo.Load().Member(op.Node); ok && (m.State == membership.Alive || m.State == membership.Suspect) {
		*d = deadJoiner{}
		return false
	}
	now := n.now()
	if d.op != op.Started || d.since.IsZero() {
		*d = deadJoiner{op: op.Started, since: now}
		return false
	}
	if now.Sub(d.since) < n.cfg.AbortJoinAfter {
		return false
	}
	ctx, cancel := context.WithTimeout(n.life, n.cfg.ProposeTimeout)
	defer cancel()
	err := n.cons.Propose(ctx, layout.Command{Kind: layout.CmdAbort, Epoch: op.Started}.Encode())
	if err == nil {
		n.log.Warn("cluster: topology operation rolled back: its new node is down", "op", op.Kind.String(), "node", op.Node, "down_for", now.Sub(d.since))
	}
	*d = deadJoiner{}
	return true
}

// goneStreamers is when the driver first saw each member that gains
// ranges in a forced operation down, keyed by the operation's starting
// epoch and the member.
type goneStreamers map[string]time.Time

// skipGoneStreamers, in the streaming stage of a forced operation,
// reports as streamed each member gaining ranges that has been down for
// NodeConfig.AbortJoinAfter, and reports whether it proposed that. A
// forced removal is the way out of losing more than N-R replicas, so it
// must not wait for a member that may never return (which could not be
// removed in turn while this operation runs). Such a member holds none
// of those ranges' earlier records when it returns, until anti-entropy
// brings them (reads at R take them from the other owners meanwhile);
// writes from then on reach it as hints.
func (n *Node) skipGoneStreamers(l *layout.Layout, gone goneStreamers) bool {
	op := l.Op
	if !op.Forced || op.Stage != layout.Streaming || n.cfg.AbortJoinAfter <= 0 {
		clear(gone)
		return false
	}
	t, now := n.topo.Load(), n.now()
	proposed := false
	for _, id := range op.Pending {
		key := fmt.Sprintf("%d/%s", op.Started, id)
		if m, ok := t.Member(id); ok && (m.State == membership.Alive || m.State == membership.Suspect) {
			delete(gone, key)
			continue
		}
		since, seen := gone[key]
		if !seen {
			gone[key] = now
			continue
		}
		if now.Sub(since) < n.cfg.AbortJoinAfter {
			continue
		}
		ctx, cancel := context.WithTimeout(n.life, n.cfg.ProposeTimeout)
		err := n.cons.Propose(ctx, layout.Command{Kind: layout.CmdStreamed, Node: id, Epoch: op.Started}.Encode())
		cancel()
		if err == nil {
			n.log.Warn("cluster: forced topology operation goes on without a member that is down: it holds none of the ranges it gains until anti-entropy repairs them",
				"op", op.Kind.String(), "node", op.Node, "member", id, "down_for", now.Sub(since))
		}
		delete(gone, key)
		proposed = true
	}
	return proposed
}

// drive advances the operation of l by one stage if it may.
func (n *Node) drive(l *layout.Layout) {
	op := l.Op
	if op.Stage == layout.Streaming {
		if len(op.Pending) > 0 {
			return
		}
	} else if lag := n.lagging(op.Epoch); lag != "" {
		n.transfers.waiting(lag)
		return
	}
	ctx, cancel := context.WithTimeout(n.life, n.cfg.ProposeTimeout)
	defer cancel()
	err := n.cons.Propose(ctx, layout.Command{Kind: layout.CmdAdvance, Stage: op.Stage, Epoch: op.Epoch}.Encode())
	switch {
	case err == nil:
		next := n.lay.current()
		if next.Op == nil {
			n.log.Info("cluster: topology operation done", "op", op.Kind.String(), "node", op.Node, "epoch", next.Epoch)
		} else {
			n.log.Info("cluster: topology operation advanced", "op", op.Kind.String(), "node", op.Node, "stage", next.Op.Stage.String(), "epoch", next.Epoch)
		}
	case errors.Is(err, layout.ErrStale):
	default:
		n.log.Warn("cluster: advancing the topology operation", "op", op.Kind.String(), "node", op.Node, "err", err)
	}
}

// lagging returns a live member of the layout whose requests do not use
// epoch yet, "" when none.
func (n *Node) lagging(epoch uint64) string {
	t := n.topo.Load()
	type result struct {
		id string
		ok bool
	}
	var wg sync.WaitGroup
	members := n.lay.current().Members
	out := make(chan result, len(members))
	for _, m := range members {
		if m.State == layout.Left || m.ID == n.cfg.NodeID {
			continue
		}
		if gm, ok := t.Member(m.ID); !ok || (gm.State != membership.Alive && gm.State != membership.Suspect) {
			continue // down: refused by epoch until it catches up
		}
		wg.Go(func() {
			e, err := n.peerEpoch(m.ID)
			out <- result{m.ID, err == nil && e >= epoch}
		})
	}
	wg.Wait()
	close(out)
	for r := range out {
		if !r.ok {
			return r.id
		}
	}
	if t.Epoch() < epoch {
		return n.cfg.NodeID
	}
	return ""
}

// peerEpoch asks member id for the epoch its requests use.
func (n *Node) peerEpoch(id string) (uint64, error) {
	pc := n.peerConn(id)
	if pc == nil {
		return 0, ErrUnknownMember
	}
	ctx, cancel := n.callContext()
	defer cancel()
	b, err := pc.caller.Call(ctx, transport.OpLayoutEpoch, nil)
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: epoch of %d bytes", transport.ErrMalformed, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

// callContext bounds one call to a peer by the request timeout and Close.
func (n *Node) callContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(n.life, n.cfg.Coordinator.Timeout)
}

// stream receives the ranges this node gains in l's operation, then
// reports it. It returns early (to be called again) when a range cannot
// be synced now.
func (n *Node) stream(l *layout.Layout) {
	cur, next := l.Rings()
	var mine []ring.Move
	for _, mv := range ring.Moves(cur, next, n.cfg.Coordinator.N) {
		if slices.Contains(mv.Gaining(), n.cfg.NodeID) {
			mine = append(mine, mv)
		}
	}
	var todo []ring.Move
	for _, mv := range mine {
		done, err := n.rangeStreamed(l.Op.Started, mv.Range)
		if err != nil {
			n.log.Warn("cluster: streaming progress", "err", err)
			return
		}
		if !done {
			todo = append(todo, mv)
		}
	}
	if n.transfers.begin(l.Op, len(mine), len(mine)-len(todo)) {
		n.log.Info("cluster: streaming", "op", l.Op.Kind.String(), "node", l.Op.Node, "ranges", len(mine),
			"streamed_before_restart", len(mine)-len(todo))
	}
	if len(todo) > 0 {
		if err := n.streamRanges(l.Op, todo); err != nil {
			n.log.Info("cluster: streaming, will retry", "ranges_left", len(todo), "err", err)
			return
		}
	}
	ctx, cancel := context.WithTimeout(n.life, n.cfg.ProposeTimeout)
	defer cancel()
	err := n.cons.Propose(ctx, layout.Command{Kind: layout.CmdStreamed, Node: n.cfg.NodeID, Epoch: l.Op.Started}.Encode())
	if err != nil && !errors.Is(err, layout.ErrStale) {
		n.log.Warn("cluster: reporting streaming done", "err", err)
		return
	}
	n.transfers.finished()
	last := n.transfers.snapshot(l).Last
	n.log.Info("cluster: streaming done", "op", l.Op.Kind.String(), "node", l.Op.Node, "ranges", len(mine),
		"keys", last.Keys, "bytes", last.Bytes, "seconds", last.Seconds)
}

// streamChunk is how many moved ranges one round of streamRanges syncs
// (one exchange per old replica), and streamRounds how many rounds run at
// once. A round records each range once all its sources synced it, at
// most streamRecordEvery apart (each record syncs the write-ahead log,
// which makes the range's records durable first): a restart redoes the
// ranges of the last streamRecordEvery of each round, not the round.
const (
	streamChunk       = 64
	streamRounds      = 4
	streamRecordEvery = 250 * time.Millisecond
)

// streamRanges syncs each moved range with R of its old replicas (fewer
// only when the operation was forced, or when the range has fewer) and
// records each range done once all its sources synced it. It goes in
// rounds of streamChunk ranges, one exchange per old replica per round
// (the second one finds little left to pull), streamRounds rounds at a
// time, and stops at the first round with a failure (the next pass plans
// again with the members then alive).
func (n *Node) streamRanges(op *layout.Op, moves []ring.Move) error {
	t := n.topo.Load()
	want := n.cfg.Coordinator.R
	sources := make([][]string, len(moves))
	for i, mv := range moves {
		var from []string
		for _, id := range mv.From {
			if m, ok := t.Member(id); ok && id != n.cfg.NodeID && m.State == membership.Alive {
				from = append(from, id)
			}
		}
		from = from[:min(len(from), want)]
		if len(from) < want && !(op.Forced && len(from) > 0) && len(from) < len(mv.From) {
			return fmt.Errorf("range %v: %d of its %d old replicas reachable, %d needed", mv.Range, len(from), len(mv.From), want)
		}
		sources[i] = from
	}
	// Rounds cover disjoint ranges, so they run side by side; a round
	// that fails stops the start of the others.
	g, failed := errgroup.WithContext(n.life)
	g.SetLimit(streamRounds)
	for start := 0; start < len(moves) && failed.Err() == nil; start += streamChunk {
		end := min(start+streamChunk, len(moves))
		g.Go(func() error { return n.streamRound(op, moves[start:end], sources[start:end]) })
	}
	return g.Wait()
}

// streamRound syncs moves[i] with each of sources[i], one exchange per
// source, and records each range once every source of it synced it
// (streamRecordEvery says when).
func (n *Node) streamRound(op *layout.Op, moves []ring.Move, sources [][]string) error {
	bySource := map[string][]antientropy.Range{}
	need := make(map[ring.Range]int, len(moves))
	for i, mv := range moves {
		for _, id := range sources[i] {
			bySource[id] = append(bySource[id], mv.Range)
		}
		need[mv.Range] = len(sources[i])
	}
	var rec streamRecorder
	for _, mv := range moves {
		if need[mv.Range] == 0 {
			rec.done(op, mv.Range)
		}
	}
	synced := map[ring.Range]int{}
	var firstErr error
	for id, ranges := range bySource {
		pc := n.peerConn(id)
		if pc == nil {
			firstErr = cmp.Or(firstErr, fmt.Errorf("old replica %s: %w", id, ErrUnknownMember))
			continue
		}
		var keys, bytes int64 // counted so far of this exchange
		res, err := antientropy.ExchangeEach(n.life, n.cfg.Engine, exchangePeer{Caller: pc.caller, Replica: pc.replica},
			ranges, antientropy.RateBudget(n.streamLimit), func(r antientropy.Range, sofar antientropy.Result) error {
				n.transfers.progress(sofar.KeysReceived-keys, sofar.BytesReceived-bytes)
				keys, bytes = sofar.KeysReceived, sofar.BytesReceived
				if synced[r]++; synced[r] == need[r] {
					rec.done(op, r)
				}
				return rec.flush(n, false)
			})
		n.transfers.progress(res.KeysReceived-keys, res.BytesReceived-bytes)
		if err != nil {
			firstErr = cmp.Or(firstErr, fmt.Errorf("old replica %s: %w", id, err))
		}
	}
	return cmp.Or(rec.flush(n, true), firstErr)
}

// streamRecorder collects the ranges a stream round finished and writes
// their records.
type streamRecorder struct {
	b    engine.MetaBatch
	last time.Time
}

func (r *streamRecorder) done(op *layout.Op, rg ring.Range) {
	r.b.Put(streamedMeta(op.Started, rg), nil)
}

// flush writes the records collected: now if all, else only once
// streamRecordEvery passed since the last write.
func (r *streamRecorder) flush(n *Node, all bool) error {
	if r.b.Len() == 0 || (!all && time.Since(r.last) < streamRecordEvery) {
		return nil
	}
	if err := n.cfg.Engine.CommitMeta(&r.b); err != nil {
		return err
	}
	for range r.b.Len() {
		n.transfers.rangeDone()
	}
	r.b, r.last = engine.MetaBatch{}, time.Now()
	return nil
}

// newStreamLimit paces streaming at NodeConfig.StreamRate bytes/s (0: no
// limit); SetStreamRate changes it.
func newStreamLimit(bytesPerSec int64) *rate.Limiter {
	lim := rate.NewLimiter(rate.Inf, 0)
	setStreamLimit(lim, bytesPerSec)
	return lim
}

func setStreamLimit(lim *rate.Limiter, bytesPerSec int64) {
	if bytesPerSec <= 0 {
		// Steps of a burst (antientropy.RateBudget), each let through.
		lim.SetLimit(rate.Inf)
		lim.SetBurst(8 << 20)
		return
	}
	lim.SetLimit(rate.Limit(bytesPerSec))
	lim.SetBurst(int(min(max(bytesPerSec/10, 64<<10), 8<<20)))
}

// SetStreamRate changes NodeConfig.StreamRate while the node runs (0: no
// limit); a stream in progress goes on at the new rate.
func (n *Node) SetStreamRate(bytesPerSec int64) { setStreamLimit(n.streamLimit, bytesPerSec) }

// SetAntiEntropyRate changes the anti-entropy exchanges' rate
// (antientropy.Config.Rate, at least 1) while the node runs.
func (n *Node) SetAntiEntropyRate(bytesPerSec int64) {
	if n.repairer != nil {
		n.repairer.SetRate(bytesPerSec)
	}
}

// SetHintReplayRate changes hint replay's rate (handoff.Config.ReplayRate,
// at least 1) while the node runs; it reports false when hinted handoff
// is off.
func (n *Node) SetHintReplayRate(bytesPerSec int64) bool {
	if n.hints == nil {
		return false
	}
	n.hints.SetReplayRate(bytesPerSec)
	return true
}

// streamedPrefix and streamedPrefixEnd bound the metadata names of the
// ranges streamed: one per operation and range, deleted by the cleanup
// once no operation is in progress.
const streamedPrefix, streamedPrefixEnd = "layout-streamed/", "layout-streamed0"

func streamedMeta(started uint64, r ring.Range) string {
	return fmt.Sprintf("%s%016x/%016x-%016x", streamedPrefix, started, r.Start, r.End)
}

func (n *Node) rangeStreamed(started uint64, r ring.Range) (bool, error) {
	_, ok, err := n.cfg.Engine.GetMeta(streamedMeta(started, r))
	return ok, err
}
