package bench

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseHints(t *testing.T) {
	row := func(f ...any) []any { return f }
	tests := []struct {
		name    string
		reply   any
		want    []HintRow
		wantErr bool
	}{
		{"empty", []any{}, []HintRow{}, false},
		{"two rows", []any{
			row("n2", int64(5), int64(600), int64(1200), int64(7), int64(1)),
			row([]byte("n3"), int64(0), int64(0), int64(0), int64(9), int64(0)),
		}, []HintRow{
			{Target: "n2", Pending: 5, Bytes: 600, OldestAgeMs: 1200, Delivered: 7, Dropped: 1},
			{Target: "n3", Delivered: 9},
		}, false},
		{"not an array", "OK", nil, true},
		{"row not an array", []any{"n2"}, nil, true},
		{"short row", []any{row("n2", int64(1), int64(2), int64(3), int64(4))}, nil, true},
		{"long row", []any{row("n2", int64(1), int64(2), int64(3), int64(4), int64(5), int64(6))}, nil, true},
		{"target not a string", []any{row(int64(2), int64(1), int64(2), int64(3), int64(4), int64(5))}, nil, true},
		{"count not an integer", []any{row("n2", "1", int64(2), int64(3), int64(4), int64(5))}, nil, true},
		{"negative count", []any{row("n2", int64(1), int64(-2), int64(3), int64(4), int64(5))}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHints(tt.reply)
			if tt.wantErr {
				if !errors.Is(err, ErrHintsReply) {
					t.Fatalf("ParseHints = %v, %v; want ErrHintsReply", got, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseHints = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// FuzzParseHints checks that any row set, encoded as go-redis returns
// RINGCACHE HINTS, parses back to itself, and that a mangled reply is
// refused with ErrHintsReply rather than a panic.
func FuzzParseHints(f *testing.F) {
	f.Add("n2", int64(1), int64(2), int64(3), int64(4), int64(5), uint8(0))
	f.Add("", int64(0), int64(0), int64(0), int64(0), int64(0), uint8(1))
	f.Add("node-with-a-long-id", int64(1<<40), int64(7), int64(0), int64(-1), int64(9), uint8(2))
	f.Fuzz(func(t *testing.T, target string, p, b, age, d, dr int64, shape uint8) {
		reply := []any{[]any{target, p, b, age, d, dr}}
		switch shape % 4 {
		case 1:
			reply[0] = reply[0].([]any)[:5]
		case 2:
			reply[0] = target
		case 3:
			reply = append(reply, []any{target, p, b, age, d, dr})
		}
		got, err := ParseHints(reply)
		valid := shape%4 == 0 || shape%4 == 3
		negative := p < 0 || b < 0 || age < 0 || d < 0 || dr < 0
		if !valid || negative {
			if !errors.Is(err, ErrHintsReply) {
				t.Fatalf("ParseHints(%v) = %v, %v; want ErrHintsReply", reply, got, err)
			}
			return
		}
		want := HintRow{Target: target, Pending: p, Bytes: b, OldestAgeMs: age, Delivered: d, Dropped: dr}
		if err != nil || len(got) != len(reply) || got[0] != want || got[len(got)-1] != want {
			t.Fatalf("ParseHints(%v) = %+v, %v; want rows of %+v", reply, got, err, want)
		}
	})
}

func TestHintTotals(t *testing.T) {
	rows := []HintRow{
		{Target: "n5", Pending: 10, Delivered: 1, Dropped: 2},
		{Target: "n4", Pending: 100, Delivered: 100, Dropped: 100},
		{Target: "n5", Pending: 5, Delivered: 3, Dropped: 0},
	}
	if p, d, dr := hintTotals(rows, "n5"); p != 15 || d != 4 || dr != 2 {
		t.Fatalf("hintTotals(n5) = %d %d %d, want 15 4 2", p, d, dr)
	}
	if p, d, dr := hintTotals(rows, "n1"); p != 0 || d != 0 || dr != 0 {
		t.Fatalf("hintTotals(n1) = %d %d %d, want zeros", p, d, dr)
	}
}

func TestHandoffResultText(t *testing.T) {
	r := HandoffResult{
		Nodes: 5, Extra: []string{"--replicas", "3"}, Victim: "n5", Conns: 8, Rate: 2000, Keys: 10000,
		Phases: []PhaseResult{
			{Name: PhaseBefore, Seconds: 5, Get: PhaseOpStat{Ops: 5000, SuccessPct: 100, P99: 1.25},
				Set: PhaseOpStat{Ops: 4990, SuccessPct: 100, P99: 2.5}},
			{Name: PhaseOutage, Seconds: 12.5, Get: PhaseOpStat{Ops: 12000, Errors: 3, SuccessPct: 99.975, P99: 30.125, FirstError: "i/o timeout"},
				Set: PhaseOpStat{Ops: 12010, SuccessPct: 100, P99: 40}},
		},
		HintKeys: 100000, HintWriteSec: 9.5, Pending: 100123, Holders: 4,
		ReadySec: 0.5, DrainSec: 8, ReplayRate: 12515.375, Delivered: 100123,
	}
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"victim n5 SIGKILLed and restarted",
		"8 conns over the survivors, 50% GET / 50% SET, 2000 ops/s, 10000 keys (SETs skip the victim's)",
		"phase      secs   GET ops  GET ok%  GET p99ms   SET ops  SET ok%  SET p99ms\n",
		"before     5.00      5000  100.000      1.250      4990  100.000      2.500\n",
		"outage    12.50     12000   99.975     30.125     12010  100.000     40.000\n",
		"outage GET: 3 errors, first: i/o timeout\n",
		"100000 keys owned by n5 written in 9.50s (0 failed); 100123 hints pending on 4 nodes at the restart",
		"no hint pending 8.00s after it: 12515 keys/s (100123 delivered, 0 dropped)",
		"after: 0 of the 100000 outage keys missing on n5",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "INCOMPLETE") || strings.Contains(out, "WARNING") {
		t.Errorf("a complete run marked incomplete:\n%s", out)
	}
	r.Incomplete, r.Rate, r.HintsMissing = "hints still pending", 0, 17
	buf.Reset()
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "INCOMPLETE: hints still pending") || !strings.Contains(out, "closed loop") ||
		!strings.Contains(out, "WARNING: at least 17 acknowledged outage writes left no hint for n5") {
		t.Errorf("incomplete closed-loop run:\n%s", out)
	}
}

func TestHandoffConfigValidate(t *testing.T) {
	if err := DefaultHandoffConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*HandoffConfig)
	}{
		{"no binary", func(c *HandoffConfig) { c.RingcacheBin = "" }},
		{"three nodes", func(c *HandoffConfig) { c.Nodes = 3 }},
		{"no hints", func(c *HandoffConfig) { c.Hints = 0 }},
		{"no phase", func(c *HandoffConfig) { c.Phase = 0 }},
		{"no conns", func(c *HandoffConfig) { c.Conns = 0 }},
		{"negative rate", func(c *HandoffConfig) { c.Rate = -1 }},
		{"no keys", func(c *HandoffConfig) { c.Keys = 0 }},
		{"no batch", func(c *HandoffConfig) { c.Batch = 0 }},
		{"no poll", func(c *HandoffConfig) { c.Poll = 0 }},
		{"no replay timeout", func(c *HandoffConfig) { c.ReplayTimeout = -time.Second }},
	}
	for _, tt := range tests {
		c := DefaultHandoffConfig()
		tt.mod(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", tt.name, err)
		}
	}
}

// The phase summary turns per-connection counts into success rates and
// keeps the first error.
func TestSteadyLoadSummary(t *testing.T) {
	l := &steadyLoad{}
	for w := range 2 {
		sw := &steadyWorker{stats: make([][2]opCounts, len(phaseNames))}
		for p := range sw.stats {
			sw.stats[p] = [2]opCounts{{hist: newHist()}, {hist: newHist()}}
		}
		for i := range 100 {
			_ = sw.stats[0][0].hist.RecordValue(int64(1000 * (i + 1))) // 1..100 ms
		}
		sw.stats[0][0].ops = 100
		if w == 1 {
			sw.stats[0][0].errs, sw.stats[0][0].firstError = 4, "NOQUORUM"
		}
		l.workers = append(l.workers, sw)
	}
	s := l.summarize(0, 0)
	if s.Ops != 200 || s.Errors != 4 || s.SuccessPct != 98 || s.FirstError != "NOQUORUM" {
		t.Fatalf("summary %+v", s)
	}
	if s.P99 < 98 || s.P99 > 100.1 || s.Max < 99.9 {
		t.Fatalf("p99 %.3f max %.3f, want about 99 and 100 ms", s.P99, s.Max)
	}
	if empty := l.summarize(1, 1); empty.Ops != 0 || empty.SuccessPct != 0 {
		t.Fatalf("an idle phase: %+v", empty)
	}
}
