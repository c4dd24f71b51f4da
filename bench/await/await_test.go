package await_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringcache/ringcache/bench/await"
)

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	calls := 0
	err := await.Until(time.Second, func() bool { calls++; return calls == 3 })
	if err != nil || calls != 3 {
		t.Fatalf("Until = %v after %d calls, want nil after 3", err, calls)
	}
}

func TestUntilReportsTheLastComplaint(t *testing.T) {
	errStill := errors.New("still 2 pending")
	start := time.Now()
	err := await.Until(30*time.Millisecond, func() error { return errStill })
	if !errors.Is(err, errStill) || !strings.Contains(err.Error(), "30ms") {
		t.Fatalf("Until = %v, want the condition's error and the timeout", err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("Until gave up after %v, before its timeout", d)
	}
}

func TestUntilChecksAtLeastOnce(t *testing.T) {
	if err := await.Until(0, func() bool { return true }); err != nil {
		t.Fatalf("Until(0) of a condition that holds = %v", err)
	}
}

func TestPollStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := await.Poll(ctx, time.Minute, 5*time.Millisecond, func() error {
		if calls++; calls == 3 {
			cancel()
		}
		return errors.New("not yet")
	})
	if !errors.Is(err, context.Canceled) || calls != 3 {
		t.Fatalf("Poll = %v after %d calls, want context.Canceled after 3", err, calls)
	}
}

// TestTickerPasses: Passes returns once the loop has finished n passes
// and waits for its next tick.
func TestTickerPasses(t *testing.T) {
	tk := await.NewTicker()
	ticks, stop := tk.Start(time.Hour)
	defer stop()
	var passes atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range ticks {
			passes.Add(1)
			if passes.Load() == 5 {
				return
			}
		}
	}()
	tk.Passes(t, 3)
	if n := passes.Load(); n < 3 {
		t.Fatalf("%d passes ended, want 3", n)
	}
	tk.Passes(t, 0)
	<-done
}
