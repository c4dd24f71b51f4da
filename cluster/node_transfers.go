package cluster

import (
	"sync"
	"time"

	"github.com/ringcache/ringcache/cluster/layout"
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
