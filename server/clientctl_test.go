package server

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestClientReply: OFF silences every reply (errors too) until ON, whose
// own OK is sent; SKIP silences the next command's; the writes done while
// silent happened.
func TestClientReply(t *testing.T) {
	ts := defaultTestServer(t)
	r := ts.dial(t)
	send := func(args ...string) {
		var b strings.Builder
		b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
		for _, a := range args {
			b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
		}
		r.send(b.String())
	}
	send("CLIENT", "REPLY", "OFF")
	send("SET", "a", "1")
	send("GET", "a")
	send("INCR", "nope", "x") // an error, silenced too
	send("CLIENT", "REPLY", "ON")
	if got := r.line(); got != "+OK" {
		t.Fatalf("first reply after REPLY OFF ... ON = %q, want +OK", got)
	}
	send("CLIENT", "REPLY", "SKIP")
	send("SET", "b", "2")
	send("GET", "a")
	if got := r.line(); got != "$1" || r.line() != "1" {
		t.Fatalf("after SKIP and a SET, GET a = %q", got)
	}
	send("GET", "b")
	if got := r.line(); got != "$1" || r.line() != "2" {
		t.Fatalf("GET b = %q: the skipped SET did not land", got)
	}
	send("CLIENT", "REPLY", "OFF")
	send("RESET")
	if got := r.line(); got != "+RESET" {
		t.Fatalf("RESET with replies off = %q, want +RESET (it turns them on)", got)
	}
	send("CLIENT", "REPLY", "MAYBE")
	if got := r.line(); got != "-ERR syntax error" {
		t.Fatalf("CLIENT REPLY MAYBE = %q", got)
	}
}

// TestClientPause: WRITE holds writes and lets reads through; ALL holds
// every command; UNPAUSE releases them at once; a pause ends by itself.
func TestClientPause(t *testing.T) {
	ts := defaultTestServer(t)
	admin := ts.client(t, &redis.Options{Protocol: 2})
	c := ts.client(t, &redis.Options{Protocol: 2})
	ctx := context.Background()
	if err := admin.Do(ctx, "client", "pause", "60000", "write").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "k").Result(); err != redis.Nil {
		t.Fatalf("GET during a WRITE pause: %v", err)
	}
	if err := c.Do(ctx, "eval_ro", "return 1", "0").Err(); err != nil {
		t.Fatalf("EVAL_RO during a WRITE pause: %v", err)
	}
	if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error { p.Get(ctx, "k"); return nil }); err != redis.Nil {
		t.Fatalf("a read-only transaction during a WRITE pause: %v", err)
	}
	// A transaction that writes is held before it starts, as a write is.
	txn := make(chan error, 1)
	go func() {
		_, err := ts.client(t, nil).TxPipelined(ctx, func(p redis.Pipeliner) error { p.Set(ctx, "t", "1", 0); return nil })
		txn <- err
	}()
	// A script is held before it starts, as a write is.
	script := make(chan error, 1)
	go func() {
		script <- ts.client(t, nil).Eval(ctx, "return redis.call('SET', KEYS[1], 'script')", []string{"s"}).Err()
	}()
	done := make(chan error, 1)
	go func() { done <- c.Set(ctx, "k", "v", 0).Err() }()
	select {
	case err := <-done:
		t.Fatalf("SET during a WRITE pause answered at once: %v", err)
	case err := <-script:
		t.Fatalf("EVAL during a WRITE pause answered at once: %v", err)
	case err := <-txn:
		t.Fatalf("EXEC of a write during a WRITE pause answered at once: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := admin.Do(ctx, "client", "unpause").Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SET still held after UNPAUSE")
	}
	if err := <-script; err != nil && err != redis.Nil {
		t.Fatalf("EVAL held by the pause: %v", err)
	}
	if err := <-txn; err != nil {
		t.Fatalf("EXEC held by the pause: %v", err)
	}
	start := time.Now()
	if err := admin.Do(ctx, "client", "pause", "400").Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET after an ALL pause = %q, %v", v, err)
	}
	if waited := time.Since(start); waited < 350*time.Millisecond {
		t.Fatalf("GET answered %v into a 400 ms ALL pause", waited)
	}
	for _, bad := range [][]any{{"client", "pause", "x"}, {"client", "pause", "-1"}, {"client", "pause", "10", "some"}} {
		if err := admin.Do(ctx, bad...).Err(); err == nil {
			t.Fatalf("%v accepted", bad)
		}
	}
}

// TestClientKill: by address (old form), by ID, and SKIPME; a killed
// client's connection is closed.
func TestClientKill(t *testing.T) {
	ts := defaultTestServer(t)
	ctx := context.Background()
	admin := ts.client(t, &redis.Options{Protocol: 2})
	victim := ts.dial(t)
	victim.send("*2\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n")
	id := strings.TrimPrefix(victim.line(), ":")
	if n, err := admin.Do(ctx, "client", "kill", "id", id).Int(); err != nil || n != 1 {
		t.Fatalf("CLIENT KILL ID %s = %d, %v", id, n, err)
	}
	victim.expectClosed()
	if err := admin.Do(ctx, "client", "kill", "127.0.0.1:1").Err(); err == nil || err.Error() != "ERR No such client" {
		t.Fatalf("CLIENT KILL of an unknown address: %v", err)
	}
	other := ts.dial(t)
	other.send("*1\r\n$4\r\nPING\r\n")
	other.line()
	if n, err := admin.Do(ctx, "client", "kill", "skipme", "yes").Int(); err != nil || n != 1 {
		t.Fatalf("CLIENT KILL SKIPME yes = %d, %v; want the one other client", n, err)
	}
	other.expectClosed()
	if err := admin.Ping(ctx).Err(); err != nil {
		t.Fatalf("the killing client was closed too: %v", err)
	}
	for bad, want := range map[string]string{"id 0": "ERR client-id should be greater than 0", "type bogus": "ERR Unknown client type 'bogus'",
		"user bob": "ERR No such user 'bob'", "skipme maybe": "ERR syntax error", "id 1 type": "ERR syntax error"} {
		args := []any{"client", "kill"}
		for _, f := range strings.Fields(bad) {
			args = append(args, f)
		}
		if err := admin.Do(ctx, args...).Err(); err == nil || err.Error() != want {
			t.Errorf("CLIENT KILL %s: %v, want %s", bad, err, want)
		}
	}
}
