// Package await is how the project's tests wait for what happens in the
// background (gossip converging, hints replayed, a repair round, a process
// coming up): poll a condition until it holds or a deadline passes, with
// an interval that starts at 2ms and doubles up to 100ms (or a fixed
// one, for Poll), and report the condition's last complaint when it never
// held.
package await

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// Cond is a condition to wait for: a func that reports whether it holds,
// or one that returns nil once it holds and otherwise says what is still
// missing.
type Cond interface {
	func() bool | func() error
}

// errNotYet is the complaint of a func() bool condition that never held.
var errNotYet = errors.New("condition never held")

// Until calls cond until it holds or timeout passes, and then returns an
// error wrapping cond's last complaint.
func Until[C Cond](timeout time.Duration, cond C) error {
	return poll(context.Background(), timeout, 0, asErr(cond))
}

// Poll calls cond every period until it returns nil, ctx ends (ctx's
// error), or timeout passes (an error wrapping cond's last complaint): for
// a harness whose polls cost the system under test something, at a pace
// it chooses.
func Poll(ctx context.Context, timeout, period time.Duration, cond func() error) error {
	return poll(ctx, timeout, period, cond)
}

// poll is Until and Poll: period 0 starts at 2ms and doubles up to 100ms.
func poll(ctx context.Context, timeout, period time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	wait := period
	if wait == 0 {
		wait = 2 * time.Millisecond
	}
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v: %w", timeout, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		if period == 0 {
			wait = min(2*wait, 100*time.Millisecond)
		}
	}
}

// T is Until for a test: it fails t, naming what it waited for, when
// cond does not hold within timeout.
func T[C Cond](t testing.TB, timeout time.Duration, what string, cond C) {
	t.Helper()
	if err := Until(timeout, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func asErr[C Cond](cond C) func() error {
	switch c := any(cond).(type) {
	case func() error:
		return c
	case func() bool:
		return func() error {
			if c() {
				return nil
			}
			return errNotYet
		}
	}
	panic("unreachable: Cond is func() bool or func() error")
}
