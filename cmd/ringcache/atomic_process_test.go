package main

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Read-modify-write commands through different nodes of a cluster of
// real processes: each runs at its key's primary, so races between
// clients of different nodes end as they would on one Redis.

// TestProcessRacesThroughDifferentNodes: SET NX PX lock races (one
// winner in each of 1,000), INCR 1,000 times through each of three nodes
// (exactly 3,000), GETDEL races (each value handed to one client).
func TestProcessRacesThroughDifferentNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	c := startProcCluster(t, 3)
	ctx := context.Background()
	cls := []*redis.Client{c.client(0), c.client(1), c.client(2)}

	t.Run("SET NX PX", func(t *testing.T) {
		for r := range 1000 {
			key := "lock:" + strconv.Itoa(r)
			won := raceNodes(t, cls, func(cl *redis.Client, i int) (bool, error) {
				return cl.SetNX(ctx, key, i, 10*time.Second).Result()
			})
			if won != 1 {
				t.Fatalf("race %d: %d clients acquired %s", r, won, key)
			}
		}
	})
	t.Run("INCR", func(t *testing.T) {
		const each, conns = 1000, 4
		var wg sync.WaitGroup
		var failed atomic.Value
		for _, cl := range cls {
			for range conns {
				wg.Go(func() {
					for range each / conns {
						if err := cl.Incr(ctx, "counter").Err(); err != nil {
							failed.Store(err)
							return
						}
					}
				})
			}
		}
		wg.Wait()
		if err, _ := failed.Load().(error); err != nil {
			t.Fatal(err)
		}
		for i, cl := range cls {
			if got, err := cl.Get(ctx, "counter").Int(); err != nil || got != 3*each {
				t.Fatalf("counter through node %d = %d, %v; want %d", i, got, err, 3*each)
			}
		}
	})
	t.Run("INCR pipelines", func(t *testing.T) {
		// Pipelines of 20 INCRs of 5 keys (with their own primaries),
		// two connections on each node at once: each key ends at the
		// number of its increments.
		const pipelines = 50
		var wg sync.WaitGroup
		var failed atomic.Value
		for _, cl := range cls {
			for range 2 {
				wg.Go(func() {
					for range pipelines {
						p := cl.Pipeline()
						for j := range 20 {
							p.Incr(ctx, "pc:"+strconv.Itoa(j%5))
						}
						if _, err := p.Exec(ctx); err != nil {
							failed.Store(err)
							return
						}
					}
				})
			}
		}
		wg.Wait()
		if err, _ := failed.Load().(error); err != nil {
			t.Fatal(err)
		}
		for j := range 5 {
			if got, err := cls[j%3].Get(ctx, "pc:"+strconv.Itoa(j)).Int(); err != nil || got != 3*2*pipelines*4 {
				t.Fatalf("pc:%d = %d, %v; want %d", j, got, err, 3*2*pipelines*4)
			}
		}
	})
	t.Run("GETDEL", func(t *testing.T) {
		for r := range 300 {
			key := "job:" + strconv.Itoa(r)
			if err := cls[r%3].Set(ctx, key, "payload", 0).Err(); err != nil {
				t.Fatal(err)
			}
			got := raceNodes(t, cls, func(cl *redis.Client, _ int) (bool, error) {
				_, err := cl.GetDel(ctx, key).Result()
				if errors.Is(err, redis.Nil) {
					return false, nil
				}
				return err == nil, err
			})
			if got != 1 {
				t.Fatalf("race %d: %d clients got %s's value", r, got, key)
			}
		}
	})
}

