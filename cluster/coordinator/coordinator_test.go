package coordinator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringcache/ringcache/cluster/quorum"
	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/cluster/topology"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/engine/hlc"
	"github.com/ringcache/ringcache/server"
	"github.com/ringcache/ringcache/server/store"
)

func put(co *Coordinator, ctx context.Context, key, val string) error {
	return co.Put(ctx, []store.Mutation{{Key: []byte(key), Value: []byte(val)}})
}

func mustPut(t *testing.T, co *Coordinator, key, val string) {
	t.Helper()
	if err := put(co, context.Background(), key, val); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func get(co *Coordinator, ctx context.Context, key string) (store.Item, error) {
	items, err := co.Get(ctx, [][]byte{[]byte(key)})
	if err != nil {
		return store.Item{}, err
	}
	return items[0], nil
}

func mustGet(t *testing.T, co *Coordinator, key string) store.Item {
	t.Helper()
	it, err := get(co, context.Background(), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return it
}

func wantNoQuorum(t *testing.T, err error, text string) {
	t.Helper()
	if !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("err %v, want ErrNoQuorum", err)
	}
	var re server.RESPError
	if !errors.As(err, &re) || re.RESPError() != text {
		t.Fatalf("reply %v, want %q", err, text)
	}
}

func TestPutGetThroughAnyNode(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	mustPut(t, tc.coords["n0"], "k", "v")
	for _, id := range tc.ids {
		if it := mustGet(t, tc.coords[id], "k"); !it.Found || string(it.Value) != "v" {
			t.Fatalf("get via %s: %+v", id, it)
		}
	}
	// Every replica eventually holds the same write (the third ack may
	// land after the reply).
	eventually(t, "the write on every replica", func() bool {
		a, okA := tc.stored("n0", "k")
		b, okB := tc.stored("n1", "k")
		c, okC := tc.stored("n2", "k")
		return okA && okB && okC && a.Version == b.Version && b.Version == c.Version
	})
	if it := mustGet(t, tc.coords["n1"], "missing"); it.Found {
		t.Fatalf("missing key found: %+v", it)
	}
}

func TestWriteQuorum(t *testing.T) {
	const noQuorum = "NOQUORUM not enough replicas acknowledged the write: 1 of 2 required (the write may be present on some replicas)"
	tests := []struct {
		name    string
		faults  map[string]fault
		timeout time.Duration
		wantErr string // "" = success
	}{
		{name: "all up", faults: nil},
		{name: "one down", faults: map[string]fault{"n2": faultDown}},
		{name: "one silent", faults: map[string]fault{"n2": faultDrop}, timeout: 200 * time.Millisecond},
		{name: "two down", faults: map[string]fault{"n1": faultDown, "n2": faultDown}, wantErr: noQuorum},
		{name: "two silent: timeout", faults: map[string]fault{"n1": faultDrop, "n2": faultDrop}, timeout: 100 * time.Millisecond, wantErr: noQuorum},
		{name: "one down one silent", faults: map[string]fault{"n1": faultDown, "n2": faultDrop}, timeout: 100 * time.Millisecond, wantErr: noQuorum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestCluster(t, 3, func(c *Config) {
				if tt.timeout > 0 {
					c.Timeout = tt.timeout
				}
			})
			for id, f := range tt.faults {
				tc.net.set(id, f)
			}
			err := put(tc.coords["n0"], context.Background(), "k", "v")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("put: %v", err)
				}
				return
			}
			wantNoQuorum(t, err, tt.wantErr)
			if s := tc.coords["n0"].Stats(); s.WriteQuorumFailures != 1 {
				t.Fatalf("write quorum failures %d, want 1", s.WriteQuorumFailures)
			}
			// The replica that acknowledged keeps the write.
			if _, ok := tc.stored("n0", "k"); !ok {
				t.Fatal("the acknowledging replica lost the write")
			}
		})
	}
}

func TestReadQuorumFailure(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	mustPut(t, tc.coords["n0"], "k", "v")
	tc.net.set("n1", faultDown)
	tc.net.set("n2", faultDown)
	_, err := get(tc.coords["n0"], context.Background(), "k")
	wantNoQuorum(t, err, "NOQUORUM not enough replicas replied to the read: 1 of 2 required")
	if s := tc.coords["n0"].Stats(); s.ReadQuorumFailures != 1 {
		t.Fatalf("read quorum failures %d, want 1", s.ReadQuorumFailures)
	}
}

