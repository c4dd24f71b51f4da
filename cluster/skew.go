package cluster

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/transport"
)

// SkewSample is the latest clock comparison with one peer.
type SkewSample struct {
	// Peer is the peer's node id.
	Peer string
	// Ahead is how far this node's clock is ahead of the peer's (negative:
	// behind), estimated from a ping's round trip.
	Ahead time.Duration
	// RTT is the round trip of that ping; the estimate is off by at most
	// RTT/2 plus a millisecond.
	RTT time.Duration
	// At is when the sample was taken (this node's clock).
	At time.Time
	// TooFar is true when this node was certainly more than MaxClockSkew
	// ahead: by more than the limit plus the estimate's uncertainty.
	TooFar bool
}

// judgeSkew turns a ping into how far this node is ahead of the peer and
// whether that exceeds limit beyond doubt. The ping's offset may be off
// by RTT/2 plus a millisecond of rounding either way, so a slow network
// never reads as a skewed clock: only an excess larger than that
// uncertainty counts.
func judgeSkew(p transport.PingResult, limit time.Duration) (ahead time.Duration, tooFar bool) {
	ahead = -p.Offset
	uncertainty := p.RTT/2 + time.Millisecond
	return ahead, ahead-uncertainty > limit
}

// shouldWarn reports whether a skew warning for a peer last warned about
// at last (zero: never) may be logged at now, at most one per every.
func shouldWarn(last, now time.Time, every time.Duration) bool {
	return last.IsZero() || now.Sub(last) >= every
}

// skewMonitor keeps the latest sample per peer and rate-limits warnings.
type skewMonitor struct {
	limit, warnEvery time.Duration
	now              func() time.Time
	log              *slog.Logger
	warnings         atomic.Int64

	mu struct {
		sync.Mutex
		// samples holds the latest sample per peer id; peers that are no
		// longer alive members are dropped by prune.
		samples map[string]SkewSample
		// warned holds when each peer was last warned about.
		warned map[string]time.Time
	}
}

func newSkewMonitor(limit, warnEvery time.Duration, now func() time.Time, log *slog.Logger) *skewMonitor {
	m := &skewMonitor{limit: limit, warnEvery: warnEvery, now: now, log: log}
	m.mu.samples = make(map[string]SkewSample)
	m.mu.warned = make(map[string]time.Time)
	return m
}

// record stores a ping's verdict for peer and logs a warning if this node
// is too far ahead and the peer was not warned about recently.
func (m *skewMonitor) record(peer string, p transport.PingResult) SkewSample {
	ahead, tooFar := judgeSkew(p, m.limit)
	now := m.now()
	s := SkewSample{Peer: peer, Ahead: ahead, RTT: p.RTT, At: now, TooFar: tooFar}
	m.mu.Lock()
	m.mu.samples[peer] = s
	warn := tooFar && shouldWarn(m.mu.warned[peer], now, m.warnEvery)
	if warn {
		m.mu.warned[peer] = now
	}
	m.mu.Unlock()
	if tooFar {
		m.warnings.Add(1)
	}
	if warn {
		m.log.Warn("cluster: this node's clock is ahead of a peer's; its writes win conflicts they should lose",
			"peer", peer, "ahead", ahead, "max_clock_skew", m.limit, "rtt", p.RTT)
	}
	return s
}

// prune forgets the samples of peers not in keep.
func (m *skewMonitor) prune(keep map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.mu.samples {
		if !keep[id] {
			delete(m.mu.samples, id)
		}
	}
}

// samples returns the latest sample per peer, sorted by peer id.
func (m *skewMonitor) samples() []SkewSample {
	m.mu.Lock()
	out := make([]SkewSample, 0, len(m.mu.samples))
	for _, s := range m.mu.samples {
		out = append(out, s)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b SkewSample) int { return strings.Compare(a.Peer, b.Peer) })
	return out
}

// maxAhead returns the largest Ahead over the samples, 0 when this node
// is behind every peer or has no samples.
func maxAhead(ss []SkewSample) time.Duration {
	var m time.Duration
	for _, s := range ss {
		m = max(m, s.Ahead)
	}
	return m
}

// skewLoop pings the alive peers every SkewInterval, starting at a random
// offset so that nodes started together do not ping in lockstep. It runs
// until Close.
func (n *Node) skewLoop() {
	defer n.loops.Done()
	t := time.NewTimer(rand.N(n.cfg.SkewInterval) + 1)
	defer t.Stop()
	for {
		select {
		case <-n.life.Done():
			return
		case <-t.C:
		}
		n.checkSkew(n.life)
		t.Reset(n.cfg.SkewInterval)
	}
}

// checkSkew pings every alive peer in parallel and records the results.
func (n *Node) checkSkew(ctx context.Context) {
	alive := map[string]bool{}
	var wg sync.WaitGroup
	for _, m := range n.topo.Load().Members() {
		if m.ID == n.cfg.NodeID || m.State != membership.Alive {
			continue
		}
		alive[m.ID] = true
		pc := n.peerConn(m.ID)
		if pc == nil {
			continue
		}
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, n.cfg.Coordinator.Timeout)
			defer cancel()
			p, err := transport.Ping(pctx, pc.caller)
			if err != nil {
				n.log.Debug("cluster: clock ping failed", "peer", m.ID, "err", err)
				return
			}
			// Ping measures against the process clock; versions follow
			// the node's clock (Now), which may be offset from it.
			p.Offset -= time.Until(n.now()).Round(time.Millisecond)
			n.skew.record(m.ID, p)
		})
	}
	wg.Wait()
	n.skew.prune(alive)
}