// raceNodes runs f with each client at once and counts the true results.
func raceNodes(t *testing.T, cls []*redis.Client, f func(cl *redis.Client, i int) (bool, error)) int {
	t.Helper()
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		count atomic.Int64
		first atomic.Value
	)
	for i, cl := range cls {
		wg.Go(func() {
			<-start
			ok, err := f(cl, i)
			if err != nil {
				first.CompareAndSwap(nil, err)
			}
			if ok {
				count.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		t.Fatal(err)
	}
	return int(count.Load())
}

// TestProcessPausedPrimary: clients of every node INCR one key and race
// for SET NX locks while the key's primary is stopped (SIGSTOP) for 4 s
// and then resumed. No acknowledged increment may be lost: the counter
// ends at least at the increments acknowledged, and at most that plus
// those whose outcome the client could not know (an error). Lock races
// that two clients won are reported with when they happened.
func TestProcessPausedPrimary(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	c := startProcCluster(t, 3)
	ctx := context.Background()
	prim := c.byID(owners(t, c.client(0), "counter")[0])
	cls := make([]*redis.Client, 3)
	for i := range cls {
		cls[i] = redis.NewClient(&redis.Options{Addr: c.nodes[i].client, MaxRetries: -1,
			ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second, PoolSize: 8})
		t.Cleanup(func() { cls[i].Close() })
	}
	if err := cls[0].Set(ctx, "counter", "0", 0).Err(); err != nil {
		t.Fatal(err)
	}

	var acked, unknown atomic.Int64
	type ack struct {
		at   time.Time
		v    int64
		node int
	}
	var seenMu sync.Mutex
	var seen []ack // every acknowledged increment's result
	var kindsMu sync.Mutex
	kinds := map[string]int{}       // unknown outcomes by the error's first word
	examples := map[string]string{} // the first error of each kind
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, cl := range cls {
		for range 2 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					v, err := cl.Incr(ctx, "counter").Result()
					if err == nil {
						seenMu.Lock()
						seen = append(seen, ack{time.Now(), v, i})
						seenMu.Unlock()
					}
					if err != nil {
						unknown.Add(1)
						kind, _, _ := strings.Cut(err.Error(), " ")
						kindsMu.Lock()
						if kinds[kind]++; kinds[kind] == 1 {
							examples[kind] = err.Error()
						}
						kindsMu.Unlock()
						time.Sleep(10 * time.Millisecond)
						continue
					}
					acked.Add(1)
				}
			})
		}
	}
	type double struct {
		at      time.Time
		winners []int
		key     string
	}
	var (
		mu      sync.Mutex
		doubles []double
		races   int
	)
	wg.Go(func() {
		for r := 0; ; r++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			key := "lock:{counter}:" + strconv.Itoa(r)
			var won [3]atomic.Bool
			var rw sync.WaitGroup
			for i, cl := range cls {
				rw.Go(func() {
					if ok, err := cl.SetNX(ctx, key, i, 30*time.Second).Result(); err == nil && ok {
						won[i].Store(true)
					}
				})
			}
			rw.Wait()
			var winners []int
			for i := range won {
				if won[i].Load() {
					winners = append(winners, i)
				}
			}
			mu.Lock()
			races++
			if len(winners) > 1 {
				doubles = append(doubles, double{time.Now(), winners, key})
			}
			mu.Unlock()
		}
	})

	time.Sleep(2 * time.Second)
	p := c.nodes[prim].proc
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stoppedAt := time.Now()
	waitStopped(t, p.Pid())
	time.Sleep(4 * time.Second)
	if err := p.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumedAt := time.Now()
	time.Sleep(6 * time.Second)
	close(stop)
	wg.Wait()

	got, err := cls[(prim+1)%3].Get(ctx, "counter").Int64()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("node ids: %s %s %s", c.nodes[0].id, c.nodes[1].id, c.nodes[2].id)
	t.Logf("primary %s stopped 4s: %d increments acknowledged, %d unknown (errors: %v), counter %d",
		c.nodes[prim].id, acked.Load(), unknown.Load(), kinds, got)
	for kind, msg := range examples {
		t.Logf("  %s, e.g. %q", kind, msg)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d lock races, %d won by more than one client", races, len(doubles))
	for _, d := range doubles {
		t.Logf("double acquisition of %s (owners %v) by the clients of nodes %v at %s after the stop (%s after the resume)",
			d.key, owners(t, cls[(prim+1)%3], d.key), d.winners, d.at.Sub(stoppedAt).Round(time.Millisecond), d.at.Sub(resumedAt).Round(time.Millisecond))
	}
	if got < acked.Load() {
		// Which results were handed out twice (two primaries built on
		// one value), and when.
		count := map[int64][]ack{}
		for _, a := range seen {
			count[a.v] = append(count[a.v], a)
		}
		dups := 0
		for v, as := range count {
			if len(as) > 1 {
				if dups < 6 {
					for _, a := range as {
						t.Logf("INCR result %d acknowledged through node %d at %s (stop +%s)", v, a.node,
							a.at.Format("15:04:05.000"), a.at.Sub(stoppedAt).Round(time.Millisecond))
					}
				}
				dups++
			}
		}
		t.Logf("%d results acknowledged more than once; stop at %s, resume at %s", dups, stoppedAt.Format("15:04:05.000"), resumedAt.Format("15:04:05.000"))

		t.Fatalf("counter %d < %d acknowledged increments: %d acknowledged increments lost", got, acked.Load(), acked.Load()-got)
	}
	if got > acked.Load()+unknown.Load() {
		t.Fatalf("counter %d > %d acknowledged + %d unknown increments", got, acked.Load(), unknown.Load())
	}
}

