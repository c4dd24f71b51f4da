package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/bench/await"
)

// testServer is a Server on a 127.0.0.1:0 listener.
type testServer struct {
	*Server
	store *memStore
	addr  string
	done  chan error
}

// startServer runs a server with cfg (Addr is ignored) over a memStore and
// shuts it down at the end of the test.
func startServer(t testing.TB, cfg Config, store Store) *testServer {
	t.Helper()
	if store == nil {
		store = newMemStore(cfg.Now)
	}
	srv, err := New(cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: srv, addr: ln.Addr().String(), done: make(chan error, 1)}
	ts.store, _ = store.(*memStore)
	go func() { ts.done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case err := <-ts.done:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Shutdown")
		}
	})
	return ts
}

func defaultTestServer(t testing.TB) *testServer {
	return startServer(t, DefaultConfig(), nil)
}

// client returns a go-redis client with default options.
func (ts *testServer) client(t testing.TB, opt *redis.Options) *redis.Client {
	t.Helper()
	if opt == nil {
		opt = &redis.Options{}
	}
	opt.Addr = ts.addr
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// rawConn is a plain socket for byte-level tests.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	rd *bufio.Reader
}

func (ts *testServer) dial(t testing.TB) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, c: c, rd: bufio.NewReader(c)}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := r.c.Write([]byte(s)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// line reads one reply line without its CRLF.
func (r *rawConn) line() string {
	r.t.Helper()
	s, err := r.rd.ReadString('\n')
	if err != nil {
		r.t.Fatalf("read: %v (got %q)", err, s)
	}
	return strings.TrimSuffix(s, "\r\n")
}

// expect sends cmd (one line, CRLF added) and asserts the reply lines.
func (r *rawConn) expect(cmd string, want ...string) {
	r.t.Helper()
	r.send(cmd + "\r\n")
	for _, w := range want {
		if got := r.line(); got != w {
			r.t.Fatalf("%s: %q, want %q", cmd, got, w)
		}
	}
}

// expectClosed asserts the server closed the connection.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	b, err := r.rd.ReadByte()
	if err == nil {
		rest, _ := r.rd.Peek(r.rd.Buffered())
		r.t.Fatalf("connection still open, read %q%q", b, rest)
	}
	if !errors.Is(err, io.EOF) && !isConnReset(err) {
		r.t.Fatalf("expected EOF, got %v", err)
	}
}

func isConnReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// eventually retries cond until it holds or d passes.
func eventually(t testing.TB, d time.Duration, cond func() bool, msg string) {
	t.Helper()
	await.T(t, d, msg, cond)
}
