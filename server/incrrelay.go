package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ringcache/ringcache/server/store"
)

// Lone INCRs relayed together. A client that sends one INCR-family
// command at a time (no pipeline) costs, at its key's primary, a read of
// every replica of the key and a write, and a forward when it reached
// another node. When many clients do that at once, their commands for one
// primary are merged (group commit): while relayInFlight requests to a
// primary are out, the next commands wait and go together in the
// following one, which the primary runs as one batch (runPipeline,
// incrBatch: one read and one write of all their keys, each command
// applied in turn under the keys' locks). Commands whose primary is this
// node are merged the same way, and run as if forwarded here
// (ServeForward). A lone client pays nothing for it: with no request
// out, its command goes at once.

// relayInFlight is how many merged requests may be out to one primary
// (for one lane) at once.
const relayInFlight = 1

// incrRelay holds the lanes of relayed commands. The zero value is ready.
type incrRelay struct {
	mu    sync.Mutex
	lanes map[relayLane]*relayQueue
}

// relayLane is what the commands of one merged request share: the
// primary ("" for this node) and the request's session settings.
type relayLane struct {
	id          string
	db, hop     int
	resp3       bool
	read, write string
}

// relayQueue is a lane's state: requests out, and the commands waiting
// for the next one.
type relayQueue struct {
	out  int
	jobs []*relayJob
}

// relayJob is one client's commands in a lane (or one forwarded
// request's).
type relayJob struct {
	cmds     [][][]byte
	deadline int64 // Unix µs: the sender's
	// lines, ans and err are the commands' reply lines, the answer of
	// the request they went in, or the request's error.
	lines [][]byte
	ans   forwardAnswer
	err   error
	// wake receives nil once the job ran in a request another goroutine
	// sent, or the jobs of the next request, which this job's goroutine
	// is to send (the job first among them).
	wake chan []*relayJob
}

// allIncrs reports whether cmds are all of the INCR family.
func allIncrs(cmds [][][]byte) bool {
	for _, args := range cmds {
		if batchKind(args) != batchIncr {
			return false
		}
	}
	return len(cmds) > 0
}

// relayIncrs runs INCR-family commands in lane, with a deadline (Unix
// µs), in one request with whatever other commands of the lane wait
// meanwhile, and returns their reply lines and the request's answer. An
// error wrapping store.ErrNotRun means they did not run.
func (s *Server) relayIncrs(lane relayLane, cmds [][][]byte, deadline int64) ([][]byte, forwardAnswer, error) {
	job := &relayJob{cmds: cmds, deadline: deadline, wake: make(chan []*relayJob, 1)}
	r := &s.relay
	r.mu.Lock()
	if r.lanes == nil {
		r.lanes = map[relayLane]*relayQueue{}
	}
	q := r.lanes[lane]
	if q == nil {
		q = &relayQueue{}
		r.lanes[lane] = q
	}
	if q.out < relayInFlight {
		q.out++
		r.mu.Unlock()
		s.relaySend(lane, q, []*relayJob{job})
	} else {
		q.jobs = append(q.jobs, job)
		r.mu.Unlock()
		if next := <-job.wake; next != nil {
			s.relaySend(lane, q, next)
		}
	}
	return job.lines, job.ans, job.err
}

// relaySend sends jobs (jobs[0] is the caller's) as one request, gives
// each its replies, and hands the lane's slot to the jobs that queued
// meanwhile, or frees it, even if running the request panics (the
// caller's connection recovers; the others answer errRelayFailed).
func (s *Server) relaySend(lane relayLane, q *relayQueue, jobs []*relayJob) {
	defer s.relayNext(q)
	var ans forwardedIncrs
	err := error(errRelayFailed)
	defer func() {
		off := 0
		for i, j := range jobs {
			if err != nil {
				j.err = err
			} else {
				j.lines, j.ans = ans.lines[off:off+len(j.cmds)], ans.forwardAnswer
			}
			off += len(j.cmds)
			if i > 0 {
				j.wake <- nil
			}
		}
	}()
	req := forwardRequest{hop: lane.hop, db: lane.db, resp3: lane.resp3, read: lane.read, write: lane.write,
		deadline: jobs[0].deadline}
	for _, j := range jobs {
		req.cmds = append(req.cmds, j.cmds...)
		req.deadline = min(req.deadline, j.deadline)
	}
	if lane.id != "" {
		ans, err = s.forwardIncrs(s.ctx, lane.id, &req)
		return
	}
	// This node is the primary, unless its view changed since the
	// commands were routed here: then they go back to their senders
	// unrun, to be routed again.
	if id, self := s.primaryOf(storeKeys(req.db, keysOf(req.cmds))); !self {
		s.stats.refused.Add(1)
		err = fmt.Errorf("%w: node %q is the keys' primary in this node's view now", store.ErrNotRun, id)
		return
	}
	ctx, cancel := context.WithDeadline(s.ctx, time.UnixMicro(req.deadline))
	defer cancel()
	var b []byte
	if b, err = s.serveHere(ctx, req); err == nil {
		ans, err = splitIncrs(b, "this node", &req)
	}
}

// errRelayFailed answers the commands of a relayed request that failed
// without an answer.
var errRelayFailed = newReplyError("ERR internal error while the command ran at its key's primary; it may or may not have taken effect")

// relayNext gives the lane's slot to the jobs queued in q (the first of
// them sends their request), or frees it.
func (s *Server) relayNext(q *relayQueue) {
	r := &s.relay
	r.mu.Lock()
	if len(q.jobs) == 0 {
		q.out--
		r.mu.Unlock()
		return
	}
	next := q.jobs
	q.jobs = nil
	r.mu.Unlock()
	next[0].wake <- next
}
