package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	_, addr := startServer(t, echo, testConfig())
	c := newClient(t, addr, testConfig())
	tests := []struct {
		name    string
		op      uint8
		payload []byte
	}{
		{"empty", 7, nil},
		{"small", OpApply, []byte("hello")},
		{"op 255", 255, []byte{0, 1, 2}},
		{"1 MiB", 9, bytes.Repeat([]byte("x"), 1<<20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Call(ctxTimeout(t, 10*time.Second), tt.op, tt.payload)
			if err != nil {
				t.Fatalf("Call: %v", err)
			}
			want := append([]byte{tt.op}, tt.payload...)
			if !bytes.Equal(got, want) {
				t.Fatalf("got %d bytes, want %d", len(got), len(want))
			}
		})
	}
}

func TestManyConcurrentCallsOnFewConns(t *testing.T) {
	srv, addr := startServer(t, echo, testConfig())
	cfg := testConfig()
	cfg.ConnsPerPeer = 2
	c := newClient(t, addr, cfg)
	const callers = 5000
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := binary.BigEndian.AppendUint64(nil, uint64(i))
			got, err := c.Call(ctxTimeout(t, 20*time.Second), 1, p)
			if err == nil && !bytes.Equal(got[1:], p) {
				err = fmt.Errorf("call %d got the answer %x", i, got[1:])
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	within(t, 30*time.Second, "5000 calls", wg.Wait)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.Requests != callers || st.Errors != 0 || st.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
	if st.Conns > 2 || srv.Stats().Conns > 2 {
		t.Fatalf("client has %d conns, server %d; want at most 2", st.Conns, srv.Stats().Conns)
	}
}

// blocker is a handler that holds every request until released or its
// context ends.
type blocker struct {
	entered atomic.Int64
	release chan struct{}
}

func newBlocker() *blocker { return &blocker{release: make(chan struct{})} }

func (b *blocker) Serve(ctx context.Context, op uint8, p []byte) ([]byte, error) {
	b.entered.Add(1)
	select {
	case <-b.release:
		return p, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func TestCallContextEnds(t *testing.T) {
	for _, tt := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 30*time.Millisecond)
		}, context.DeadlineExceeded},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(30*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBlocker()
			mux := NewMux()
			mux.Handle(1, b)
			mux.Handle(2, echo)
			_, addr := startServer(t, mux, testConfig())
			c := newClient(t, addr, testConfig())
			// Connect first, so the call below surely reaches the server
			// and its response surely comes late.
			if _, err := c.Call(ctxTimeout(t, 5*time.Second), 2, nil); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := tt.ctx()
			defer cancel()
			if _, err := c.Call(ctx, 1, []byte("x")); !errors.Is(err, tt.want) {
				t.Fatalf("Call: %v, want %v", err, tt.want)
			}
			for _, s := range c.slots {
				if cc := s.live(); cc != nil {
					cc.mu.Lock()
					n := len(cc.mu.pending)
					cc.mu.Unlock()
					if n != 0 {
						t.Fatalf("%d pending entries left after the call gave up", n)
					}
				}
			}
			close(b.release) // the late response arrives and is dropped
			waitFor(t, "late response dropped", func() bool { return c.Stats().LateResponses == 1 })
			got, err := c.Call(ctxTimeout(t, 5*time.Second), 1, []byte("after"))
			if err != nil || string(got) != "after" {
				t.Fatalf("call after a late response: %q, %v", got, err)
			}
		})
	}
}

func TestServerDiesMidFlight(t *testing.T) {
	b := newBlocker()
	ln := listen(t, "127.0.0.1:0")
	s, err := NewServer(b, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	c := newClient(t, ln.Addr().String(), testConfig())
	const n = 200
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := c.Call(context.Background(), 1, []byte("x")) // no deadline: only the dead conn can end it
			errs <- err
		}()
	}
	waitFor(t, "all calls at the server", func() bool { return b.entered.Load() == n })
	within(t, 10*time.Second, "Server.Close", func() { _ = s.Close() })
	within(t, 5*time.Second, "the pending calls", func() {
		for range n {
			if err := <-errs; !errors.Is(err, ErrConnLost) {
				t.Errorf("Call: %v, want ErrConnLost", err)
			}
		}
	})
	if st := c.Stats(); st.InFlight != 0 || st.Errors != n {
		t.Fatalf("stats after the server died: %+v", st)
	}
}

