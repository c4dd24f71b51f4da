package clustertest_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringcache/ringcache/cluster"
	"github.com/ringcache/ringcache/cluster/clustertest"
)

// warnings is a slog.Handler that counts clock-skew warnings per node
// (the harness tags each node's logger with its id).
type warnings struct {
	mu     *sync.Mutex
	counts map[string]int
	node   string
}

func (w warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w warnings) WithGroup(string) slog.Handler                { return w }
func (w warnings) WithAttrs(as []slog.Attr) slog.Handler {
	for _, a := range as {
		if a.Key == "node" {
			w.node = a.Value.String()
		}
	}
	return w
}
func (w warnings) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "clock is ahead") {
		w.mu.Lock()
		w.counts[w.node]++
		w.mu.Unlock()
	}
	return nil
}

func (w warnings) count(node string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.counts[node]
}

// TestClockSkewDetected runs node 1 with a clock two seconds behind: node
// 0 finds itself ahead of it, beyond the 500ms limit, warns once and
// reports the skew; node 1, being behind, does not warn.
func TestClockSkewDetected(t *testing.T) {
	t.Parallel()
	w := warnings{mu: &sync.Mutex{}, counts: map[string]int{}}
	c := clustertest.New(t, 2, clustertest.Options{
		N: 2, R: 1, W: 1,
		Logger: slog.New(w),
		Configure: func(i int, cfg *cluster.NodeConfig) {
			cfg.SkewInterval = 50 * time.Millisecond
			if i == 1 {
				cfg.Now = func() time.Time { return time.Now().Add(-2 * time.Second) }
			}
		},
	})
	c.Eventually("node 0 to see the skew a few times", func() error {
		if st := c.Node(0).Stats(); st.ClockSkewWarnings < 3 {
			return fmt.Errorf("node 0 stats: %d skew findings", st.ClockSkewWarnings)
		}
		return nil
	})
	st := c.Node(0).Stats()
	if len(st.Skew) != 1 || st.Skew[0].Peer != "n1" || !st.Skew[0].TooFar {
		t.Fatalf("node 0 skew samples %+v", st.Skew)
	}
	if d := st.MaxClockSkew - 2*time.Second; d < -100*time.Millisecond || d > 100*time.Millisecond {
		t.Fatalf("node 0 max clock skew %v, want about 2s", st.MaxClockSkew)
	}
	if got := w.count("n0"); got != 1 {
		t.Fatalf("node 0 logged %d skew warnings, want exactly 1 (rate-limited)", got)
	}
	info, err := c.Client(0).Info(context.Background(), "cluster").Result()
	if err != nil || !strings.Contains(info, "cluster_max_clock_skew_ms:19") && !strings.Contains(info, "cluster_max_clock_skew_ms:20") {
		t.Fatalf("INFO cluster = %q, %v; want cluster_max_clock_skew_ms about 2000", info, err)
	}

	c.Eventually("node 1 to measure node 0", func() error {
		if st := c.Node(1).Stats(); len(st.Skew) != 1 {
			return fmt.Errorf("node 1 skew samples %+v", st.Skew)
		}
		return nil
	})
	st1 := c.Node(1).Stats()
	if st1.Skew[0].Ahead > -1900*time.Millisecond || st1.MaxClockSkew != 0 || st1.ClockSkewWarnings != 0 || w.count("n1") != 0 {
		t.Fatalf("node 1 (behind) stats %+v, %d warnings logged", st1, w.count("n1"))
	}
}
