package transport

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stuckHandler never returns until released, whatever its context says:
// a handler wedged in a disk or a lock.
type stuckHandler struct {
	entered atomic.Int32
	release chan struct{}
	// returned counts the handlers that came back after their release.
	returned atomic.Int32
}

func (h *stuckHandler) Serve(context.Context, uint8, []byte) ([]byte, error) {
	h.entered.Add(1)
	<-h.release
	h.returned.Add(1)
	return []byte("late"), nil
}

// Close returns within CloseTimeout when a handler never returns: the
// connections are closed, the callers fail at once, the handler is left
// behind and Close says so with ErrCloseTimeout.
func TestServerCloseLeavesStuckHandlerBehind(t *testing.T) {
	h := &stuckHandler{release: make(chan struct{})}
	cfg := testConfig()
	cfg.CloseTimeout = 200 * time.Millisecond
	ln := listen(t, "127.0.0.1:0")
	s, err := NewServer(h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	c := newClient(t, ln.Addr().String(), cfg)

	const calls = 3
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for range calls {
		wg.Go(func() {
			_, err := c.Call(context.Background(), 1, []byte("x"))
			errs <- err
		})
	}
	waitFor(t, "handlers running", func() bool { return h.entered.Load() == calls })

	start := time.Now()
	var closeErr error
	within(t, 5*time.Second, "Server.Close with stuck handlers", func() { closeErr = s.Close() })
	took := time.Since(start)
	if !errors.Is(closeErr, ErrCloseTimeout) {
		t.Fatalf("Close: %v, want ErrCloseTimeout", closeErr)
	}
	if took < cfg.CloseTimeout {
		t.Fatalf("Close returned after %v, before CloseTimeout %v", took, cfg.CloseTimeout)
	}
	t.Logf("Close returned after %v with %d handlers stuck: %v", took, calls, closeErr)
	if err := <-served; !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve: %v, want ErrClosed", err)
	}
	within(t, 5*time.Second, "the callers", wg.Wait)
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrConnLost) {
			t.Fatalf("call during Close: %v, want ErrConnLost", err)
		}
	}
	if st := s.Stats(); st.InFlight != calls {
		t.Fatalf("InFlight %d after Close, want the %d stuck handlers", st.InFlight, calls)
	}

	// Released, the handlers answer into closed connections; nothing
	// breaks, and a second Close finds every goroutine gone.
	close(h.release)
	waitFor(t, "handlers to return", func() bool { return h.returned.Load() == calls })
	waitFor(t, "a clean second Close", func() bool { return s.Close() == nil })
	if st := s.Stats(); st.InFlight != 0 {
		t.Fatalf("InFlight %d after the handlers returned", st.InFlight)
	}
}

// Handlers that honour their context end with it: Close waits for them
// and returns nil, well before CloseTimeout.
func TestServerCloseWaitsForHandlersThatStop(t *testing.T) {
	b := newBlocker()
	cfg := testConfig()
	cfg.CloseTimeout = time.Minute
	ln := listen(t, "127.0.0.1:0")
	s, err := NewServer(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	c := newClient(t, ln.Addr().String(), cfg)
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { _, _ = c.Call(context.Background(), 1, nil) })
	}
	waitFor(t, "handlers running", func() bool { return b.entered.Load() == 5 })
	var closeErr error
	within(t, 10*time.Second, "Server.Close", func() { closeErr = s.Close() })
	if closeErr != nil {
		t.Fatalf("Close: %v", closeErr)
	}
	if st := s.Stats(); st.InFlight != 0 {
		t.Fatalf("InFlight %d after Close returned nil", st.InFlight)
	}
	wg.Wait()
}