func TestReconnectAfterServerRestart(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	addr := ln.Addr().String()
	s1, err := NewServer(echo, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s1.Serve(ln) }()
	c := newClient(t, addr, testConfig())
	if _, err := c.Call(ctxTimeout(t, 5*time.Second), 1, nil); err != nil {
		t.Fatalf("first call: %v", err)
	}
	_ = s1.Close()

	// While nothing listens, calls fail fast with ErrUnavailable: each of
	// these has a long deadline that it must not wait out.
	// (A call can see ErrUnavailable as soon as the connections are lost,
	// before the first redial has failed, so wait for both.)
	waitFor(t, "ErrUnavailable and a failed redial while the peer is down", func() bool {
		_, err := c.Call(ctxTimeout(t, time.Minute), 1, nil)
		return errors.Is(err, ErrUnavailable) && c.Stats().DialFailures > 0
	})

	serveOn(t, listen(t, addr), echo, testConfig())
	waitFor(t, "a call to succeed after the restart", func() bool {
		_, err := c.Call(ctxTimeout(t, 5*time.Second), 1, nil)
		return err == nil
	})
	waitFor(t, "the pool to refill", func() bool { return c.Stats().Conns == c.cfg.ConnsPerPeer })
}

func TestUnreachablePeerFailsFast(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	c := newClient(t, addr, testConfig())
	for i := range 20 {
		_, err := c.Call(ctxTimeout(t, time.Minute), 1, nil)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("call %d: %v, want ErrUnavailable", i, err)
		}
	}
}

func TestHandlerError(t *testing.T) {
	mux := NewMux()
	mux.Handle(5, HandlerFunc(func(context.Context, uint8, []byte) ([]byte, error) {
		return nil, errors.New("boom")
	}))
	mux.Handle(6, echo)
	_, addr := startServer(t, mux, testConfig())
	c := newClient(t, addr, testConfig())
	tests := []struct {
		op      uint8
		wantMsg string
	}{
		{5, "boom"},
		{42, "transport: unknown operation: 42"},
	}
	for _, tt := range tests {
		_, err := c.Call(ctxTimeout(t, 5*time.Second), tt.op, nil)
		var re *RemoteError
		if !errors.As(err, &re) || !errors.Is(err, ErrRemote) || re.Msg != tt.wantMsg || re.Op != tt.op {
			t.Fatalf("op %d: %v, want a RemoteError %q", tt.op, err, tt.wantMsg)
		}
	}
	// A handler error is not a connection error.
	if got, err := c.Call(ctxTimeout(t, 5*time.Second), 6, []byte("ok")); err != nil || string(got) != "\x06ok" {
		t.Fatalf("call after a handler error: %q, %v", got, err)
	}
}

func TestOversizeFrames(t *testing.T) {
	cfg := testConfig()
	cfg.MaxFrameBytes = 4096
	big := HandlerFunc(func(context.Context, uint8, []byte) ([]byte, error) { return make([]byte, 5000), nil })
	_, addr := startServer(t, big, cfg)
	c := newClient(t, addr, cfg)

	if _, err := c.Call(ctxTimeout(t, 5*time.Second), 1, make([]byte, 4097)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversize request: %v, want ErrFrameTooLarge", err)
	}
	_, err := c.Call(ctxTimeout(t, 5*time.Second), 1, nil)
	if !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), "frame too large") {
		t.Fatalf("oversize response: %v, want a RemoteError about the frame size", err)
	}

	// A peer announcing an oversize frame gets an error and is cut off.
	nc, fr := rawDial(t, addr, &cfg)
	if _, err := nc.Write(appendHeader(nil, header{length: 4097, kind: kindRequest, op: 1, id: 1})); err != nil {
		t.Fatal(err)
	}
	if msg := expectErrorThenClose(t, fr); !strings.Contains(msg, "frame too large") {
		t.Fatalf("error frame %q", msg)
	}
}

