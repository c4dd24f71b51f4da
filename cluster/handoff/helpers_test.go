package handoff_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"

	"github.com/ringcache/ringcache/bench/await"
	"github.com/ringcache/ringcache/cluster/handoff"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/engine/enginetest"
)

// errInjected is what the fake cluster's failing calls return.
var errInjected = errors.New("injected failure")

// clock is an injectable Config.Now that only moves when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// call is one Deliver or Handover the fake cluster received.
type call struct {
	target string // "" for Handover
	keys   []string
	recs   []engine.Record
}

// fakeCluster is a handoff.Cluster with a status per target (Down unless
// set), recorded calls and injectable failures.
type fakeCluster struct {
	mu sync.Mutex
	// status per target; absent means Down.
	status map[string]handoff.Status
	// failDeliver and failHandover make every call fail while set.
	failDeliver, failHandover bool
	// onDeliver, when set, runs inside Deliver before it answers; the
	// call's index (from 0) is passed in. Its error, if any, is returned.
	onDeliver func(n int) error
	// refuse, when set, is asked about every Deliver's hints before it is
	// recorded; its error, if any, is returned instead.
	refuse    func(keys [][]byte, recs []engine.Record) error
	delivers  []call
	handovers []call
	// attempts counts Deliver calls, failed ones included.
	attempts int
}

func newFakeCluster() *fakeCluster { return &fakeCluster{status: map[string]handoff.Status{}} }

func (f *fakeCluster) set(target string, s handoff.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[target] = s
}

func (f *fakeCluster) setFail(deliver, handover bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failDeliver, f.failHandover = deliver, handover
}

func (f *fakeCluster) Status(target string) handoff.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status[target]
}

func (f *fakeCluster) Deliver(_ context.Context, target string, keys [][]byte, recs []engine.Record) error {
	f.mu.Lock()
	n := f.attempts
	f.attempts++
	hook, fail, refuse := f.onDeliver, f.failDeliver, f.refuse
	f.mu.Unlock()
	if hook != nil {
		if err := hook(n); err != nil {
			return err
		}
	}
	if refuse != nil {
		if err := refuse(keys, recs); err != nil {
			return err
		}
	}
	if fail {
		return errInjected
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delivers = append(f.delivers, newCall(target, keys, recs))
	return nil
}

func (f *fakeCluster) Handover(_ context.Context, keys [][]byte, recs []engine.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failHandover {
		return errInjected
	}
	f.handovers = append(f.handovers, newCall("", keys, recs))
	return nil
}

// newCall copies a call's arguments: the Manager may reuse them.
func newCall(target string, keys [][]byte, recs []engine.Record) call {
	c := call{target: target}
	for i, k := range keys {
		r := recs[i]
		r.Value = slices.Clone(r.Value)
		c.keys = append(c.keys, string(k))
		c.recs = append(c.recs, r)
	}
	return c
}

// received returns the last record delivered to target per key (target
// "" reads the handovers) and how many calls carried them.
func (f *fakeCluster) received(target string) (map[string]engine.Record, []call) {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls := f.delivers
	if target == "" {
		calls = f.handovers
	}
	out := map[string]engine.Record{}
	var mine []call
	for _, c := range calls {
		if c.target != target {
			continue
		}
		mine = append(mine, c)
		for i, k := range c.keys {
			out[k] = c.recs[i]
		}
	}
	return out, mine
}

func (f *fakeCluster) deliverAttempts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts
}

// testConfig returns a Config for tests: fast retries, small batches, a
// replay rate that never throttles and the injected clock.
func testConfig(e *engine.Engine, c handoff.Cluster, clk *clock) handoff.Config {
	cfg := handoff.DefaultConfig()
	cfg.Store, cfg.Cluster, cfg.Now = e, c, clk.Now
	cfg.RetryInterval = 20 * time.Millisecond
	cfg.BatchKeys = 16
	cfg.ReplayRate = 1 << 40
	cfg.Timeout = time.Second
	return cfg
}

func newManager(t *testing.T, cfg handoff.Config) *handoff.Manager {
	t.Helper()
	m, err := handoff.New(cfg)
	if err != nil {
		t.Fatalf("handoff.New: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// rec returns a live record with value v at version wall.
func rec(v string, wall int64) engine.Record {
	return engine.Record{Value: []byte(v), Version: engine.Version{Wall: wall, Node: 7}}
}

// hintKeys returns n distinct keys with a record each (value "v-<key>").
func hintKeys(n int, wall int64) ([][]byte, []engine.Record) {
	keys := make([][]byte, n)
	recs := make([]engine.Record, n)
	for i := range keys {
		k := fmt.Sprintf("key:%05d", i)
		keys[i], recs[i] = []byte(k), rec("v-"+k, wall)
	}
	return keys, recs
}

// statsOf returns the Stats entry of target (zero if absent).
func statsOf(m *handoff.Manager, target string) handoff.TargetStats {
	for _, s := range m.Stats() {
		if s.Target == target {
			return s
		}
	}
	return handoff.TargetStats{Target: target}
}

// drained waits until target's queue is empty and its counters hold at
// least hints hints, delivered or dropped: the replay deletes a batch
// from the queue before it counts it, so an empty queue alone does not
// mean the counters are final.
func drained(t *testing.T, m *handoff.Manager, target string, hints int64) {
	t.Helper()
	eventually(t, "queue drained, every hint counted", func() error {
		if s := statsOf(m, target); s.Pending != 0 || s.Delivered+s.Dropped < hints {
			return fmt.Errorf("stats %+v", s)
		}
		return nil
	})
}

// eventually polls cond until it returns nil, for up to 10s.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	await.T(t, 10*time.Second, what, cond)
}

// mustHold stores hints and fails the test on error.
func mustHold(t *testing.T, m *handoff.Manager, target string, keys [][]byte, recs []engine.Record) {
	t.Helper()
	if err := m.Hold(target, keys, recs); err != nil {
		t.Fatalf("Hold(%s, %d keys): %v", target, len(keys), err)
	}
}

// sameRecord compares records, nil and empty values alike.
func sameRecord(a, b engine.Record) bool {
	return a.Version == b.Version && a.ExpireAt == b.ExpireAt && a.Tombstone == b.Tombstone &&
		string(a.Value) == string(b.Value)
}

// memEngine opens an engine on fs (a fresh in-memory one when nil).
func memEngine(t *testing.T, fs vfs.FS) *engine.Engine {
	t.Helper()
	if fs == nil {
		return enginetest.Open(t)
	}
	return enginetest.Open(t, func(c *engine.Config) { c.FS = fs })
}
