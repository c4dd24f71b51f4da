package server

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestLatencyMonitor: off by default; with a threshold, a command slower
// than it is a "command" sample with its latency, the slowest of its
// second; RESET drops it.
func TestLatencyMonitor(t *testing.T) {
	ts := defaultTestServer(t)
	c := ts.client(t, &redis.Options{Protocol: 2})
	ctx := context.Background()
	if got, err := c.Do(ctx, "LATENCY", "LATEST").Slice(); err != nil || len(got) != 0 {
		t.Fatalf("LATENCY LATEST while off: %v, %v", got, err)
	}
	slow := func(d time.Duration) {
		ts.store.getHook = func([][]byte) error { time.Sleep(d); return nil }
		defer func() { ts.store.getHook = nil }()
		if err := c.Incr(ctx, "n").Err(); err != nil {
			t.Fatal(err)
		}
	}
	slow(30 * time.Millisecond) // not recorded: off
	if err := c.ConfigSet(ctx, "latency-monitor-threshold", "20").Err(); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.ConfigGet(ctx, "latency-monitor-threshold").Result(); got["latency-monitor-threshold"] != "20" {
		t.Fatalf("CONFIG GET latency-monitor-threshold = %v", got)
	}
	slow(5 * time.Millisecond) // under the threshold
	slow(40 * time.Millisecond)
	got, err := c.Do(ctx, "LATENCY", "LATEST").Slice()
	if err != nil || len(got) != 1 {
		t.Fatalf("LATENCY LATEST: %v, %v", got, err)
	}
	ev := got[0].([]any)
	if ev[0] != "fast-command" || ev[2].(int64) < 40 || ev[3].(int64) < 40 {
		t.Fatalf("LATENCY LATEST = %v: want fast-command (INCR) with 40 ms or more", ev)
	}
	hist, err := c.Do(ctx, "LATENCY", "HISTORY", "fast-command").Slice()
	if err != nil || len(hist) != 1 {
		t.Fatalf("LATENCY HISTORY fast-command: %v, %v", hist, err)
	}
	if n, err := c.Do(ctx, "LATENCY", "RESET").Int(); err != nil || n != 1 {
		t.Fatalf("LATENCY RESET: %d, %v", n, err)
	}
	if got, err := c.Do(ctx, "LATENCY", "LATEST").Slice(); err != nil || len(got) != 0 {
		t.Fatalf("LATENCY LATEST after RESET: %v, %v", got, err)
	}
}

// TestConfigSetMaxclients: a lower maxclients set at run time refuses
// the next connection past it; raised again, it is accepted.
func TestConfigSetMaxclients(t *testing.T) {
	ts := defaultTestServer(t)
	c := ts.dial(t)
	c.send("CONFIG SET maxclients 1\r\n")
	if got := c.line(); got != "+OK" {
		t.Fatalf("CONFIG SET maxclients 1: %q", got)
	}
	over := ts.dial(t)
	if got := over.line(); got != "-ERR max number of clients reached" {
		t.Fatalf("a second client past maxclients 1: %q", got)
	}
	c.send("CONFIG SET maxclients 10\r\n")
	if got := c.line(); got != "+OK" {
		t.Fatalf("CONFIG SET maxclients 10: %q", got)
	}
	ok := ts.dial(t)
	ok.send("PING\r\n")
	if got := ok.line(); got != "+PONG" {
		t.Fatalf("a second client under maxclients 10: %q", got)
	}
}

// TestConfigSetRequirepass: a password set at run time is asked of new
// connections (and of those that never authenticated), not of one that was
// authenticated, as in Redis; cleared, it is asked of no one.
func TestConfigSetRequirepass(t *testing.T) {
	ts := defaultTestServer(t)
	admin := ts.dial(t)
	before := ts.dial(t) // connected while no password was set
	// A round trip first: the server may not have taken the connection
	// in yet when dial returns.
	before.expect("PING", "+PONG")
	admin.expect("CONFIG SET requirepass s3cret", "+OK")
	before.expect("PING", "+PONG")
	after := ts.dial(t)
	after.send("GET k\r\n")
	if got := after.line(); !strings.HasPrefix(got, "-NOAUTH") {
		t.Fatalf("GET before AUTH: %q", got)
	}
	after.expect("AUTH wrong\r\nAUTH s3cret\r\nGET k", "-WRONGPASS invalid username-password pair or user is disabled.", "+OK", "$-1")
	unauthed := ts.dial(t)
	admin.expect("CONFIG GET requirepass", "*2", "$11", "requirepass", "$6", "s3cret")
	admin.expect("CONFIG SET requirepass \"\"", "+OK")
	unauthed.expect("PING", "+PONG")
}