// TestLateAcksDoNotBlock: a held replica does not delay the reply; once
// released it applies the write, and Close waits for nothing forever.
func TestLateAcksDoNotBlock(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	tc.net.set("n2", faultHold)
	mustPut(t, tc.coords["n0"], "k", "v")
	if _, ok := tc.stored("n2", "k"); ok {
		t.Fatal("held replica applied the write before release")
	}
	tc.net.set("n2", faultNone)
	eventually(t, "late write on n2", func() bool { _, ok := tc.stored("n2", "k"); return ok })
}

// TestCloseCancelsInFlight: calls stuck on silent replicas end on Close.
func TestCloseCancelsInFlight(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *Config) { c.Timeout = time.Hour })
	tc.net.set("n2", faultDrop)
	co := tc.coords["n0"]
	mustPut(t, co, "k", "v") // n2's call stays in flight
	done := make(chan error, 1)
	go func() { done <- co.Close() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not cancel the in-flight replica call")
	}
	if err := put(co, context.Background(), "k", "v"); !errors.Is(err, ErrClosed) {
		t.Fatalf("put after Close: %v", err)
	}
	if _, err := get(co, context.Background(), "k"); !errors.Is(err, ErrClosed) {
		t.Fatalf("get after Close: %v", err)
	}
	if err := co.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// writeWithout writes key through n0 while replica down misses it.
func (tc *testCluster) writeWithout(t *testing.T, down, key, val string) {
	t.Helper()
	tc.whileDown([]string{down}, func() { mustPut(t, tc.coords["n0"], key, val) })
}

func TestReadRepairBeforeReply(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	mustPut(t, tc.coords["n0"], "k", "old")
	eventually(t, "old on n2", func() bool { _, ok := tc.stored("n2", "k"); return ok })
	tc.writeWithout(t, "n2", "k", "new")
	tc.writeWithout(t, "n2", "missing-on-n2", "x")

	// Only n0 (new) and n2 (stale) can answer: n2 must be repaired
	// before the reply.
	tc.net.set("n1", faultDown)
	co := tc.coords["n2"]
	items, err := co.Get(context.Background(), [][]byte{[]byte("k"), []byte("missing-on-n2")})
	if err != nil {
		t.Fatal(err)
	}
	if string(items[0].Value) != "new" || string(items[1].Value) != "x" {
		t.Fatalf("items %+v", items)
	}
	want, _ := tc.stored("n0", "k")
	if r, ok := tc.stored("n2", "k"); !ok || r.Version != want.Version || string(r.Value) != "new" {
		t.Fatalf("n2 not repaired before the reply: %+v", r)
	}
	if _, ok := tc.stored("n2", "missing-on-n2"); !ok {
		t.Fatal("missing record not repaired onto n2")
	}
	if s := co.Stats(); s.ReadRepairsSync != 2 {
		t.Fatalf("sync repairs %+v, want 2", s)
	}
}

func TestLateReplierRepairedInBackground(t *testing.T) {
	// Every replica is asked at once, so the held one is among them
	// whatever the ring's order of the key's replicas.
	tc := newTestCluster(t, 3, func(c *Config) { c.ReadSpeculation = 0 })
	tc.writeWithout(t, "n2", "k", "v")
	tc.net.set("n2", faultHold)
	co := tc.coords["n0"]
	if it := mustGet(t, co, "k"); string(it.Value) != "v" {
		t.Fatalf("get: %+v", it)
	}
	if _, ok := tc.stored("n2", "k"); ok {
		t.Fatal("held replica has the record before release")
	}
	tc.net.set("n2", faultNone) // the held read answers late, with nothing
	eventually(t, "background repair of n2", func() bool { _, ok := tc.stored("n2", "k"); return ok })
	eventually(t, "background repair counted", func() bool { return co.Stats().ReadRepairsBackground == 1 })
	if s := co.Stats(); s.ReadRepairsSync != 0 {
		t.Fatalf("sync repairs %d, want 0 (n0 and n1 agreed)", s.ReadRepairsSync)
	}
}

