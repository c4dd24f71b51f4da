package server

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/server/store"
)

// routedNodes are servers over one shared memStore, each with its own
// Router view: which node it takes for every key's primary. Forward
// calls the other server's ServeForward directly, as the cluster's
// transport would.
type routedNodes struct {
	mu      sync.Mutex
	servers map[string]*testServer
	views   map[string]string // node id -> the primary it sees for every key
	delay   time.Duration     // each Forward's, before the primary runs it
	// asked, if set, is told of every Primary call and may change views.
	asked func(id string)
}

type routedStore struct {
	*memStore
	id    string
	nodes *routedNodes
}

// Primary: the view's node, but "c" for keys that start with "c:".
func (r *routedStore) Primary(key []byte) (string, bool) {
	r.nodes.mu.Lock()
	defer r.nodes.mu.Unlock()
	if r.nodes.asked != nil {
		r.nodes.asked(r.id)
	}
	p := r.nodes.views[r.id]
	if strings.HasPrefix(string(key), "c:") {
		p = "c"
	}
	return p, p == r.id
}

func (r *routedStore) Forward(ctx context.Context, id string, req []byte) ([]byte, error) {
	r.nodes.mu.Lock()
	ts, delay := r.nodes.servers[id], r.nodes.delay
	r.nodes.mu.Unlock()
	time.Sleep(delay)
	return ts.ServeForward(ctx, req)
}

// startRouted starts servers a, b and c over one store; views says which
// node each takes for the primary.
func startRouted(t *testing.T, views map[string]string) *routedNodes {
	return startRoutedWith(t, DefaultConfig(), views)
}

func startRoutedWith(t *testing.T, cfg Config, views map[string]string) *routedNodes {
	t.Helper()
	mem := newMemStore(nil)
	rn := &routedNodes{servers: map[string]*testServer{}, views: views}
	for _, id := range []string{"a", "b", "c"} {
		ts := startServer(t, cfg, &routedStore{memStore: mem, id: id, nodes: rn})
		rn.mu.Lock()
		rn.servers[id] = ts
		rn.mu.Unlock()
	}
	return rn
}

func (rn *routedNodes) client(t *testing.T, id string, opt *redis.Options) *redis.Client {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.servers[id].client(t, opt)
}

func (rn *routedNodes) stats(id string) Stats {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.servers[id].Stats()
}

// TestReadModifyWriteRunsAtThePrimary: a read-modify-write command sent
// to a node that is not its key's primary runs there, in the client's
// database and protocol, with its reply (an error too) passed back as
// is; blind writes and reads run where they arrive.
func TestReadModifyWriteRunsAtThePrimary(t *testing.T) {
	rn := startRouted(t, map[string]string{"a": "b", "b": "b", "c": "b"})
	ctx := context.Background()
	a := rn.client(t, "a", &redis.Options{Protocol: 3, DB: 3})
	if n, err := a.Incr(ctx, "n").Result(); err != nil || n != 1 {
		t.Fatalf("INCR = %d, %v", n, err)
	}
	if got := rn.stats("a").Forwarded; got != 1 {
		t.Fatalf("a forwarded %d requests, want 1", got)
	}
	b := rn.client(t, "b", &redis.Options{DB: 3})
	if v, err := b.Get(ctx, "n").Result(); err != nil || v != "1" {
		t.Fatalf("GET n in db 3 on b = %q, %v", v, err)
	}
	// RESP3's null, from SET ... GET of a missing key at the primary.
	if _, err := a.SetArgs(ctx, "fresh", "v", redis.SetArgs{Get: true}).Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("SET fresh v GET = %v, want nil", err)
	}
	if err := a.Set(ctx, "s", "text", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := a.Incr(ctx, "s").Err(); err == nil || err.Error() != "ERR value is not an integer or out of range" {
		t.Fatalf("INCR of a string through a = %v", err)
	}
	if got := rn.stats("a").Forwarded; got != 3 {
		t.Fatalf("a forwarded %d requests, want 3 (SET and GET run where they arrive)", got)
	}
}

