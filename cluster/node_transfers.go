package cluster

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringcache/ringcache/cluster/layout"
	"github.com/ringcache/ringcache/cluster/transport"
)

// transfers is what RINGCACHE TRANSFERS and INFO report of this node's
// part in the topology operation in progress: the ranges it streams in,
// the keys and bytes received, and the member the driver waits for.
type transfers struct {
	now func() time.Time
	mu  sync.Mutex
	// started is the operation's starting epoch; a new one resets the
	// counters.
	started                 uint64
	ranges, done, resumed   int
	keys, bytes             int64
	since                   time.Time
	waitingFor              string
	totalKeys, totalBytes   int64 // over every operation since start
	totalRanges, operations int64
	// cleanRanges and cleanKeys count the ranges and records dropped
	// because this node no longer replicates them.
	cleanRanges, cleanKeys int64
	// last is the streaming this node finished last.
	last LastStream
}

// LastStream is a streaming a node finished: what it received of the
// ranges it gained in one operation (this run's share, when it resumed
// after a restart: Resumed counts the ranges a run before had streamed),
// and how long that took.
type LastStream struct {
	Keys, Bytes int64
	Seconds     float64
	Resumed     int
}

// TransferStats is a snapshot of transfers.
type TransferStats struct {
	// Op, Node, Stage and Epoch describe the operation in progress ("" when none).
	Op, Node, Stage string
	Epoch           uint64
	// Pending lists the members still streaming.
	Pending []string
	// RangesTotal and RangesDone count the ranges this node gains,
	// RangesResumed those of them a run before this one had streamed
	// (this node restarted mid-stream); Keys and Bytes what it received
	// of them so far.
	RangesTotal, RangesDone, RangesResumed int
	Keys, Bytes                            int64
	// Rate is the bytes per second received since streaming began; ETA
	// the time left at that rate (0 unknown).
	Rate float64
	ETA  time.Duration
	// WaitingFor is the live member whose requests do not use the
	// stage's epoch yet (on the driving node).
	WaitingFor string
	// TotalKeys, TotalBytes and TotalRanges count what this node
	// streamed in since it started; Operations the operations it took
	// part in as a receiver.
	TotalKeys, TotalBytes, TotalRanges, Operations int64
	// CleanedRanges and CleanedKeys count the ranges and records this
	// node dropped after operations, as it no longer replicated them.
	CleanedRanges, CleanedKeys int64
	// Last is the streaming this node finished last.
	Last LastStream
}

// begin records that this node streams ranges of op's moved ranges,
// done of which it streamed already (in this run's earlier passes, or in
// a run before a restart: those count as resumed).
// It reports whether this is the operation's first pass in this run.
func (x *transfers) begin(op *layout.Op, ranges, done int) (first bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	first = x.started != op.Started
	if first {
		x.started, x.ranges, x.resumed, x.keys, x.bytes = op.Started, ranges, done, 0, 0
		x.since = x.now()
		x.operations++
	}
	x.done = done
	return first
}

func (x *transfers) progress(keys, bytes int64) {
	x.mu.Lock()
	x.keys += keys
	x.bytes += bytes
	x.totalKeys += keys
	x.totalBytes += bytes
	x.mu.Unlock()
}

// rangeDone counts one range finished (its keys and bytes were counted
// by progress already).
func (x *transfers) rangeDone() {
	x.mu.Lock()
	x.done++
	x.totalRanges++
	x.mu.Unlock()
}

// finished records that this node received every range of the
// operation it streams for.
func (x *transfers) finished() {
	x.mu.Lock()
	x.last = LastStream{Keys: x.keys, Bytes: x.bytes, Seconds: x.now().Sub(x.since).Seconds(), Resumed: x.resumed}
	x.mu.Unlock()
}

func (x *transfers) cleaned(ranges, keys int64) {
	x.mu.Lock()
	x.cleanRanges += ranges
	x.cleanKeys += keys
	x.mu.Unlock()
}

func (x *transfers) waiting(id string) {
	x.mu.Lock()
	x.waitingFor = id
	x.mu.Unlock()
}

