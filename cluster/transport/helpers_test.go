package transport

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/ringcache/ringcache/bench/await"
)

// testConfig is DefaultConfig with backoffs short enough for tests.
func testConfig() Config {
	c := DefaultConfig()
	c.MinBackoff = 5 * time.Millisecond
	c.MaxBackoff = 50 * time.Millisecond
	return c
}

// echo answers every request with the op byte followed by the payload.
var echo = HandlerFunc(func(_ context.Context, op uint8, p []byte) ([]byte, error) {
	return append([]byte{op}, p...), nil
})

func listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return ln
}

// serveOn starts a Server on ln and closes it when the test ends.
func serveOn(t testing.TB, ln net.Listener, h Handler, cfg Config) *Server {
	t.Helper()
	s, err := NewServer(h, cfg)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		_ = s.Close()
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Errorf("Serve returned %v, want ErrClosed", err)
		}
	})
	return s
}

func startServer(t testing.TB, h Handler, cfg Config) (*Server, string) {
	t.Helper()
	ln := listen(t, "127.0.0.1:0")
	return serveOn(t, ln, h, cfg), ln.Addr().String()
}

func newClient(t testing.TB, addr string, cfg Config) *Client {
	t.Helper()
	c, err := NewClient(addr, cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitFor retries cond until it holds, for up to 10s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	await.T(t, 10*time.Second, what, cond)
}

// within runs f and fails the test if it has not returned by the deadline.
func within(t testing.TB, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// rawDial opens a plain TCP connection to addr, optionally completing the
// client handshake, for tests that speak the protocol by hand.
func rawDial(t testing.TB, addr string, cfg *Config) (net.Conn, *frameReader) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	fr := newFrameReader(nc, nil, 1<<30, 0, nil)
	if cfg != nil {
		if err := clientHandshake(nc, fr, *cfg); err != nil {
			t.Fatalf("handshake: %v", err)
		}
	}
	return nc, fr
}

// expectErrorThenClose reads the frames left on a connection and checks
// that the peer sent a connection-level error frame and then hung up.
func expectErrorThenClose(t testing.TB, fr *frameReader) string {
	t.Helper()
	var msg string
	for {
		h, p, err := fr.next()
		if err != nil {
			if msg == "" {
				t.Fatalf("connection ended (%v) without an error frame", err)
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("peer did not close the connection: %v", err)
			}
			return msg
		}
		if h.kind == kindError && h.id == 0 {
			msg = string(p)
		}
	}
}