// TestForwardPassedOnOnceThenRefused: a node that is not the primary in
// its own view passes a forwarded command on once; when the node it
// reaches does not take itself for the primary either, the command is
// refused unrun and, after its retries, the client reads TRYAGAIN.
func TestForwardPassedOnOnceThenRefused(t *testing.T) {
	ctx := context.Background()
	t.Run("passed on", func(t *testing.T) {
		rn := startRouted(t, map[string]string{"a": "b", "b": "c", "c": "c"})
		if n, err := rn.client(t, "a", nil).Incr(ctx, "n").Result(); err != nil || n != 1 {
			t.Fatalf("INCR = %d, %v", n, err)
		}
		if got := rn.stats("b").Relayed; got != 1 {
			t.Fatalf("b relayed %d, want 1", got)
		}
	})
	t.Run("refused", func(t *testing.T) {
		rn := startRouted(t, map[string]string{"a": "b", "b": "c", "c": "a"})
		// go-redis retries TRYAGAIN itself (as Redis Cluster clients
		// do); this client does not, to count one command's routes.
		err := rn.client(t, "a", &redis.Options{MaxRetries: -1}).Incr(ctx, "n").Err()
		if err == nil || !strings.HasPrefix(err.Error(), "TRYAGAIN ") {
			t.Fatalf("INCR with disagreeing views = %v, want TRYAGAIN", err)
		}
		if got := rn.stats("c").ForwardsRefused; got != routeAttempts {
			t.Fatalf("c refused %d, want %d", got, routeAttempts)
		}
		if v, err := rn.client(t, "b", nil).Get(ctx, "n").Result(); !errors.Is(err, redis.Nil) {
			t.Fatalf("n = %q, %v: a refused INCR ran", v, err)
		}
	})
}

// TestServeForwardRefusesMalformedRequests: garbage from a peer is an
// error, never a panic or a command run.
func TestServeForwardRefusesMalformedRequests(t *testing.T) {
	rn := startRouted(t, map[string]string{"a": "a", "b": "a", "c": "a"})
	ts := rn.servers["a"]
	for _, b := range [][]byte{nil, {1}, {2, 1, 0, 0, 0, 0, 1}, {1, 1, 0, 0, 0, 0, 1, 1, 200}} {
		if _, err := ts.ServeForward(context.Background(), b); !errors.Is(err, errMalformedForward) {
			t.Errorf("ServeForward(%v) = %v, want errMalformedForward", b, err)
		}
	}
}

func TestForwardRequestRoundTrip(t *testing.T) {
	for _, r := range []forwardRequest{
		{hop: 1, cmds: [][][]byte{{[]byte("incr"), []byte("k")}}},
		{hop: 2, db: 300, resp3: true, read: "ALL", write: "QUORUM", deadline: 1764959823123456, cmds: [][][]byte{
			{[]byte("set"), []byte("k"), []byte(""), []byte("NX")}, {[]byte("get"), []byte("k")}}},
		{hop: 1, txn: true, cmds: [][][]byte{{[]byte("incr"), []byte("{t}a")}}, watch: []watchedKey{
			{db: 3, key: []byte("{t}b"), version: store.Version{Wall: -5, Logical: 1 << 31, Node: 1<<64 - 1}},
			{key: []byte{}}}},
	} {
		got, err := decodeForward(r.append(nil))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip of %+v = %+v", r, got)
		}
	}
}

func FuzzDecodeForward(f *testing.F) {
	f.Add((&forwardRequest{hop: 1, db: 2, cmds: [][][]byte{{[]byte("incr"), []byte("k")}}}).append(nil))
	f.Add([]byte{1, 1, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeForward(b)
		if err != nil {
			return
		}
		again, err := decodeForward(r.append(nil))
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("%+v re-encoded decodes to %+v, %v", r, again, fmt.Sprint(err))
		}
	})
}