// TestLateNewerVersionWins: the late replier holds the newest version;
// the background repair spreads it to the replicas that answered first.
func TestLateNewerVersionWins(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *Config) { c.W, c.ReadSpeculation = 1, 0 })
	mustPut(t, tc.coords["n0"], "k", "old")
	eventually(t, "old everywhere", func() bool {
		_, a := tc.stored("n0", "k")
		_, b := tc.stored("n1", "k")
		_, c := tc.stored("n2", "k")
		return a && b && c
	})
	// W=1: a newer write lands on n2 alone. Versions from two nodes in
	// the same millisecond order by node id, so let the clock move on.
	old, _ := tc.stored("n0", "k")
	eventually(t, "a later millisecond", func() bool { return time.Now().UnixMilli() > old.Version.Wall })
	tc.whileDown([]string{"n0", "n1"}, func() { mustPut(t, tc.coords["n2"], "k", "new") })
	tc.net.set("n2", faultHold)
	if it := mustGet(t, tc.coords["n0"], "k"); string(it.Value) != "old" {
		t.Fatalf("quorum of n0,n1 read %q", it.Value)
	}
	tc.net.set("n2", faultNone)
	for _, id := range []string{"n0", "n1"} {
		eventually(t, "new version on "+id, func() bool { r, _ := tc.stored(id, "k"); return string(r.Value) == "new" })
	}
}

func TestTombstoneWinsOverOlderValue(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	mustPut(t, tc.coords["n0"], "k", "v")
	eventually(t, "v on n2", func() bool { _, ok := tc.stored("n2", "k"); return ok })
	tc.whileDown([]string{"n2"}, func() {
		if err := tc.coords["n0"].Put(context.Background(), []store.Mutation{{Key: []byte("k"), Delete: true}}); err != nil {
			t.Fatal(err)
		}
	})
	tc.net.set("n1", faultDown)
	// n0 has the tombstone, n2 the older value.
	if it := mustGet(t, tc.coords["n2"], "k"); it.Found {
		t.Fatalf("deleted key read back: %+v", it)
	}
	if r, ok := tc.stored("n2", "k"); !ok || !r.Tombstone {
		t.Fatalf("n2 not repaired with the tombstone: %+v", r)
	}
}

func TestExpiredRecordWinsOverOlderValue(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	mustPut(t, tc.coords["n0"], "k", "v")
	eventually(t, "v on n2", func() bool { _, ok := tc.stored("n2", "k"); return ok })
	past := time.Now().Add(-time.Minute).UnixMilli()
	tc.whileDown([]string{"n2"}, func() {
		if err := tc.coords["n0"].Put(context.Background(), []store.Mutation{{Key: []byte("k"), Value: []byte("e"), ExpireAt: past}}); err != nil {
			t.Fatal(err)
		}
	})
	tc.net.set("n1", faultDown)
	if it := mustGet(t, tc.coords["n2"], "k"); it.Found {
		t.Fatalf("expired key read back: %+v", it)
	}
	want, _ := tc.stored("n0", "k")
	if r, _ := tc.stored("n2", "k"); r.Version != want.Version {
		t.Fatalf("n2 holds %+v, want version %+v", r, want.Version)
	}
}

func TestConsistencyOverride(t *testing.T) {
	tests := []struct {
		name        string
		read, write quorum.Level
		down        []string
		wantPutErr  string
		wantGetErr  string
	}{
		{name: "ONE writes and reads with two down", read: quorum.One, write: quorum.One, down: []string{"n1", "n2"}},
		{name: "ALL write fails with one down", write: quorum.All, down: []string{"n2"},
			wantPutErr: "NOQUORUM not enough replicas acknowledged the write: 2 of 3 required (the write may be present on some replicas)"},
		{name: "ALL read fails with one down", read: quorum.All, write: quorum.One, down: []string{"n2"},
			wantGetErr: "NOQUORUM not enough replicas replied to the read: 2 of 3 required"},
		{name: "QUORUM is a majority", read: quorum.Quorum, write: quorum.Quorum, down: []string{"n2"}},
		{name: "default keeps W=2", down: []string{"n1", "n2"},
			wantPutErr: "NOQUORUM not enough replicas acknowledged the write: 1 of 2 required (the write may be present on some replicas)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestCluster(t, 3, nil)
			for _, id := range tt.down {
				tc.net.set(id, faultDown)
			}
			ctx := WithConsistency(context.Background(), tt.read, tt.write)
			co := tc.coords["n0"]
			err := put(co, ctx, "k", "v")
			if tt.wantPutErr != "" {
				wantNoQuorum(t, err, tt.wantPutErr)
				return
			}
			if err != nil {
				t.Fatalf("put: %v", err)
			}
			it, err := get(co, ctx, "k")
			if tt.wantGetErr != "" {
				wantNoQuorum(t, err, tt.wantGetErr)
				return
			}
			if err != nil || string(it.Value) != "v" {
				t.Fatalf("get: %+v %v", it, err)
			}
		})
	}
}

