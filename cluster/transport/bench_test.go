package transport

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// BenchmarkCallParallel runs 50 concurrent callers (whatever GOMAXPROCS)
// against one peer over the default two connections, the load of a
// coordinator under a 50-client benchmark. It reports calls/s and write
// syscalls per call on both sides: below 1 means requests were coalesced.
func BenchmarkCallParallel(b *testing.B) {
	for _, size := range []int{100, 4096} {
		b.Run(sizeName(size), func(b *testing.B) {
			srv, addr := startServer(b, echo, DefaultConfig())
			c := newClient(b, addr, DefaultConfig())
			payload := make([]byte, size)
			if _, err := c.Call(context.Background(), 1, payload); err != nil {
				b.Fatal(err)
			}
			c0, s0 := c.Stats(), srv.Stats()
			const callers = 50
			b.SetParallelism((callers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.SetBytes(int64(size))
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := c.Call(ctx, 1, payload); err != nil {
						b.Error(err)
						return
					}
				}
			})
			elapsed := time.Since(start)
			b.StopTimer()
			c1, s1 := c.Stats(), srv.Stats()
			calls := float64(c1.Requests - c0.Requests)
			b.ReportMetric(calls/elapsed.Seconds(), "calls/s")
			b.ReportMetric(float64(c1.Writes-c0.Writes)/calls, "client-writes/call")
			b.ReportMetric(float64(s1.Writes-s0.Writes)/calls, "server-writes/call")
		})
	}
}

// BenchmarkCallSerial is the one-caller baseline: every call is a round
// trip of its own, so nothing can be coalesced.
func BenchmarkCallSerial(b *testing.B) {
	srv, addr := startServer(b, echo, DefaultConfig())
	c := newClient(b, addr, DefaultConfig())
	payload := make([]byte, 100)
	ctx := context.Background()
	if _, err := c.Call(ctx, 1, payload); err != nil {
		b.Fatal(err)
	}
	c0, s0 := c.Stats(), srv.Stats()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Call(ctx, 1, payload); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	c1, s1 := c.Stats(), srv.Stats()
	calls := float64(c1.Requests - c0.Requests)
	b.ReportMetric(float64(c1.Writes-c0.Writes)/calls, "client-writes/call")
	b.ReportMetric(float64(s1.Writes-s0.Writes)/calls, "server-writes/call")
}

func sizeName(n int) string {
	if n >= 1024 {
		return itoa(n/1024) + "KiB"
	}
	return itoa(n) + "B"
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