// snapshot returns the figures for the operation of l.
func (x *transfers) snapshot(l *layout.Layout) TransferStats {
	x.mu.Lock()
	defer x.mu.Unlock()
	s := TransferStats{TotalKeys: x.totalKeys, TotalBytes: x.totalBytes, TotalRanges: x.totalRanges, Operations: x.operations,
		CleanedRanges: x.cleanRanges, CleanedKeys: x.cleanKeys, Last: x.last}
	if l.Op == nil {
		return s
	}
	op := l.Op
	s.Op, s.Node, s.Stage, s.Epoch, s.Pending = op.Kind.String(), op.Node, op.Stage.String(), l.Epoch, op.Pending
	if x.started == op.Started {
		s.RangesTotal, s.RangesDone, s.RangesResumed, s.Keys, s.Bytes = x.ranges, x.done, x.resumed, x.keys, x.bytes
		if el := x.now().Sub(x.since).Seconds(); el > 0 {
			s.Rate = float64(x.bytes) / el
		}
		if s.RangesDone > 0 && s.RangesDone < s.RangesTotal {
			el := x.now().Sub(x.since)
			s.ETA = time.Duration(float64(el) * float64(s.RangesTotal-s.RangesDone) / float64(s.RangesDone))
		}
	}
	if op.Stage != layout.Streaming {
		s.WaitingFor = x.waitingFor
	}
	return s
}

// StreamFigures is a member's streaming of the operation in progress, as
// it answers OpLayoutTransfers: zero figures when it has not begun
// (Started is not the operation's).
type StreamFigures struct {
	Started     uint64        `json:"started"`
	RangesDone  int           `json:"ranges_done"`
	RangesTotal int           `json:"ranges_total"`
	Keys        int64         `json:"keys"`
	Bytes       int64         `json:"bytes"`
	Rate        float64       `json:"rate"`
	ETA         time.Duration `json:"eta"`
}

// streamFigures returns this node's StreamFigures for the operation of l.
func (n *Node) streamFigures(l *layout.Layout) StreamFigures {
	s := n.transfers.snapshot(l)
	if l.Op == nil || s.RangesTotal == 0 {
		return StreamFigures{}
	}
	return StreamFigures{Started: l.Op.Started, RangesDone: s.RangesDone, RangesTotal: s.RangesTotal,
		Keys: s.Keys, Bytes: s.Bytes, Rate: s.Rate, ETA: s.ETA}
}

// opStreams caches the streaming of every member that gains ranges in
// the operation in progress. TRANSFERS and INFO never wait for a peer
// (as the key counts, node_keys.go): a read older than opStreamsMaxAge
// wakes the refresh, and answers with the figures it has.
type opStreams struct {
	kick chan struct{} // buffered 1: kicks coalesce
	last atomic.Pointer[opStreamsAt]
}

type opStreamsAt struct {
	started    uint64 // the operation's
	at         time.Time
	sum        StreamFigures
	unanswered []string
}

const opStreamsMaxAge = time.Second

// operationFigures returns the streaming of every member gaining ranges
// in the operation of l, added up, as of the last refresh; unanswered
// lists those that did not answer it.
func (n *Node) operationFigures(l *layout.Layout) (sum StreamFigures, unanswered []string) {
	if l.Op == nil {
		return sum, nil
	}
	last := n.streams.last.Load()
	if last == nil || last.started != l.Op.Started || n.now().Sub(last.at) > opStreamsMaxAge {
		select {
		case n.streams.kick <- struct{}{}:
		default:
		}
	}
	if last == nil || last.started != l.Op.Started {
		return StreamFigures{}, nil
	}
	return last.sum, last.unanswered
}

// streamsLoop refreshes opStreams when kicked, until Close.
func (n *Node) streamsLoop() {
	defer n.loops.Done()
	for {
		select {
		case <-n.life.Done():
			return
		case <-n.streams.kick:
		}
		l := n.lay.current()
		if l.Op == nil {
			continue
		}
		r := &opStreamsAt{started: l.Op.Started}
		for _, id := range l.Op.Gaining {
			f, err := n.memberFigures(l, id)
			if err != nil || (f.Started != 0 && f.Started != l.Op.Started) {
				r.unanswered = append(r.unanswered, id)
				continue
			}
			r.sum.RangesDone += f.RangesDone
			r.sum.RangesTotal += f.RangesTotal
			r.sum.Keys += f.Keys
			r.sum.Bytes += f.Bytes
			r.sum.Rate += f.Rate
			r.sum.ETA = max(r.sum.ETA, f.ETA)
		}
		r.at = n.now()
		n.streams.last.Store(r)
	}
}

// transfersAskTimeout bounds the question to each member operationFigures asks.
const transfersAskTimeout = 500 * time.Millisecond

func (n *Node) memberFigures(l *layout.Layout, id string) (StreamFigures, error) {
	if id == n.cfg.NodeID {
		return n.streamFigures(l), nil
	}
	pc := n.peerConn(id)
	if pc == nil {
		return StreamFigures{}, ErrUnknownMember
	}
	ctx, cancel := context.WithTimeout(n.life, transfersAskTimeout)
	defer cancel()
	b, err := pc.caller.Call(ctx, transport.OpLayoutTransfers, nil)
	if err != nil {
		return StreamFigures{}, err
	}
	var f StreamFigures
	err = json.Unmarshal(b, &f)
	return f, err
}
