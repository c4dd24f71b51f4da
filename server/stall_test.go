package server

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/server/store"
)

// fakeStall is an Arrivals with one stall the test sets: input whose
// window (prev, read] overlaps it may have arrived when it began, if
// (for ReadArrival) it was read within fakeSlack of the later of the
// stall's end and when the read began waiting.
type fakeStall struct {
	mu         sync.Mutex
	start, end time.Time
}

const fakeSlack = 100 * time.Millisecond

func (f *fakeStall) ReadArrival(prev, wait, read time.Time) time.Time {
	f.mu.Lock()
	end := f.end
	f.mu.Unlock()
	if read.Sub(end) > fakeSlack || wait.After(end) && read.Sub(wait) > fakeSlack {
		return read
	}
	return f.Arrival(prev, read)
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

// stallServer starts a server whose stalls the returned fakeStall sets,
// with a MaxWait of 20ms, and a connection to it that has read a reply.
func stallServer(t *testing.T) (*fakeStall, *testServer, *rawConn) {
	t.Helper()
	st := &fakeStall{}
	cfg := DefaultConfig()
	cfg.Arrivals, cfg.MaxWait = st, 20*time.Millisecond
	ts := startServer(t, cfg, nil)
	rc := ts.dial(t)
	rc.send("PING\r\n")
	if got := rc.line(); got != "+PONG" {
		t.Fatalf("PING: %q", got)
	}
	return st, ts, rc
}

// TestCommandsThatWaitedThroughAStallAreRefused: a pipeline sent while the
// process was stopped, and read once it runs again, is answered with
// TIMEOUT for every command and nothing of it runs; the connection, and
// commands sent after the stall, work as before.
func TestCommandsThatWaitedThroughAStallAreRefused(t *testing.T) {
	st, ts, rc := stallServer(t)
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

// TestBigPipelineThroughAStallIsRefused: a pipeline larger than one
// socket read, sent while the process was stopped, is refused whole: a
// read that fills its buffer leaves input as old as its own behind, so
// the reads after it are dated from the same bound.
func TestBigPipelineThroughAStallIsRefused(t *testing.T) {
	st, ts, rc := stallServer(t)
	st.set(time.Now(), time.Now().Add(time.Hour))
	time.Sleep(50 * time.Millisecond)
	const n = 300
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "*3\r\n$3\r\nSET\r\n$6\r\nbig%03d\r\n$32\r\n%032d\r\n", i, i)
	}
	rc.send(b.String()) // 15 KB: several reads of the server's 4 KB buffer
	for i := range n {
		if got := rc.line(); !strings.HasPrefix(got, "-TIMEOUT the command waited") {
			t.Fatalf("reply %d of the pipeline sent during the stall: %q, want -TIMEOUT", i, got)
		}
	}
	ts.store.mu.Lock()
	applied := len(ts.store.data)
	ts.store.mu.Unlock()
	if applied != 0 {
		t.Fatalf("%d SETs of the refused pipeline were applied", applied)
	}
}

