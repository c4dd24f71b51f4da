package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestWatchdogExpiresAfterTheSignal(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var signaled atomic.Int32
	expired := make(chan time.Time, 1)
	w := startWatchdog(ctx, 50*time.Millisecond, func() { signaled.Add(1) }, func() { expired <- time.Now() })
	defer w.stop()
	select {
	case <-expired:
		t.Fatal("expired before the signal")
	case <-time.After(100 * time.Millisecond):
	}
	if w.elapsed() != 0 || signaled.Load() != 0 {
		t.Fatalf("signaled before ctx ended: %v, %d", w.elapsed(), signaled.Load())
	}
	at := time.Now()
	cancel()
	select {
	case when := <-expired:
		if d := when.Sub(at); d < 50*time.Millisecond {
			t.Fatalf("expired %v after the signal, timeout 50ms", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not expire")
	}
	if signaled.Load() != 1 || w.elapsed() < 50*time.Millisecond {
		t.Fatalf("onSignal ran %d times, elapsed %v", signaled.Load(), w.elapsed())
	}
}

func TestWatchdogStoppedInTime(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	expired := make(chan struct{}, 1)
	w := startWatchdog(ctx, 200*time.Millisecond, func() {}, func() { expired <- struct{}{} })
	cancel()
	w.stop()
	w.stop()
	select {
	case <-expired:
		t.Fatal("expired after stop")
	case <-time.After(400 * time.Millisecond):
	}
	// Stopped before any signal: nothing runs.
	w = startWatchdog(context.Background(), time.Millisecond, func() { t.Error("onSignal without a signal") }, func() {})
	w.stop()
}