// TestOneBatchPerReplica: a multi-key write sends each replica one Apply
// with all of its keys, and each key lands on exactly its N owners.
func TestOneBatchPerReplica(t *testing.T) {
	// Every replica is asked at once, so each gets exactly one read.
	tc := newTestCluster(t, 5, func(c *Config) { c.ReadSpeculation = 0 })
	var muts []store.Mutation
	var keys [][]byte
	for i := 0; i < 60; i++ {
		k := fmt.Sprintf("key-%d", i)
		muts = append(muts, store.Mutation{Key: []byte(k), Value: []byte(k)})
		keys = append(keys, []byte(k))
	}
	co := tc.coords["n0"]
	if err := co.Put(context.Background(), muts); err != nil {
		t.Fatal(err)
	}
	eventually(t, "every replica applied", func() bool {
		for _, id := range tc.ids {
			if _, applies := tc.net.calls(id); applies != 1 {
				return false
			}
		}
		return true
	})
	for _, m := range muts {
		owners := tc.owners(string(m.Key), 3)
		for _, id := range tc.ids {
			_, ok := tc.stored(id, string(m.Key))
			want := strings.Contains(strings.Join(owners, ","), id)
			if ok != want {
				t.Fatalf("key %s on %s: %v, owners %v", m.Key, id, ok, owners)
			}
		}
	}
	items, err := co.Get(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range items {
		if string(it.Value) != string(keys[i]) {
			t.Fatalf("item %d: %+v", i, it)
		}
	}
	eventually(t, "one read call per replica", func() bool {
		for _, id := range tc.ids {
			if reads, _ := tc.net.calls(id); reads != 1 {
				return false
			}
		}
		return true
	})
}

// TestConcurrentWritersConverge: writers on every node race on the same
// keys; afterwards every replica holds the same version of each key and
// every node reads the same value.
func TestConcurrentWritersConverge(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	const keys, rounds = 8, 30
	var wg sync.WaitGroup
	for _, id := range tc.ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				k := fmt.Sprintf("k%d", r%keys)
				if err := put(tc.coords[id], context.Background(), k, id+"-"+fmt.Sprint(r)); err != nil {
					t.Errorf("put via %s: %v", id, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for k := 0; k < keys; k++ {
		key := fmt.Sprintf("k%d", k)
		eventually(t, "replicas agree on "+key, func() bool {
			a, okA := tc.stored("n0", key)
			b, okB := tc.stored("n1", key)
			c, okC := tc.stored("n2", key)
			return okA && okB && okC && a.Version == b.Version && b.Version == c.Version
		})
		want, _ := tc.stored("n0", key)
		for _, id := range tc.ids {
			if it := mustGet(t, tc.coords[id], key); string(it.Value) != string(want.Value) {
				t.Fatalf("%s reads %q via %s, replicas hold %q", key, it.Value, id, want.Value)
			}
		}
	}
}

// TestReadModifyWriteOrdersAfterRead: a coordinator whose clock runs far
// behind still writes a newer version than the one it just read, so a
// quorum read followed by a write (INCR, APPEND) is never lost to LWW.
func TestReadModifyWriteOrdersAfterRead(t *testing.T) {
	behind := func() time.Time { return time.Now().Add(-time.Hour) }
	tc := newTestCluster(t, 3, func(c *Config) {
		if c.Self == "n0" {
			c.Now = behind
		}
	})
	mustPut(t, tc.coords["n1"], "k", "1")
	co := tc.coords["n0"]
	if it := mustGet(t, co, "k"); string(it.Value) != "1" {
		t.Fatalf("read %+v", it)
	}
	mustPut(t, co, "k", "2")
	if it := mustGet(t, tc.coords["n2"], "k"); string(it.Value) != "2" {
		t.Fatalf("write after read lost to the older clock: read %q", it.Value)
	}
}

// TestLaterWriteWinsThroughAnyCoordinator: a client writes a key through
// one node and, once that write is acknowledged, writes it again through
// another node whose clock runs behind. The second write reaches a
// replica holding the first one's newer version, is stamped again above
// it, and wins everywhere: an acknowledged write is never discarded by
// last-write-wins in favour of one acknowledged before it.
func TestLaterWriteWinsThroughAnyCoordinator(t *testing.T) {
	for _, lag := range []time.Duration{time.Hour, 0} {
		t.Run(fmt.Sprint("lag ", lag), func(t *testing.T) {
			tc := newTestCluster(t, 3, func(c *Config) {
				if c.Self == "n1" {
					c.Now = func() time.Time { return time.Now().Add(-lag) }
				}
			})
			for i := range 200 {
				key := fmt.Sprintf("k%d", i%7)
				mustPut(t, tc.coords["n0"], key, fmt.Sprint("a", i))
				mustPut(t, tc.coords["n1"], key, fmt.Sprint("b", i))
				if it := mustGet(t, tc.coords["n2"], key); string(it.Value) != fmt.Sprint("b", i) {
					t.Fatalf("round %d: %s reads %q after the acknowledged write of %q", i, key, it.Value, fmt.Sprint("b", i))
				}
			}
			st := tc.coords["n1"].Stats()
			if lag > 0 && st.Restamps == 0 {
				t.Fatal("no write was stamped again, though n1's clock runs an hour behind")
			}
			if st.RestampsExhausted != 0 {
				t.Fatalf("%d writes exhausted their restamps without concurrent writers", st.RestampsExhausted)
			}
		})
	}
}

// TestRestampOnlyTheBeatenKeys: in a multi-key write only the keys some
// replica holds newer are written again.
func TestRestampOnlyTheBeatenKeys(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *Config) {
		if c.Self == "n1" {
			c.Now = func() time.Time { return time.Now().Add(-time.Hour) }
		}
	})
	mustPut(t, tc.coords["n0"], "old", "a")
	muts := []store.Mutation{{Key: []byte("old"), Value: []byte("b")}, {Key: []byte("fresh"), Value: []byte("c")}}
	if err := tc.coords["n1"].Put(context.Background(), muts); err != nil {
		t.Fatal(err)
	}
	if st := tc.coords["n1"].Stats(); st.Restamps != 1 {
		t.Fatalf("restamps = %d, want 1", st.Restamps)
	}
	// n1 coordinated: its own copies are applied before it answers.
	fresh, _ := tc.stored("n1", "fresh")
	old, _ := tc.stored("n1", "old")
	if fresh.Version.Compare(old.Version) >= 0 || string(old.Value) != "b" {
		t.Fatalf("fresh %v, old %v %q: only the beaten key should carry a new stamp", fresh.Version, old.Version, old.Value)
	}
}

// A flush waits for every member's synced commit, which may take longer
// than one request's Timeout on a loaded node: FlushTimeout bounds it.
func TestFlushWaitsBeyondTimeout(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *Config) {
		c.Timeout = 50 * time.Millisecond
		c.FlushTimeout = 2 * time.Second
	})
	co := tc.coords["n0"]
	if err := co.Put(context.Background(), []store.Mutation{{Key: []byte("k"), Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	tc.net.mu.Lock()
	tc.net.mu.delay["n2"] = 200 * time.Millisecond
	tc.net.mu.Unlock()
	if _, err := co.Len(context.Background()); err != nil {
		t.Fatalf("DBSIZE with a slow member: %v", err)
	}
	if err := co.Flush(context.Background()); err != nil {
		t.Fatalf("flush with a member slower than Timeout: %v", err)
	}
	for _, id := range tc.ids {
		if c, _ := tc.locals[id].Count(context.Background()); c != 0 {
			t.Fatalf("%s holds %d keys after FLUSHALL", id, c)
		}
	}
	// Never shorter than Timeout, whatever FlushTimeout says.
	tc2 := newTestCluster(t, 3, func(c *Config) {
		c.Timeout = time.Second
		c.FlushTimeout = time.Millisecond
	})
	tc2.net.mu.Lock()
	tc2.net.mu.delay["n1"] = 100 * time.Millisecond
	tc2.net.mu.Unlock()
	if err := tc2.coords["n0"].Flush(context.Background()); err != nil {
		t.Fatalf("flush with FlushTimeout below Timeout: %v", err)
	}
}

func TestLenAndFlush(t *testing.T) {
	tc := newTestCluster(t, 5, nil)
	co := tc.coords["n3"]
	var muts []store.Mutation
	for i := 0; i < 100; i++ {
		muts = append(muts, store.Mutation{Key: []byte(fmt.Sprint("k", i)), Value: []byte("v")})
	}
	if err := co.Put(context.Background(), muts); err != nil {
		t.Fatal(err)
	}
	eventually(t, "DBSIZE 100", func() bool { n, err := co.Len(context.Background()); return err == nil && n == 100 })

	// One member down: the estimate scales the others' counts.
	tc.net.set("n4", faultDown)
	n, err := co.Len(context.Background())
	if err != nil || n < 50 || n > 150 {
		t.Fatalf("DBSIZE with a member down: %d, %v", n, err)
	}
	err = co.Flush(context.Background())
	if !errors.Is(err, ErrPartialFlush) || !strings.Contains(err.Error(), "n4") {
		t.Fatalf("flush with a member down: %v", err)
	}
	tc.net.set("n4", faultNone)
	if err := co.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, id := range tc.ids {
		if c, _ := tc.locals[id].Count(context.Background()); c != 0 {
			t.Fatalf("%s holds %d keys after FLUSHALL", id, c)
		}
	}
	if n, err := co.Len(context.Background()); err != nil || n != 0 {
		t.Fatalf("DBSIZE after flush: %d, %v", n, err)
	}
	for _, id := range tc.ids {
		tc.net.set(id, faultDown)
	}
	if _, err := co.Len(context.Background()); err == nil {
		t.Fatal("DBSIZE with every member down succeeded")
	}
}

// A flush keeps out what was read before it: records a read repair, an
// anti-entropy push or a hint replay read before the members dropped
// theirs and applies after are refused, and a write through a node whose
// clock runs behind the flushing node's is stamped again above the floor
// and stored.
func TestFlushFloorKeepsFlushedRecordsOut(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *Config) {
		if c.Self == "n2" {
			c.Clock = hlc.New(c.Self, func() time.Time { return time.Now().Add(-time.Second) })
		}
	})
	ctx := context.Background()
	co := tc.coords["n0"]
	var keys [][]byte
	for i := range 20 {
		k := fmt.Sprint("k", i)
		mustPut(t, co, k, "before")
		keys = append(keys, []byte(k))
	}
	// What a repair of n1's records would carry, read before the flush.
	held, err := tc.locals["n1"].Read(ctx, replica.ReadRequest{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	var oldKeys [][]byte
	var oldRecs []engine.Record
	for i, ok := range held.Found {
		if ok {
			oldKeys, oldRecs = append(oldKeys, keys[i]), append(oldRecs, held.Recs[i])
		}
	}
	if len(oldKeys) == 0 {
		t.Fatal("n1 holds none of the keys written")
	}
	if err := co.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range tc.ids {
		newer, err := tc.locals[id].Apply(ctx, replica.ApplyRequest{Keys: oldKeys, Recs: oldRecs})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range newer {
			if v.IsZero() {
				t.Fatalf("%s stored %s of before the flush again", id, oldKeys[i])
			}
		}
		if c, _ := tc.locals[id].Count(ctx); c != 0 {
			t.Fatalf("%s holds %d keys after the flush and the late repair", id, c)
		}
	}
	for _, k := range keys {
		if it := mustGet(t, co, string(k)); it.Found {
			t.Fatalf("%s is back after the flush: %q", k, it.Value)
		}
	}
	// n2's clock is a second behind n0's, which took the floor. A
	// read-modify-write through it meets the floor and answers TRYAGAIN,
	// and its clock learns the floor, so the retry is stored; a blind
	// write is refused below the floor, stamped again and stored.
	rmw := store.WithReadModifyWrite(ctx)
	incr := []store.Mutation{{Key: []byte("k1"), Value: []byte("1")}}
	if err := tc.coords["n2"].Put(rmw, incr); !errors.Is(err, ErrConcurrentWrite) {
		t.Fatalf("read-modify-write below the floor: %v, want ErrConcurrentWrite", err)
	}
	if err := tc.coords["n2"].Put(rmw, incr); err != nil {
		t.Fatalf("its retry: %v", err)
	}
	mustPut(t, tc.coords["n2"], "k0", "after")
	for _, id := range tc.ids {
		if it := mustGet(t, tc.coords[id], "k0"); !it.Found || string(it.Value) != "after" {
			t.Fatalf("GET k0 through %s after the flush: %+v", id, it)
		}
	}
}

func TestNoPlacement(t *testing.T) {
	tc := newTestCluster(t, 1, nil)
	co, topo := tc.coords["n0"], tc.topos["n0"]
	topo.cur.Store(nil)
	if err := put(co, context.Background(), "k", "v"); !errors.Is(err, ErrNoPlacement) {
		t.Fatalf("put without placement: %v", err)
	}
	topo.ids = []string{"gone"}
	topo.publish()
	// A member without a replica counts as a failed replica.
	err := put(co, context.Background(), "k", "v")
	wantNoQuorum(t, err, "NOQUORUM not enough replicas acknowledged the write: 0 of 2 required (the write may be present on some replicas)")
}

// TestSingleNodeKeepsQuorum: with one member and N=3, R=W=2, each key has
// one replica, and the requirement stays W=2 and R=2 (and ALL stays 3):
// a node that sees fewer members than N never acknowledges what fewer than
// W replicas hold. With N=1 the same member serves alone.
func TestSingleNodeKeepsQuorum(t *testing.T) {
	tc := newTestCluster(t, 1, nil)
	co := tc.coords["n0"]
	wantNoQuorum(t, put(co, context.Background(), "k", "v"),
		"NOQUORUM not enough replicas acknowledged the write: 1 of 2 required (the write may be present on some replicas)")
	if _, err := get(co, context.Background(), "k"); !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("get on a lone member: %v, want NOQUORUM", err)
	}
	all := WithConsistency(context.Background(), quorum.One, quorum.All)
	wantNoQuorum(t, put(co, all, "k", "v"),
		"NOQUORUM not enough replicas acknowledged the write: 1 of 3 required (the write may be present on some replicas)")

	tc = newTestCluster(t, 1, func(c *Config) { c.N, c.R, c.W = 1, 1, 1 })
	co = tc.coords["n0"]
	mustPut(t, co, "k", "v")
	if it := mustGet(t, co, "k"); string(it.Value) != "v" {
		t.Fatalf("get %+v", it)
	}
	if n, err := co.Len(context.Background()); err != nil || n != 1 {
		t.Fatalf("DBSIZE %d %v", n, err)
	}
}

func TestRequestContextCancelled(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	tc.net.set("n1", faultDrop)
	tc.net.set("n2", faultDrop)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := put(tc.coords["n0"], ctx, "k", "v"); !errors.Is(err, context.Canceled) {
		t.Fatalf("put with a cancelled context: %v", err)
	}
	if _, err := get(tc.coords["n0"], ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("get with a cancelled context: %v", err)
	}
}

func TestInfoSections(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	secs := tc.coords["n0"].InfoSections()
	if len(secs) == 0 || secs[0].Name != "Cluster" {
		t.Fatalf("sections %+v", secs)
	}
	fields := map[string]string{}
	for _, f := range secs[0].Fields {
		fields[f[0]] = f[1]
	}
	for k, v := range map[string]string{"cluster_enabled": "0", "ringcache_replicas": "3", "ringcache_read_quorum": "2", "ringcache_write_quorum": "2", "ringcache_members": "3"} {
		if fields[k] != v {
			t.Errorf("%s = %q, want %q", k, fields[k], v)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Self = "a"
	ok.Topology = &topology.Current{}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"N zero", func(c *Config) { c.N = 0 }},
		{"R zero", func(c *Config) { c.R = 0 }},
		{"R above N", func(c *Config) { c.R = 4 }},
		{"W zero", func(c *Config) { c.W = 0 }},
		{"W above N", func(c *Config) { c.W = 4 }},
		{"no timeout", func(c *Config) { c.Timeout = 0 }},
		{"no self", func(c *Config) { c.Self = "" }},
		{"no topology", func(c *Config) { c.Topology = nil }},
		{"no repair workers", func(c *Config) { c.RepairWorkers = 0 }},
	}
	for _, tt := range tests {
		c := ok
		tt.mod(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", tt.name, err)
		}
		if _, err := New(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: New gave %v", tt.name, err)
		}
	}
}

// TestOwnEvictionIsNoConcurrentWrite: a replica that evicted this very
// write (its primary sampled it and wrote the eviction tombstone, one
// step above the write's version) before another replica applied it
// reports that tombstone as newer. The write took effect and was then
// evicted: a read-modify-write succeeds, a blind write is not stamped
// again (which would bring the key back). Any other newer version is
// still a concurrent write.
func TestOwnEvictionIsNoConcurrentWrite(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rmw     bool
		newer   func(v engine.Version) engine.Version
		wantErr error
	}{
		{"rmw, own eviction", true, engine.EvictedVersion, nil},
		{"blind, own eviction", false, engine.EvictedVersion, nil},
		{"rmw, a later write", true, func(v engine.Version) engine.Version { v.Wall++; return v }, ErrConcurrentWrite},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCluster(t, 3, func(c *Config) { c.W = 2 })
			c.net.set("n1", faultHold)
			c.net.set("n2", faultHold)
			ctx := context.Background()
			if tc.rmw {
				ctx = store.WithReadModifyWrite(ctx)
			}
			done := make(chan error, 1)
			go func() { done <- put(c.coords["n0"], ctx, "k", "v") }()
			var written engine.Record
			eventually(t, "the write on n0", func() bool { r, ok := c.stored("n0", "k"); written = r; return ok })
			ev := engine.Record{Tombstone: true, Version: tc.newer(written.Version), EvictedAt: time.Now().UnixMilli()}
			if _, err := c.locals["n1"].Engine().Apply([]byte("k"), ev); err != nil {
				t.Fatal(err)
			}
			c.net.set("n1", faultNone)
			err := <-done
			c.net.set("n2", faultNone)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("put: %v, want %v", err, tc.wantErr)
			}
			if st := c.coords["n0"].Stats(); st.Restamps != 0 {
				t.Fatalf("%d restamps: the write was stamped again", st.Restamps)
			}
			if r, _ := c.stored("n1", "k"); r.Version != ev.Version {
				t.Fatalf("n1 holds %+v, want the tombstone %+v", r, ev)
			}
		})
	}
}