// TestTransactionsAtTheirPrimary: a transaction whose keys have one
// primary runs there as a whole; one whose keys have two runs command by
// command where it arrived, or is refused with CROSSSLOT when
// StrictTransactions is set.
func TestTransactionsAtTheirPrimary(t *testing.T) {
	ctx := context.Background()
	views := map[string]string{"a": "b", "b": "b", "c": "b"}
	exec := func(cl *redis.Client, keys ...string) ([]redis.Cmder, error) {
		return cl.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Incr(ctx, k)
			}
			return nil
		})
	}
	t.Run("one primary", func(t *testing.T) {
		rn := startRouted(t, views)
		if _, err := exec(rn.client(t, "a", nil), "x", "y"); err != nil {
			t.Fatal(err)
		}
		if got := rn.stats("a").Forwarded; got != 1 {
			t.Fatalf("a forwarded %d requests for one transaction, want 1", got)
		}
	})
	t.Run("two primaries", func(t *testing.T) {
		rn := startRouted(t, views)
		cmds, err := exec(rn.client(t, "a", nil), "x", "c:y")
		if err != nil {
			t.Fatal(err)
		}
		if n := cmds[1].(*redis.IntCmd).Val(); n != 1 {
			t.Fatalf("INCR c:y = %d", n)
		}
		if got := rn.stats("a").Forwarded; got != 2 {
			t.Fatalf("a forwarded %d requests, want 2: each INCR to its primary", got)
		}
	})
	t.Run("strict", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.StrictTransactions = true
		rn := startRoutedWith(t, cfg, views)
		_, err := exec(rn.client(t, "a", nil), "x", "c:y")
		if err == nil || err.Error() != "CROSSSLOT Keys in request don't hash to the same slot" {
			t.Fatalf("EXEC across primaries = %v, want CROSSSLOT", err)
		}
		if v, err := rn.client(t, "b", nil).Get(ctx, "x").Result(); !errors.Is(err, redis.Nil) {
			t.Fatalf("x = %q, %v after a refused transaction", v, err)
		}
	})
}

// TestForwardAfterItsDeadlineIsNotRun: a forwarded command that reaches
// its primary after its sender's deadline (it waited out a partition in
// the network) is refused unrun: run now, it would stamp its write above
// what its client wrote since giving up.
func TestForwardAfterItsDeadlineIsNotRun(t *testing.T) {
	rn := startRouted(t, map[string]string{"a": "a", "b": "a", "c": "a"})
	req := forwardRequest{hop: 1, deadline: time.Now().Add(-time.Millisecond).UnixMicro(),
		cmds: [][][]byte{{[]byte("SET"), []byte("k"), []byte("late"), []byte("GET")}}}
	if _, err := rn.servers["a"].ServeForward(context.Background(), req.append(nil)); !errors.Is(err, store.ErrNotRun) {
		t.Fatalf("ServeForward after the deadline = %v, want ErrNotRun", err)
	}
	if v, err := rn.client(t, "a", nil).Get(context.Background(), "k").Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("k = %q, %v: the late command ran", v, err)
	}
	req.deadline = time.Now().Add(time.Second).UnixMicro()
	if _, err := rn.servers["a"].ServeForward(context.Background(), req.append(nil)); err != nil {
		t.Fatalf("ServeForward before the deadline = %v", err)
	}
}

