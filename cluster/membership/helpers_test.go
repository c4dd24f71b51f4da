package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringcache/ringcache/bench/await"
)

// recorder is a slog.Handler that keeps every record's message and
// attributes, so tests can assert what was logged. With
// MEMBERSHIP_TEST_LOG=1 it also prints them.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", rec.Level, rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	line := b.String()
	if os.Getenv("MEMBERSHIP_TEST_LOG") != "" {
		fmt.Fprintln(os.Stderr, line)
	}
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
	return nil
}

// count returns how many logged lines contain all of parts.
func (r *recorder) count(parts ...string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.lines {
		if containsAll(l, parts) {
			n++
		}
	}
	return n
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// testConfig returns a config for a node on a free loopback port with
// intervals short enough for tests.
func testConfig(id string) Config {
	c := DefaultConfig()
	c.NodeID = id
	c.GossipAddr = "127.0.0.1:0"
	c.ClientAddr = "127.0.0.1:6379"
	c.ClusterAddr = "127.0.0.1:7379"
	c.RejoinInterval = 200 * time.Millisecond
	c.JoinBackoffMin = 20 * time.Millisecond
	c.JoinBackoffMax = 200 * time.Millisecond
	c.ProbeInterval = 100 * time.Millisecond
	c.ProbeTimeout = 50 * time.Millisecond
	c.SuspicionMult = 3
	c.GossipInterval = 20 * time.Millisecond
	c.PushPullInterval = 500 * time.Millisecond
	c.GossipToTheDeadTime = 2 * time.Second
	c.TCPTimeout = 1 * time.Second
	c.LeaveTimeout = 500 * time.Millisecond
	return c
}

// node is a started Membership plus what the test observes of it.
type node struct {
	*Membership
	log     *recorder
	changes *changeLog
}

// changeLog records OnChange calls and checks that they never overlap.
type changeLog struct {
	mu       sync.Mutex
	calls    int
	last     []Member
	inFlight int
	overlap  bool
}

func (c *changeLog) onChange(ms []Member) {
	c.mu.Lock()
	c.inFlight++
	if c.inFlight > 1 {
		c.overlap = true
	}
	c.mu.Unlock()
	runtime.Gosched() // give an overlapping call the chance to show up
	c.mu.Lock()
	c.calls++
	c.last = ms
	c.inFlight--
	c.mu.Unlock()
}

func (c *changeLog) snapshot() (calls int, last []Member, overlap bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls, c.last, c.overlap
}

// startNode starts a node from cfg (after edit, if any), closing it when
// the test ends.
func startNode(t *testing.T, cfg Config) *node {
	t.Helper()
	n := &node{log: &recorder{}, changes: &changeLog{}}
	cfg.Logger = slog.New(n.log)
	cfg.OnChange = n.changes.onChange
	m, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start(%s): %v", cfg.NodeID, err)
	}
	n.Membership = m
	t.Cleanup(func() { _ = m.Close() })
	return n
}

// crash stops n without leaving. Close does exactly what peers see of a
// killed process: gossip stops with no goodbye.
func (n *node) crash() { _ = n.Close() }

// addr is n's gossip address.
func (n *node) addr() string { return n.LocalNode().GossipAddr }

// waitFor retries cond until it returns "" or d passes, then fails the
// test with cond's last complaint.
func waitFor(t *testing.T, d time.Duration, cond func() string) {
	t.Helper()
	await.T(t, d, "the members' views", func() error {
		if msg := cond(); msg != "" {
			return errors.New(msg)
		}
		return nil
	})
}

// view summarises a member list as "id:state" pairs.
func view(ms []Member) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.ID + ":" + m.State.String()
	}
	return strings.Join(parts, ",")
}

// seesAlive returns "" when every node sees exactly ids alive.
func seesAlive(nodes []*node, ids ...string) func() string {
	want := make([]string, len(ids))
	for i, id := range ids {
		want[i] = id + ":alive"
	}
	slices.Sort(want)
	w := strings.Join(want, ",")
	return func() string {
		for _, n := range nodes {
			var alive []string
			for _, m := range n.Members() {
				if m.State == Alive {
					alive = append(alive, m.ID+":alive")
				}
			}
			if got := strings.Join(alive, ","); got != w {
				return fmt.Sprintf("%s sees alive [%s], want [%s]", n.cfg.NodeID, got, w)
			}
		}
		return ""
	}
}

// addSeeds adds seeds for the join loop to reach from its next check on.
func (m *Membership) addSeeds(seeds ...string) {
	m.seeds.Lock()
	defer m.seeds.Unlock()
	for _, s := range seeds {
		if !slices.Contains(m.seeds.list, s) {
			m.seeds.list = append(m.seeds.list, s)
		}
	}
}
