package membership

import (
	"log/slog"
	"slices"
	"sync"
	"testing"
)

func TestParseLogLine(t *testing.T) {
	for _, tc := range []struct {
		line  string
		level slog.Level
		msg   string
	}{
		{"[DEBUG] memberlist: Stream connection from=127.0.0.1:1", slog.LevelDebug, "Stream connection from=127.0.0.1:1"},
		{"[INFO] memberlist: Suspect n2 has failed, no acks received", slog.LevelInfo, "Suspect n2 has failed, no acks received"},
		{"[WARN] memberlist: Refuting a suspect message (from: n3)", slog.LevelWarn, "Refuting a suspect message (from: n3)"},
		{"[ERR] memberlist: Push/Pull with n1 failed: EOF", slog.LevelError, "Push/Pull with n1 failed: EOF"},
		{"[ERROR] memberlist: x", slog.LevelError, "x"},
		{"[ERR] Failed to shutdown transport: x", slog.LevelError, "Failed to shutdown transport: x"},
		{"no prefix at all", slog.LevelInfo, "no prefix at all"},
		{"[ODD] memberlist: kept", slog.LevelInfo, "[ODD] memberlist: kept"},
		{"[", slog.LevelInfo, "["},
		{"", slog.LevelInfo, ""},
	} {
		level, msg := parseLogLine(tc.line)
		if level != tc.level || msg != tc.msg {
			t.Errorf("parseLogLine(%q) = %v %q, want %v %q", tc.line, level, msg, tc.level, tc.msg)
		}
	}
}

func TestSuspectName(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		name string
		ok   bool
	}{
		{"Suspect n2 has failed, no acks received", "n2", true},
		{"Suspect node-7.a has failed, no acks received", "node-7.a", true},
		{"Suspect  has failed, no acks received", "", false},
		{"Suspect n2 has failed", "", false},
		{"Marking n2 as failed, suspect timeout reached (0 peer confirmations)", "", false},
	} {
		name, ok := suspectName(tc.msg)
		if name != tc.name || ok != tc.ok {
			t.Errorf("suspectName(%q) = %q %v, want %q %v", tc.msg, name, ok, tc.name, tc.ok)
		}
	}
}

func TestMemberlistLoggerRoutesToSlog(t *testing.T) {
	rec := &recorder{}
	var mu sync.Mutex
	var suspects []string
	l := newMemberlistLogger(slog.New(rec), func(n string) {
		mu.Lock()
		suspects = append(suspects, n)
		mu.Unlock()
	})
	l.Printf("[WARN] memberlist: Refuting a dead message (from: %s)", "n3")
	l.Printf("[INFO] memberlist: Suspect %s has failed, no acks received", "n9")
	if rec.count("WARN Refuting a dead message (from: n3)", "component=memberlist") != 1 {
		t.Errorf("warn line not routed: %q", rec.lines)
	}
	if rec.count("INFO Suspect n9 has failed") != 1 {
		t.Errorf("info line not routed: %q", rec.lines)
	}
	if rec.count("[WARN]") != 0 || rec.count("memberlist: ") != 0 {
		t.Errorf("prefix kept: %q", rec.lines)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(suspects, []string{"n9"}) {
		t.Errorf("suspects = %q, want [n9]", suspects)
	}
}