// TestIdleConnectionAfterAStallRuns: a stall long over does not count
// against commands read well after it: an idle connection's next
// command, and a new connection's first, run.
func TestIdleConnectionAfterAStallRuns(t *testing.T) {
	st, ts, rc := stallServer(t)
	// A stall while the connection waits for input, over long before
	// its next command comes.
	st.set(time.Now().Add(5*time.Millisecond), time.Now().Add(20*time.Millisecond))
	time.Sleep(20*time.Millisecond + 3*fakeSlack)
	rc.send("SET k v\r\n")
	if got := rc.line(); got != "+OK" {
		t.Fatalf("idle connection's command after the stall: %q, want +OK", got)
	}
	// A command larger than one read of the socket, too.
	big := strings.Repeat("x", 10000)
	rc.send(fmt.Sprintf("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n%s\r\n", len(big), big))
	if got := rc.line(); got != "+OK" {
		t.Fatalf("a 10 KB SET after the stall: %q, want +OK", got)
	}
	fresh := ts.dial(t)
	fresh.send("GET k\r\n")
	if got := fresh.line(); got != "$1" {
		t.Fatalf("new connection's command after the stall: %q, want $1", got)
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

// TestStallInsideACommandRefusesItsWrite: a read-modify-write whose
// process stops between its read and its write (the read waits on
// replicas) writes nothing when it runs again later than MaxWait after
// it began: its client gave up and may have written the key elsewhere
// since. The same commands held up as long by slow reads alone, with no
// stall, write as usual.
func TestStallInsideACommandRefusesItsWrite(t *testing.T) {
	st := &fakeStall{}
	cfg := DefaultConfig()
	cfg.Arrivals, cfg.MaxWait = st, 20*time.Millisecond
	ts := startServer(t, cfg, nil)
	var stall atomic.Bool
	stall.Store(true)
	ts.store.getHook = func([][]byte) error {
		if stall.Load() {
			st.set(time.Now(), time.Now().Add(40*time.Millisecond))
		}
		time.Sleep(50 * time.Millisecond)
		return nil
	}
	rc := ts.dial(t)
	cmds := []string{"GETSET k v", "SETRANGE k 0 v", "INCR n", "APPEND k v", "SET k v NX", "SET k v GET",
		"MSETNX k v", "GETDEL k", "INCRBYFLOAT n 1.5", "SETBIT k 1 1", "COPY src k"}
	ts.store.mu.Lock()
	ts.store.data["src"] = store.Item{Found: true, Value: []byte("s")}
	ts.store.mu.Unlock()
	for _, cmd := range cmds {
		rc.send(cmd + "\r\n")
		if got := rc.line(); !strings.HasPrefix(got, "-TIMEOUT the command was held up") {
			t.Fatalf("%s with a stall inside: %q, want -TIMEOUT", cmd, got)
		}
		st.set(time.Time{}, time.Time{})
	}
	ts.store.mu.Lock()
	_, k := ts.store.data["k"]
	_, n := ts.store.data["n"]
	ts.store.mu.Unlock()
	if k || n {
		t.Fatal("a command refused after a stall wrote")
	}
	if got := ts.Stats().CommandsStalled; got != int64(len(cmds)) {
		t.Fatalf("CommandsStalled = %d, want %d", got, len(cmds))
	}
	stall.Store(false)
	for _, cmd := range []string{"GETSET k v", "INCR n"} {
		rc.send(cmd + "\r\n")
		if got := rc.line(); strings.HasPrefix(got, "-") {
			t.Fatalf("%s held up by slow reads only: %q", cmd, got)
		}
	}
}

// TestLongScriptRunsToItsEnd: a script may run longer than MaxWait, as in
// Redis (until busy-reply-threshold and beyond): all its writes land and
// EVAL answers its result. A stall of the process since the script began
// refuses the writes after it, as it refuses a read-modify-write's: they
// may rest on what the script read before the stall.
func TestLongScriptRunsToItsEnd(t *testing.T) {
	st := &fakeStall{}
	cfg := DefaultConfig()
	cfg.Arrivals, cfg.MaxWait = st, 50*time.Millisecond
	ts := startServer(t, cfg, nil)
	ts.store.getHook = func(keys [][]byte) error {
		if string(keys[0]) == "stall" {
			st.set(time.Now(), time.Now().Add(40*time.Millisecond))
			time.Sleep(60 * time.Millisecond)
		}
		return nil
	}
	ctx := context.Background()
	cl := ts.client(t, &redis.Options{MaxRetries: -1})
	const body = `redis.call('SET', KEYS[1], 'a')
local t0 = redis.call('TIME')
local start = t0[1] * 1000000 + t0[2]
while true do
  local t = redis.call('TIME')
  if t[1] * 1000000 + t[2] - start > 300000 then break end
end
redis.call('GET', ARGV[1])
redis.call('SET', KEYS[2], 'b')
return 'done'`
	got, err := cl.Eval(ctx, body, []string{"a1", "b1"}, "calm").Result()
	if err != nil || got != "done" {
		t.Fatalf("a 300 ms script with MaxWait 50 ms: %v, %v; want done", got, err)
	}
	for _, k := range []string{"a1", "b1"} {
		if v, err := cl.Get(ctx, k).Result(); err != nil || v != k[:1] {
			t.Fatalf("after the long script, %s = %q, %v", k, v, err)
		}
	}
	_, err = cl.Eval(ctx, body, []string{"a2", "b2"}, "stall").Result()
	if err == nil || !strings.Contains(err.Error(), "TIMEOUT the command was held up") {
		t.Fatalf("a script with a stall inside: %v, want the TIMEOUT of its write after the stall", err)
	}
	st.set(time.Time{}, time.Time{})
	if n, err := cl.Exists(ctx, "b2").Result(); err != nil || n != 0 {
		t.Fatalf("the write after the stall landed: %d, %v", n, err)
	}
}