// TestProcessScriptsAcrossNodes: the script cache behaves as one Redis's
// (SCRIPT LOAD on one node, EVALSHA on any; a script EVAL cached on one
// node found by the others; SCRIPT FLUSH everywhere), a script that reads
// then writes is atomic through every node, and keys with different
// primaries get CROSSSLOT.
func TestProcessScriptsAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	c := startProcCluster(t, 3)
	ctx := context.Background()
	cls := []*redis.Client{c.client(0), c.client(1), c.client(2)}

	incr := "local v = tonumber(redis.call('GET', KEYS[1]) or '0'); redis.call('SET', KEYS[1], v + 1); return v + 1"
	sha, err := cls[0].ScriptLoad(ctx, incr).Result()
	if err != nil {
		t.Fatal(err)
	}
	for i, cl := range cls {
		if err := cl.EvalSha(ctx, sha, []string{"loaded"}).Err(); err != nil {
			t.Fatalf("EVALSHA through node %d after SCRIPT LOAD through node 0: %v", i, err)
		}
	}
	// A key-less script runs where it is sent: node 2 fetches it.
	hello := "return 'hello from ' .. ARGV[1]"
	if err := cls[0].Eval(ctx, hello, nil, "eval").Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := cls[2].EvalSha(ctx, script1(hello), nil, "evalsha").Result(); err != nil || got != "hello from evalsha" {
		t.Fatalf("EVALSHA through node 2 of a script EVAL cached on node 0: %v, %v", got, err)
	}

	const each = 300
	var wg sync.WaitGroup
	var failed atomic.Value
	for _, cl := range cls {
		for range 2 {
			wg.Go(func() {
				for range each / 2 {
					if err := cl.EvalSha(ctx, sha, []string{"{s}count"}).Err(); err != nil {
						failed.Store(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	if got, err := cls[1].Get(ctx, "{s}count").Int(); err != nil || got != 3*each {
		t.Fatalf("{s}count = %d, %v after %d script increments", got, err, 3*each)
	}

	// Redlock's release: delete the lock only if it holds our token.
	release := "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"
	if err := cls[0].Set(ctx, "res", "token-1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := cls[1].Eval(ctx, release, []string{"res"}, "token-2").Int(); err != nil || n != 0 {
		t.Fatalf("release with another's token = %d, %v", n, err)
	}
	if n, err := cls[2].Eval(ctx, release, []string{"res"}, "token-1").Int(); err != nil || n != 1 {
		t.Fatalf("release with the owner's token = %d, %v", n, err)
	}

	a, b := keysOnTwoPrimaries(t, cls[0])
	err = cls[0].Eval(ctx, "return 1", []string{a, b}).Err()
	if err == nil || err.Error() != "CROSSSLOT Keys in request don't hash to the same slot" {
		t.Fatalf("EVAL with keys %s and %s of different primaries = %v, want CROSSSLOT", a, b, err)
	}

	if err := cls[1].ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	for i, cl := range cls {
		if err := cl.EvalSha(ctx, sha, []string{"loaded"}).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOSCRIPT") {
			t.Fatalf("EVALSHA through node %d after SCRIPT FLUSH = %v, want NOSCRIPT", i, err)
		}
	}
}

// script1 is a script's SHA1 name.
func script1(body string) string {
	sum := sha1.Sum([]byte(body))
	return hex.EncodeToString(sum[:])
}

// keysOnTwoPrimaries returns two keys whose first owners differ.
func keysOnTwoPrimaries(t *testing.T, cl *redis.Client) (string, string) {
	t.Helper()
	first := owners(t, cl, "k0")[0]
	for i := 1; i < 100; i++ {
		k := "k" + strconv.Itoa(i)
		if owners(t, cl, k)[0] != first {
			return "k0", k
		}
	}
	t.Fatal("100 keys on one primary")
	return "", ""
}

// TestProcessLongScript: a script may run longer than --timeout (1 s), as
// in Redis: a script that writes, runs 1.5 s and writes again answers its
// result with both writes made, on one node and in a 3-node cluster
// through every node (through its keys' primary, and forwarded to it).
func TestProcessLongScript(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	const body = `redis.call('SET', KEYS[1], ARGV[1])
local t0 = redis.call('TIME')
local start = t0[1] * 1000000 + t0[2]
while true do
  local t = redis.call('TIME')
  if t[1] * 1000000 + t[2] - start > 1500000 then break end
end
redis.call('SET', KEYS[2], ARGV[1])
return 'done'`
	ctx := context.Background()
	run := func(t *testing.T, cl *redis.Client, name string) {
		t.Helper()
		keys := []string{"{long}a", "{long}b"} // one primary: two of three nodes forward
		got, err := cl.Eval(ctx, body, keys, name).Result()
		if err != nil || got != "done" {
			t.Fatalf("%s: a 1.5 s script answered %v, %v; want done", name, got, err)
		}
		for _, k := range keys {
			if v, err := cl.Get(ctx, k).Result(); err != nil || v != name {
				t.Fatalf("%s: after the script, %s = %q, %v", name, k, v, err)
			}
		}
	}
	one := freeAddr(t)
	startNode(t, one, "--data-dir", t.TempDir())
	single := redis.NewClient(&redis.Options{Addr: one, MaxRetries: -1})
	t.Cleanup(func() { single.Close() })
	run(t, single, "single")

	c := startProcCluster(t, 3)
	for i := range 3 {
		run(t, c.client(i), "node"+strconv.Itoa(i))
	}
}

// TestProcessRestartedPrimaryWaitsItsTurn: a key's primary SIGKILLed and
// restarted 5 s later while 8 clients pipeline INCRs of the key through
// all 4 nodes. The node that stood in serves the key until the others
// see the restarted node alive; the restarted node must not act as the
// primary before then, or the two hand out the same values and one's
// increments undo the other's. No value is acknowledged twice, and the
// counter ends at no less than the acknowledged increments.
func TestProcessRestartedPrimaryWaitsItsTurn(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	c := startProcCluster(t, 4)
	ctx := context.Background()
	const key = "{c}k"
	prim := c.byID(owners(t, c.client(0), key)[0])
	other := (prim + 1) % len(c.nodes)
	cls := make([]*redis.Client, len(c.nodes))
	for i := range cls {
		cls[i] = redis.NewClient(&redis.Options{Addr: c.nodes[i].client, MaxRetries: -1,
			ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second, PoolSize: 8})
		t.Cleanup(func() { cls[i].Close() })
	}

	var (
		mu      sync.Mutex
		results = map[int64][]time.Time{} // acknowledged results, when
		acked   int64
		unknown int64
		kinds   = map[string]int{}
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, cl := range cls {
		for range 8 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					cmds, _ := cl.Pipelined(ctx, func(p redis.Pipeliner) error {
						for range 5 {
							p.Incr(ctx, key)
						}
						return nil
					})
					failed := false
					mu.Lock()
					for _, cmd := range cmds {
						v, err := cmd.(*redis.IntCmd).Result()
						if err != nil {
							unknown++
							kind, _, _ := strings.Cut(err.Error(), " ")
							kinds[kind]++
							failed = true
							continue
						}
						acked++
						results[v] = append(results[v], time.Now())
					}
					mu.Unlock()
					if failed {
						time.Sleep(10 * time.Millisecond)
					}
				}
			})
		}
	}

	time.Sleep(2 * time.Second)
	c.nodes[prim].proc.kill()
	time.Sleep(5 * time.Second)
	c.start(prim)
	restartedAt := time.Now()
	time.Sleep(5 * time.Second)
	close(stop)
	wg.Wait()

	got, err := cls[other].Get(ctx, key).Int64()
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("primary %s killed and restarted: %d increments acknowledged, %d unknown (%v), counter %d",
		c.nodes[prim].id, acked, unknown, kinds, got)
	dups := 0
	for v, at := range results {
		if len(at) > 1 {
			if dups < 5 {
				t.Errorf("INCR result %d acknowledged %d times, the first %s after the restart",
					v, len(at), at[0].Sub(restartedAt).Round(time.Millisecond))
			}
			dups++
		}
	}
	if dups > 0 {
		t.Errorf("%d results acknowledged more than once", dups)
	}
	if got < acked {
		t.Errorf("counter %d < %d acknowledged increments", got, acked)
	}
	if got > acked+unknown {
		t.Errorf("counter %d > %d acknowledged + %d unknown increments", got, acked, unknown)
	}
}
