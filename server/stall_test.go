package server

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeStall is an Arrivals with one stall the test sets: input whose
// window (prev, read] overlaps it may have arrived when it began.
type fakeStall struct {
	mu         sync.Mutex
	start, end time.Time
}

func (f *fakeStall) set(start, end time.Time) {
	f.mu.Lock()
	f.start, f.end = start, end
	f.mu.Unlock()
}

func (f *fakeStall) Arrival(prev, read time.Time) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.start.IsZero() || !f.start.Before(read) || !f.end.After(prev) {
		return read
	}
	if prev.After(f.start) {
		return prev
	}
	return f.start
}

// TestCommandsThatWaitedThroughAStallAreRefused: a pipeline sent while the
// process was stopped, and read once it runs again, is answered with
// TIMEOUT for every command and nothing of it runs; the connection, and
// commands sent after the stall, work as before.
func TestCommandsThatWaitedThroughAStallAreRefused(t *testing.T) {
	st := &fakeStall{}
	cfg := DefaultConfig()
	cfg.Arrivals, cfg.MaxWait = st, 20*time.Millisecond
	ts := startServer(t, cfg, nil)
	rc := ts.dial(t)
	rc.send("PING\r\n")
	if got := rc.line(); got != "+PONG" {
		t.Fatalf("PING: %q", got)
	}
	// The process stops now; the client sends a pipeline meanwhile.
	st.set(time.Now(), time.Now().Add(time.Hour))
	time.Sleep(50 * time.Millisecond)
	rc.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n")
	for i := range 2 {
		if got := rc.line(); !strings.HasPrefix(got, "-TIMEOUT the command waited") {
			t.Fatalf("reply %d after the stall: %q, want -TIMEOUT", i, got)
		}
	}
	ts.store.mu.Lock()
	_, applied := ts.store.data["k"]
	ts.store.mu.Unlock()
	if applied {
		t.Fatal("a refused SET was applied")
	}
	if n := ts.Stats().CommandsStalled; n != 2 {
		t.Fatalf("CommandsStalled = %d, want 2", n)
	}
	// The stall is over and noticed: new commands run.
	st.set(time.Now().Add(-time.Hour), time.Now())
	time.Sleep(5 * time.Millisecond)
	rc.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nw\r\n")
	if got := rc.line(); got != "+OK" {
		t.Fatalf("SET after the stall: %q", got)
	}
}

// TestShortStallIsTolerated: a stall shorter than MaxWait refuses nothing.
func TestShortStallIsTolerated(t *testing.T) {
	st := &fakeStall{}
	cfg := DefaultConfig()
	cfg.Arrivals, cfg.MaxWait = st, time.Minute
	ts := startServer(t, cfg, nil)
	rc := ts.dial(t)
	st.set(time.Now(), time.Now().Add(time.Hour))
	rc.send("PING\r\n")
	if got := rc.line(); got != "+PONG" {
		t.Fatalf("PING after a short stall: %q", got)
	}
}
