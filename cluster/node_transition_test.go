package cluster

import (
	"context"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/ringcache/ringcache/antientropy"
)

// TestStreamLimit: a stream rate of 0 lets everything through at once
// (in steps of a burst), a positive one paces, and the rate changes in
// place (SetStreamRate) either way.
func TestStreamLimit(t *testing.T) {
	lim := newStreamLimit(0)
	budget := antientropy.RateBudget(lim)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := budget(ctx, 1<<30); err != nil {
		t.Fatalf("1 GiB with no limit: %v", err)
	}
	setStreamLimit(lim, 1<<20)
	if lim.Limit() != rate.Limit(1<<20) || lim.Burst() != 1<<20/10 {
		t.Fatalf("1 MiB/s: limit %v burst %d", lim.Limit(), lim.Burst())
	}
	start := time.Now()
	if err := budget(ctx, 1<<19); err != nil { // a tenth at once, the rest paced
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("512 KiB at 1 MiB/s took %v", d)
	}
	setStreamLimit(lim, 0)
	if lim.Limit() != rate.Inf {
		t.Fatalf("back to no limit: %v", lim.Limit())
	}
}