// TestConfigSetTimeout: a timeout set at run time closes a connection
// already idle (counted from its last command) and a new one; a monitor
// stays; back at 0, an idle connection stays open.
func TestConfigSetTimeout(t *testing.T) {
	ts := defaultTestServer(t)
	admin := ts.dial(t)
	idle := ts.dial(t)
	idle.expect("PING", "+PONG") // now waiting for its next command, with no deadline
	mon := ts.dial(t)
	mon.expect("MONITOR", "+OK")
	time.Sleep(1100 * time.Millisecond)
	admin.expect("CONFIG SET timeout 1", "+OK")
	start := time.Now()
	idle.expectClosed()
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("a connection idle for over the new timeout was closed %v after it was set", d)
	}
	fresh := ts.dial(t)
	fresh.expect("PING", "+PONG")
	fresh.expectClosed() // within dial's 10 s deadline
	admin.expectClosed() // idle since its CONFIG SET
	mon.send("PING\r\n") // a monitor answers only QUIT and RESET
	for {
		got := mon.line() // the line of fresh's PING first
		if got == "-"+errMonitorOnly.msg {
			break
		}
		if !strings.HasSuffix(got, `"PING"`) {
			t.Fatalf("the monitor, idle for over 1 s: %q", got)
		}
	}

	admin = ts.dial(t)
	admin.expect("CONFIG SET timeout 0", "+OK")
	time.Sleep(1500 * time.Millisecond)
	admin.expect("PING", "+PONG")
}

// TestConfigSetProtoLimits: a lower proto-max-bulk-len applies to the
// next command of a connection already open, in the protocol (a longer
// bulk closes it with Redis's error) and in commands that build values
// (SETRANGE); client-query-buffer-limit likewise.
func TestConfigSetProtoLimits(t *testing.T) {
	ts := defaultTestServer(t)
	c := ts.dial(t)
	c.expect("CONFIG SET proto-max-bulk-len 1mb", "+OK")
	c.expect("SETRANGE k 1048576 x", "-ERR string exceeds maximum allowed size (proto-max-bulk-len)")
	c.expect("SET k "+strings.Repeat("v", 1000), "+OK") // under the limit
	c.expect("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577", "-ERR Protocol error: invalid bulk length")
	c.expectClosed()

	c = ts.dial(t)
	c.expect("CONFIG SET proto-max-bulk-len 512mb client-query-buffer-limit 1mb", "+OK")
	c.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n") // a command of over 1mb
	c.expectClosed()
	c = ts.dial(t)
	c.expect("CONFIG GET proto-max-bulk-len", "*2", "$18", "proto-max-bulk-len", "$9", "536870912")
}

// TestConfigSetBinarySettings: a setting the binary lets CONFIG SET
// change (Config.RuntimeSettings) applies with the server's own, all or
// none; a bad value names the parameter and the binary's reason.
func TestConfigSetBinarySettings(t *testing.T) {
	cfg := DefaultConfig()
	knob := "1"
	cfg.Settings = func() map[string]string { return map[string]string{"knob": knob, "fixed": "x"} }
	cfg.RuntimeSettings = map[string]func(string) (func(), error){
		"knob": func(v string) (func(), error) {
			if v == "bad" {
				return nil, errors.New("knob must not be bad")
			}
			return func() { knob = v }, nil
		},
	}
	ts := startServer(t, cfg, nil)
	c := ts.dial(t)
	c.expect("CONFIG SET slowlog-max-len 5 knob bad", "-ERR CONFIG SET failed (possibly related to argument 'knob') - knob must not be bad")
	c.expect("CONFIG GET slowlog-max-len", "*2", "$15", "slowlog-max-len", "$3", "128")
	c.expect("CONFIG SET fixed y", "-ERR CONFIG SET failed (possibly related to argument 'fixed') - can't set immutable config")
	c.expect("CONFIG SET KNOB 2 slowlog-max-len 5", "+OK")
	c.expect("CONFIG GET knob", "*2", "$4", "knob", "$1", "2")
	c.expect("CONFIG GET slowlog-max-len", "*2", "$15", "slowlog-max-len", "$1", "5")
}
