package cluster

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringcache/ringcache/cluster/transport"
)

func TestJudgeSkew(t *testing.T) {
	const limit = 500 * time.Millisecond
	ms := time.Millisecond
	for _, tc := range []struct {
		name       string
		offset     time.Duration // peer ahead of us
		rtt        time.Duration
		wantAhead  time.Duration
		wantTooFar bool
	}{
		{"in sync", 0, ms, 0, false},
		{"peer ahead", 2 * time.Second, ms, -2 * time.Second, false},
		{"we are ahead within limit", -400 * ms, ms, 400 * ms, false},
		{"exactly at limit plus uncertainty", -(limit + 2*ms), 2 * ms, limit + 2*ms, false},
		{"just beyond uncertainty", -(limit + 3*ms), 2 * ms, limit + 3*ms, true},
		{"far ahead on a fast network", -2 * time.Second, ms, 2 * time.Second, true},
		{"ahead but a slow ping could explain it", -700 * ms, 500 * ms, 700 * ms, false},
		{"ahead beyond even a slow ping", -900 * ms, 500 * ms, 900 * ms, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ahead, tooFar := judgeSkew(transport.PingResult{Offset: tc.offset, RTT: tc.rtt}, limit)
			if ahead != tc.wantAhead || tooFar != tc.wantTooFar {
				t.Fatalf("judgeSkew(offset %v, rtt %v) = %v, %v; want %v, %v",
					tc.offset, tc.rtt, ahead, tooFar, tc.wantAhead, tc.wantTooFar)
			}
		})
	}
}

// TestJudgeSkewNoFalseAlarm checks the property the uncertainty margin
// exists for: whatever the round trip and wherever in it the peer read its
// clock, a true lead within the limit is never reported as too far, and a
// true lead beyond limit + RTT + 2ms always is.
func TestJudgeSkewNoFalseAlarm(t *testing.T) {
	const limit = 500 * time.Millisecond
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		rtt := time.Duration(r.Int64N(int64(time.Second)))
		lead := time.Duration(r.Int64N(int64(4*time.Second))) - 2*time.Second // our true lead
		start := time.UnixMilli(1_700_000_000_000).Add(time.Duration(r.Int64N(int64(time.Millisecond))))
		// The peer reads its clock at some point of the round trip.
		read := start.Add(time.Duration(r.Int64N(int64(rtt) + 1)))
		peerMs := read.Add(-lead).UnixMilli()
		mid := start.Add(rtt / 2).UnixMilli()
		p := transport.PingResult{PeerMs: peerMs, RTT: rtt, Offset: time.Duration(peerMs-mid) * time.Millisecond}
		_, tooFar := judgeSkew(p, limit)
		if lead <= limit && tooFar {
			t.Fatalf("lead %v within limit reported too far (rtt %v, offset %v)", lead, rtt, p.Offset)
		}
		if lead > limit+rtt+2*time.Millisecond && !tooFar {
			t.Fatalf("lead %v beyond limit + rtt not reported (rtt %v, offset %v)", lead, rtt, p.Offset)
		}
	}
}

func TestShouldWarn(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name      string
		last, now time.Time
		want      bool
	}{
		{"never warned", time.Time{}, t0, true},
		{"just warned", t0, t0.Add(time.Second), false},
		{"period not over", t0, t0.Add(time.Minute - time.Nanosecond), false},
		{"period over", t0, t0.Add(time.Minute), true},
	} {
		if got := shouldWarn(tc.last, tc.now, time.Minute); got != tc.want {
			t.Errorf("%s: shouldWarn = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// logLines is a slog.Handler keeping each record's message.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logLines) WithGroup(string) slog.Handler            { return l }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, r.Level.String()+" "+r.Message)
	return nil
}

func (l *logLines) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

func TestSkewMonitorRateLimitsWarnings(t *testing.T) {
	now := time.Unix(5000, 0)
	logs := &logLines{}
	m := newSkewMonitor(500*time.Millisecond, time.Minute, func() time.Time { return now }, slog.New(logs))
	far := transport.PingResult{Offset: -2 * time.Second, RTT: time.Millisecond}
	near := transport.PingResult{Offset: -10 * time.Millisecond, RTT: time.Millisecond}

	m.record("a", far)
	m.record("a", far) // same minute: counted, not logged
	m.record("b", far) // another peer: its own limit
	m.record("c", near)
	if got := logs.count("WARN cluster: this node's clock is ahead"); got != 2 {
		t.Fatalf("%d warnings logged, want 2 (a once, b once)", got)
	}
	if got := m.warnings.Load(); got != 3 {
		t.Fatalf("warnings counter %d, want 3", got)
	}
	now = now.Add(time.Minute)
	m.record("a", far)
	if got := logs.count("WARN cluster: this node's clock is ahead"); got != 3 {
		t.Fatalf("%d warnings logged after the period, want 3", got)
	}

	ss := m.samples()
	if len(ss) != 3 || ss[0].Peer != "a" || ss[2].Peer != "c" || !ss[0].TooFar || ss[2].TooFar {
		t.Fatalf("samples %+v", ss)
	}
	if got := maxAhead(ss); got != 2*time.Second {
		t.Fatalf("maxAhead = %v, want 2s", got)
	}
	m.prune(map[string]bool{"c": true})
	if ss := m.samples(); len(ss) != 1 || ss[0].Peer != "c" {
		t.Fatalf("after prune: %+v", ss)
	}
	if got := maxAhead([]SkewSample{{Ahead: -time.Second}}); got != 0 {
		t.Fatalf("maxAhead when behind = %v, want 0", got)
	}
}