// TestLoneIncrsRelayedTogether: clients that each send one INCR-family
// command at a time through a node that is not the primary have their
// commands forwarded in fewer requests than commands (relayIncrs), and
// each still gets its own reply: every value of a counter is handed out
// exactly once, the counters end at the sum of their increments, and a
// command that fails (a key that is not an integer) fails alone.
func TestLoneIncrsRelayedTogether(t *testing.T) {
	rn := startRouted(t, map[string]string{"a": "b", "b": "b", "c": "b"})
	rn.mu.Lock()
	rn.delay = 2 * time.Millisecond
	rn.mu.Unlock()
	ctx := context.Background()
	if err := rn.client(t, "a", nil).Set(ctx, "text", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	const clients, each, counters = 24, 20, 4
	var mu sync.Mutex
	seen := map[string]map[int64]bool{}
	var wg sync.WaitGroup
	for i := range clients {
		cl := rn.client(t, "a", &redis.Options{PoolSize: 1})
		wg.Go(func() {
			for j := range each {
				key := fmt.Sprintf("n%d", (i+j)%counters)
				var n int64
				var err error
				if j%2 == 0 {
					n, err = cl.Incr(ctx, key).Result()
				} else {
					n, err = cl.IncrBy(ctx, key, 1).Result()
				}
				if err != nil {
					t.Errorf("INCR %s: %v", key, err)
					return
				}
				mu.Lock()
				if seen[key] == nil {
					seen[key] = map[int64]bool{}
				}
				if seen[key][n] {
					t.Errorf("%s = %d handed out twice", key, n)
				}
				seen[key][n] = true
				mu.Unlock()
				if j == each/2 {
					if err := cl.Incr(ctx, "text").Err(); err == nil || !strings.Contains(err.Error(), "not an integer") {
						t.Errorf("INCR of a string: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	b := rn.client(t, "b", nil)
	total := 0
	for k, vals := range seen {
		got, err := b.Get(ctx, k).Int()
		if err != nil || got != len(vals) {
			t.Fatalf("%s = %d, %v; %d increments acknowledged", k, got, err, len(vals))
		}
		for v := 1; v <= got; v++ {
			if !vals[int64(v)] {
				t.Fatalf("%s: value %d was never handed out", k, v)
			}
		}
		total += got
	}
	cmds := total + clients // the INCRs of "text" too
	if fw := rn.stats("a").Forwarded; fw >= int64(cmds) {
		t.Fatalf("%d commands in %d forwarded requests: not relayed together", cmds, fw)
	} else {
		t.Logf("%d commands in %d forwarded requests", cmds, fw)
	}
}

// TestLoneIncrRoutedAgainWhenItsPrimaryMoves: a lone INCR that a node
// takes for its own, but finds another node's primary when it runs it
// (its view changed in between), is not run there: it is routed again
// and runs once, not answered with the refusal.
func TestLoneIncrRoutedAgainWhenItsPrimaryMoves(t *testing.T) {
	rn := startRouted(t, map[string]string{"a": "a", "b": "c", "c": "c"})
	calls := 0
	rn.mu.Lock()
	rn.asked = func(id string) {
		if id == "a" {
			if calls++; calls == 2 { // route() asked first, then ServeForward
				rn.views["a"] = "b"
			}
		}
	}
	rn.mu.Unlock()
	ctx := context.Background()
	if n, err := rn.client(t, "a", &redis.Options{MaxRetries: -1}).Incr(ctx, "n").Result(); err != nil || n != 1 {
		t.Fatalf("INCR while a's view moves = %d, %v; want 1", n, err)
	}
	if r := rn.stats("a").Rerouted; r == 0 {
		t.Fatalf("a routed nothing again: the case was not reached")
	}
	if n, err := rn.client(t, "c", nil).Get(ctx, "n").Int(); err != nil || n != 1 {
		t.Fatalf("n = %d, %v after one INCR", n, err)
	}
}

// TestForwardedScripts: a script forwarded to its keys' primary may run
// longer than the forward timeout, up to busy-reply-threshold more, and
// answers its result; one that could only start after its sender's
// deadline (it waited for its keys' locks) is not run.
func TestForwardedScripts(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ForwardTimeout, cfg.BusyThreshold = 100*time.Millisecond, 400*time.Millisecond
	rn := startRoutedWith(t, cfg, map[string]string{"a": "b", "b": "b", "c": "b"})
	ctx := context.Background()
	const body = `redis.call('SET', KEYS[1], ARGV[1])
local t0 = redis.call('TIME')
local start = t0[1] * 1000000 + t0[2]
while true do
  local t = redis.call('TIME')
  if t[1] * 1000000 + t[2] - start > tonumber(ARGV[2]) then break end
end
redis.call('SET', KEYS[2], ARGV[1])
return 'done'`
	a := rn.client(t, "a", &redis.Options{MaxRetries: -1})
	if got, err := a.Eval(ctx, body, []string{"x1", "x2"}, "v", 250000).Result(); err != nil || got != "done" {
		t.Fatalf("a 250 ms script forwarded with a 100 ms forward timeout: %v, %v", got, err)
	}
	if v, err := a.Get(ctx, "x2").Result(); err != nil || v != "v" {
		t.Fatalf("x2 = %q, %v after the forwarded script", v, err)
	}

	b := rn.client(t, "b", &redis.Options{MaxRetries: -1})
	long := make(chan error, 1)
	go func() { long <- b.Eval(ctx, body, []string{"k", "k2"}, "first", 800000).Err() }()
	time.Sleep(50 * time.Millisecond)
	err := a.Eval(ctx, "return redis.call('SET', KEYS[1], 'late')", []string{"k"}).Err()
	if err == nil || !strings.Contains(err.Error(), "could not start before its sender's deadline") {
		t.Fatalf("a script that waited for its key past its deadline: %v, want it refused", err)
	}
	if err := <-long; err != nil {
		t.Fatal(err)
	}
	if v, err := b.Get(ctx, "k").Result(); err != nil || v != "first" {
		t.Fatalf("k = %q, %v: the late script ran", v, err)
	}
}