// TestOwnEvictionAmongOtherKeys: in a multi-key blind write, the key whose
// newer version is its own eviction is left evicted, and only the key a
// later write beat is stamped again.
func TestOwnEvictionAmongOtherKeys(t *testing.T) {
	c := newTestCluster(t, 3, func(c *Config) { c.W = 2 })
	c.net.set("n1", faultHold)
	c.net.set("n2", faultHold)
	muts := []store.Mutation{{Key: []byte("evicted"), Value: []byte("v")}, {Key: []byte("beaten"), Value: []byte("v")}}
	done := make(chan error, 1)
	go func() { done <- c.coords["n0"].Put(context.Background(), muts) }()
	var ev, later engine.Record
	eventually(t, "the writes on n0", func() bool {
		a, ok1 := c.stored("n0", "evicted")
		b, ok2 := c.stored("n0", "beaten")
		ev = engine.Record{Tombstone: true, Version: engine.EvictedVersion(a.Version), EvictedAt: time.Now().UnixMilli()}
		later = engine.Record{Version: b.Version, Value: []byte("later")}
		later.Version.Wall++
		return ok1 && ok2
	})
	for key, r := range map[string]engine.Record{"evicted": ev, "beaten": later} {
		if _, err := c.locals["n1"].Engine().Apply([]byte(key), r); err != nil {
			t.Fatal(err)
		}
	}
	c.net.set("n1", faultNone)
	err := <-done
	c.net.set("n2", faultNone)
	if err != nil {
		t.Fatal(err)
	}
	if st := c.coords["n0"].Stats(); st.Restamps != 1 {
		t.Fatalf("%d restamps, want 1 (the beaten key only)", st.Restamps)
	}
	if r, _ := c.stored("n1", "evicted"); r.Version != ev.Version {
		t.Fatalf("n1 holds %+v for the evicted key, want its eviction %+v", r, ev)
	}
	if r, _ := c.stored("n1", "beaten"); r.Version.Compare(later.Version) <= 0 || string(r.Value) != "v" {
		t.Fatalf("n1 holds %+v for the beaten key, want v stamped above %+v", r, later.Version)
	}
}