func TestClientClose(t *testing.T) {
	b := newBlocker()
	_, addr := startServer(t, b, testConfig())
	c := newClient(t, addr, testConfig())
	errs := make(chan error, 10)
	for range 10 {
		go func() {
			_, err := c.Call(context.Background(), 1, nil)
			errs <- err
		}()
	}
	waitFor(t, "calls at the server", func() bool { return b.entered.Load() == 10 })
	within(t, 5*time.Second, "Client.Close", func() { _ = c.Close() })
	for range 10 {
		if err := <-errs; !errors.Is(err, ErrConnLost) || !errors.Is(err, ErrClosed) {
			t.Fatalf("in-flight call after Close: %v", err)
		}
	}
	if _, err := c.Call(context.Background(), 1, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Call after Close: %v", err)
	}
	_ = c.Close() // idempotent
}

func TestObserveHook(t *testing.T) {
	_, addr := startServer(t, echo, testConfig())
	type obs struct {
		peer string
		op   uint8
		err  error
	}
	var mu sync.Mutex
	var seen []obs
	cfg := testConfig()
	cfg.Observe = func(peer string, op uint8, d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, obs{peer, op, err})
	}
	c := newClient(t, addr, cfg)
	_, _ = c.Call(ctxTimeout(t, 5*time.Second), 3, nil)
	_, _ = c.Call(ctxTimeout(t, 5*time.Second), 4, make([]byte, cfg.MaxFrameBytes+1))
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != (obs{addr, 3, nil}) || seen[1].op != 4 || !errors.Is(seen[1].err, ErrFrameTooLarge) {
		t.Fatalf("observed %+v", seen)
	}
	// The writer counts its bytes after the write returns, which may be
	// after the answer arrived.
	waitFor(t, "the writer's counters", func() bool { st := c.Stats(); return st.BytesSent > 0 && st.Writes > 0 })
	st := c.Stats()
	if st.Requests != 2 || st.Errors != 1 || st.BytesReceived == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestServerCloseIdempotentAndAddr(t *testing.T) {
	s, err := NewServer(echo, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != nil {
		t.Fatalf("Addr before Serve: %v", s.Addr())
	}
	ln := listen(t, "127.0.0.1:0")
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	waitFor(t, "Addr", func() bool { return s.Addr() != nil })
	if s.Addr().String() != ln.Addr().String() {
		t.Fatalf("Addr %v, want %v", s.Addr(), ln.Addr())
	}
	_ = s.Close()
	_ = s.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if err := s.Serve(listen(t, "127.0.0.1:0")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve after Close: %v", err)
	}
}

// TestNoGoroutineLeak checks that a Client and a Server leave no goroutine
// behind after Close, including after a connection died mid-flight.
func TestNoGoroutineLeak(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		b := newBlocker()
		ln := listen(t, "127.0.0.1:0")
		s, err := NewServer(b, testConfig())
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = s.Serve(ln) }()
		c, err := NewClient(ln.Addr().String(), testConfig())
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = c.Call(context.Background(), 1, nil) }()
		}
		waitFor(t, "calls at the server", func() bool { return b.entered.Load() == 20 })
		_ = s.Close()
		wg.Wait()
		_, _ = c.Call(ctxTimeout(t, time.Second), 1, nil) // starts a dial loop against the dead address
		_ = c.Close()
	}()
	waitFor(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= base })
}

// TestRedialSkipsTheBackoff: a client whose peer was down waits out a
// long backoff before it reconnects; Redial makes it reconnect at once.
func TestRedialSkipsTheBackoff(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // the peer is down
	cfg := testConfig()
	cfg.MinBackoff, cfg.MaxBackoff = time.Hour, time.Hour
	// One connection: with two, the second call could take the other
	// slot, whose first dial may come after the peer is back.
	cfg.ConnsPerPeer = 1
	c := newClient(t, addr, cfg)
	if _, err := c.Call(ctxTimeout(t, 5*time.Second), 1, nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("call to a down peer: %v", err)
	}
	serveOn(t, listen(t, addr), echo, testConfig()) // back, on the same address
	if _, err := c.Call(ctxTimeout(t, 5*time.Second), 1, nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("call within the backoff: %v, want ErrUnavailable", err)
	}
	c.Redial()
	waitFor(t, "a call to succeed after Redial", func() bool {
		_, err := c.Call(ctxTimeout(t, 5*time.Second), 1, nil)
		return err == nil
	})
}
