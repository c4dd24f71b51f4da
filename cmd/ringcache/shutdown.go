package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// watchdog bounds how long the process takes to stop once told to. When
// ctx ends (the first SIGTERM or SIGINT) it calls onSignal, which stops
// catching the signals so that a second one ends the process at once,
// and if the process is still running timeout later it calls expire,
// which exits. Every part of the shutdown is bounded on its own (client
// drain, the transport's handlers, the engine's close); the watchdog is
// the bound on their sum, and on what no bound foresaw: a disk that
// stopped answering. Exiting then loses nothing acknowledged, since every
// acknowledged write is in the engine's write-ahead log, handed to the
// OS, as after a SIGKILL.
type watchdog struct {
	done     chan struct{}
	once     sync.Once
	wg       sync.WaitGroup
	signaled atomic.Int64 // when ctx ended, Unix ns; 0 before
}

// startWatchdog starts the watchdog's goroutine; stop ends it.
func startWatchdog(ctx context.Context, timeout time.Duration, onSignal, expire func()) *watchdog {
	w := &watchdog{done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		select {
		case <-ctx.Done():
		case <-w.done:
			return
		}
		w.signaled.Store(time.Now().UnixNano())
		onSignal()
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-t.C:
			expire()
		case <-w.done:
		}
	}()
	return w
}

// elapsed returns how long ago ctx ended, 0 if it has not.
func (w *watchdog) elapsed() time.Duration {
	if at := w.signaled.Load(); at != 0 {
		return time.Since(time.Unix(0, at))
	}
	return 0
}

// stop ends the watchdog and waits for its goroutine. Idempotent.
func (w *watchdog) stop() {
	w.once.Do(func() { close(w.done) })
	w.wg.Wait()
}
