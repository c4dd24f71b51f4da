package transport

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringcache/ringcache/engine"
)

// testClock is a Clock that remembers the newest version it observed.
type testClock struct {
	mu       sync.Mutex
	reading  engine.Version
	observed engine.Version
}

func (c *testClock) Peek() engine.Version {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reading
}

func (c *testClock) Observe(v engine.Version) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v.Compare(c.observed) > 0 {
		c.observed = v
	}
}

func (c *testClock) seen() engine.Version {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.observed
}

// TestFramesCarryClocks: a request carries the client's clock to the
// server, and the response the server's clock to the client, each
// observed before the handler runs or the caller gets its answer.
func TestFramesCarryClocks(t *testing.T) {
	cc := &testClock{reading: engine.Version{Wall: 1_000, Logical: 2}}
	sc := &testClock{reading: engine.Version{Wall: 5_000, Logical: 9}}
	var inHandler engine.Version
	h := HandlerFunc(func(context.Context, uint8, []byte) ([]byte, error) {
		inHandler = sc.seen()
		return nil, nil
	})
	scfg, ccfg := testConfig(), testConfig()
	scfg.Clock, ccfg.Clock = sc, cc
	_, addr := startServer(t, h, scfg)
	c := newClient(t, addr, ccfg)
	if _, err := c.Call(ctxTimeout(t, 5*time.Second), 7, nil); err != nil {
		t.Fatal(err)
	}
	if inHandler != cc.reading {
		t.Fatalf("server observed %v before the handler, want the client's %v", inHandler, cc.reading)
	}
	if got := cc.seen(); got != sc.reading {
		t.Fatalf("client observed %v, want the server's %v", got, sc.reading)
	}
	// Error answers carry the clock too.
	sc.mu.Lock()
	sc.reading = engine.Version{Wall: 6_000}
	sc.mu.Unlock()
	mux := NewMux() // every op unknown: an error frame
	scfg2 := scfg
	_, addr2 := startServer(t, mux, scfg2)
	c2 := newClient(t, addr2, ccfg)
	if _, err := c2.Call(ctxTimeout(t, 5*time.Second), 9, nil); !errors.Is(err, ErrRemote) {
		t.Fatalf("call to an unknown op: %v", err)
	}
	if got := cc.seen(); got.Wall != 6_000 {
		t.Fatalf("client observed %v from an error frame, want wall 6000", got)
	}
}

// pastArrivals says every request arrived long ago.
type pastArrivals struct{ ago time.Duration }

func (p pastArrivals) Arrival(_, read time.Time) time.Time        { return read.Add(-p.ago) }
func (p pastArrivals) ReadArrival(_, _, read time.Time) time.Time { return read.Add(-p.ago) }

// TestExpiredRequestIsNotRun: a request whose deadline passed before it
// could run (here: it "arrived" a minute before it was read, as after a
// SIGSTOP) is answered with ErrExpired and its handler never runs; a
// request without a deadline still runs.
func TestExpiredRequestIsNotRun(t *testing.T) {
	var ran atomic.Int32
	h := HandlerFunc(func(context.Context, uint8, []byte) ([]byte, error) {
		ran.Add(1)
		return []byte("done"), nil
	})
	scfg := testConfig()
	scfg.Arrivals = pastArrivals{ago: time.Minute}
	srv, addr := startServer(t, h, scfg)
	c := newClient(t, addr, testConfig())
	_, err := c.Call(ctxTimeout(t, 5*time.Second), 3, nil)
	if !errors.Is(err, ErrRemote) || !containsMsg(err, ErrExpired.Error()) {
		t.Fatalf("call that waited out its deadline: %v, want ErrExpired", err)
	}
	if ran.Load() != 0 {
		t.Fatal("the expired request ran")
	}
	if st := srv.Stats(); st.Expired != 1 {
		t.Fatalf("Expired = %d, want 1", st.Expired)
	}
	if resp, err := c.Call(context.Background(), 3, nil); err != nil || string(resp) != "done" {
		t.Fatalf("call without a deadline: %q, %v", resp, err)
	}
}

// TestRequestExpiresWhileQueued: with one worker per connection busy, a
// request whose deadline passes while it waits for the worker is refused
// when its turn comes, and its handler never runs.
func TestRequestExpiresWhileQueued(t *testing.T) {
	release := make(chan struct{})
	var ran atomic.Int32
	h := HandlerFunc(func(_ context.Context, op uint8, _ []byte) ([]byte, error) {
		if op == 1 {
			<-release
			return nil, nil
		}
		ran.Add(1)
		return nil, nil
	})
	scfg := testConfig()
	scfg.MaxInFlightPerConn = 1
	ccfg := testConfig()
	ccfg.ConnsPerPeer = 1
	_, addr := startServer(t, h, scfg)
	c := newClient(t, addr, ccfg)
	busy := make(chan error, 1)
	go func() {
		_, err := c.Call(context.Background(), 1, nil)
		busy <- err
	}()
	time.Sleep(50 * time.Millisecond) // the worker is taken
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Call(ctx, 2, nil); err == nil {
		t.Fatal("the queued call succeeded")
	}
	time.Sleep(150 * time.Millisecond)
	close(release)
	if err := <-busy; err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if ran.Load() != 0 {
		t.Fatal("a request whose deadline passed while it was queued ran")
	}
}

func containsMsg(err error, s string) bool {
	var re *RemoteError
	return errors.As(err, &re) && len(re.Msg) >= len(s) && re.Msg[:len(s)] == s
}
