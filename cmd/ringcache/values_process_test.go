package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// theLimit is the largest key plus value of a cluster with the default
// 64 MiB frames.
const theLimit = 67_043_328

// repairSummary runs RINGCACHE REPAIR on node i and returns its figures.
// A round paced by --anti-entropy-rate takes seconds per large record.
func (c *procCluster) repairSummary(i int) (map[string]int64, error) {
	cl := redis.NewClient(&redis.Options{Addr: c.nodes[i].client, MaxRetries: -1, ReadTimeout: 2 * time.Minute})
	defer cl.Close()
	res, err := cl.Do(context.Background(), "RINGCACHE", "REPAIR").Slice()
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for j := 0; j+1 < len(res); j += 2 {
		if v, ok := res[j+1].(int64); ok {
			out[fmt.Sprint(res[j])] = v
		}
	}
	return out, nil
}

// sigterm sends SIGTERM to node i and returns how long it took to exit
// and its exit error, failing the test past limit.
func (c *procCluster) sigterm(i int, limit time.Duration) (time.Duration, error) {
	c.t.Helper()
	p := c.nodes[i].proc
	start := time.Now()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		c.t.Fatal(err)
	}
	select {
	case <-p.Exited():
		return time.Since(start), p.Wait()
	case <-time.After(limit):
		c.dumpLogs()
		p.kill()
		c.t.Fatalf("%s did not exit within %v of SIGTERM", c.nodes[i].id, limit)
		return 0, nil
	}
}

// The scenario of the issue: a value over the 64 MiB frame SET through a
// cluster node. It is refused at once with an -ERR naming the limit; the
// node stays healthy (requests through it are fast, no hint and no repair
// gets stuck); then, with large values written through it from several
// clients, SIGTERM makes it exit promptly and cleanly.
func TestProcessValueOverFrameLimitAndPromptShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes and moves hundreds of megabytes")
	}
	// Values near the limit take seconds to replicate on this machine: the
	// request timeout allows for them.
	c := startProcCluster(t, 3, "--replicas", "3", "--read-quorum", "2", "--write-quorum", "2", "--timeout", "10s")
	ctx := context.Background()
	cl := c.client(0)

	huge := strings.Repeat("x", 70_000_000)
	start := time.Now()
	err := cl.Set(ctx, "huge", huge, 0).Err()
	took := time.Since(start)
	want := fmt.Sprintf("ERR value too large for the cluster: key and value of %d bytes, the limit is %d bytes (cluster frame size)", 70_000_004, theLimit)
	if err == nil || err.Error() != want {
		t.Fatalf("SET of 70,000,000 bytes: %v, want %s", err, want)
	}
	t.Logf("SET of 70,000,000 bytes refused after %v", took)
	if took > 10*time.Second {
		t.Fatalf("the refusal took %v", took)
	}

	// Healthy: small requests through the node are answered at once.
	start = time.Now()
	for i := range 100 {
		k := fmt.Sprint("k", i)
		if err := cl.Set(ctx, k, k, 0).Err(); err != nil {
			t.Fatalf("SET after the refusal: %v", err)
		}
		if v, err := cl.Get(ctx, k).Result(); err != nil || v != k {
			t.Fatalf("GET after the refusal: %q, %v", v, err)
		}
	}
	t.Logf("100 SET+GET after the refusal in %v", time.Since(start))
	// A value just under the limit is stored on every replica.
	at := strings.Repeat("a", theLimit-len("atlimit"))
	slow := redis.NewClient(&redis.Options{Addr: c.nodes[0].client, MaxRetries: -1, ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	defer slow.Close()
	start = time.Now()
	if err := slow.Set(ctx, "atlimit", at, 0).Err(); err != nil {
		t.Fatalf("SET at the limit: %v", err)
	}
	t.Logf("SET of %d bytes (the limit) in %v", theLimit, time.Since(start))
	for i := range c.nodes {
		lc := redis.NewClient(&redis.Options{Addr: c.nodes[i].client, MaxRetries: -1, ReadTimeout: time.Minute})
		defer lc.Close()
		waitFor(t, 30*time.Second, c.nodes[i].id+" to hold atlimit", func() error {
			if v, ok := localValue(t, lc, "atlimit"); !ok || len(v) != len(at) {
				return fmt.Errorf("%d bytes", len(v))
			}
			return nil
		})
	}
	// Nothing stuck: no hints, and repair reaches every peer.
	for i := range c.nodes {
		rows, err := c.hintRows(i)
		if err != nil {
			t.Fatal(err)
		}
		for target, n := range rows {
			if n != 0 {
				t.Fatalf("%s holds %d hints for %s", c.nodes[i].id, n, target)
			}
		}
		sum, err := c.repairSummary(i)
		if err != nil || sum["peers_failed"] != 0 {
			t.Fatalf("RINGCACHE REPAIR on %s: %v, %v", c.nodes[i].id, sum, err)
		}
		t.Logf("RINGCACHE REPAIR on %s: %v", c.nodes[i].id, sum)
	}

	// Heavy traffic of large values (and more refusals) through node 0,
	// then SIGTERM in the middle of it.
	var wg sync.WaitGroup
	var sets, refused, failed atomic.Int64
	var firstErr sync.Map // error text -> count, for the log
	stop := make(chan struct{})
	big := strings.Repeat("b", 8<<20)
	for w := range 6 {
		wg.Go(func() {
			wc := redis.NewClient(&redis.Options{Addr: c.nodes[0].client, MaxRetries: -1, PoolSize: 1,
				ReadTimeout: time.Minute, WriteTimeout: time.Minute})
			defer wc.Close()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				v := big
				if w == 0 && i%4 == 3 {
					v = huge
				}
				err := wc.Set(ctx, fmt.Sprintf("w%d:%d", w, i%8), v, 0).Err()
				switch {
				case err == nil:
					sets.Add(1)
				case strings.Contains(err.Error(), "value too large"):
					refused.Add(1)
				default:
					// NOQUORUM under load, or the node going away.
					failed.Add(1)
					firstErr.LoadOrStore(err.Error(), true)
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	deadline := time.Now().Add(60 * time.Second)
	for sets.Load() < 20 || refused.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("traffic did not get going: %d sets, %d refused", sets.Load(), refused.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	took, err = c.sigterm(0, 30*time.Second)
	close(stop)
	wg.Wait()
	t.Logf("SIGTERM during traffic (%d sets of 8 MiB, %d refusals, %d other errors so far): exit after %v, %v",
		sets.Load(), refused.Load(), failed.Load(), took, err)
	firstErr.Range(func(k, _ any) bool { t.Logf("an error of the traffic: %v", k); return true })
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, c.nodes[0].proc.logText())
	}
	if took > 15*time.Second {
		t.Fatalf("SIGTERM took %v, more than the 10s shutdown bound", took)
	}
	if log := c.nodes[0].proc.logText(); strings.Contains(log, "did not finish within shutdown-timeout") {
		t.Fatalf("the shutdown needed the watchdog:\n%s", log)
	}
	// The others saw their peer go and still stop promptly.
	for i := 1; i < len(c.nodes); i++ {
		took, err := c.sigterm(i, 30*time.Second)
		t.Logf("SIGTERM %s: exit after %v, %v", c.nodes[i].id, took, err)
		if err != nil || took > 15*time.Second {
			t.Fatalf("%s: exit after %v: %v", c.nodes[i].id, took, err)
		}
	}
}

// Past --shutdown-timeout the watchdog ends the process whatever is still
// running, with exit status 1 and a log line saying why; the writes it
// acknowledged are all there after a restart on the same data directory.
//
// The watchdog's clock starts when its goroutine sees the signal. On a
// loaded machine that goroutine can wait longer than the whole shutdown
// (9 ms once in CI), and the node then exits 0 having stopped cleanly:
// such a run is tried again, up to five times in all.
func TestProcessShutdownWatchdog(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process twice")
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	// 1ns: the watchdog fires at once, long before a cluster node (one
	// replica, so that it serves alone) has stopped its gossip, replica
	// server and engine.
	cluster := []string{"--cluster-listen", freeAddr(t), "--gossip-listen", freeAddr(t),
		"--replicas", "1", "--read-quorum", "1", "--write-quorum", "1"}
	ctx := context.Background()
	var n *node
	try := 1
	for ; ; try++ {
		n = startNode(t, addr, append([]string{"--data-dir", dir, "--shutdown-timeout", "1ns", "--log-level", "info"}, cluster...)...)
		cl := redis.NewClient(&redis.Options{Addr: addr})
		for i := range 500 {
			if err := cl.Set(ctx, fmt.Sprint("k", i), i+try, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		_ = cl.Close()
		start := time.Now()
		err := n.stop()
		took := time.Since(start)
		t.Logf("try %d: exit after %v: %v", try, took, err)
		if n.ExitCode() == 1 {
			break
		}
		if n.ExitCode() != 0 || try == 5 || strings.Contains(n.logText(), "did not finish within shutdown-timeout") {
			t.Fatalf("exit %v, want status 1 from the watchdog\n%s", err, n.logText())
		}
	}
	if !strings.Contains(n.logText(), "did not finish within shutdown-timeout") {
		t.Fatalf("no watchdog line in the log:\n%s", n.logText())
	}
	startNode(t, addr, append([]string{"--data-dir", dir}, cluster...)...)
	cl2 := redis.NewClient(&redis.Options{Addr: addr})
	defer cl2.Close()
	for i := range 500 {
		if v, err := cl2.Get(ctx, fmt.Sprint("k", i)).Int(); err != nil || v != i+try {
			t.Fatalf("k%d after the forced exit: %v, %v; want %d", i, v, err, i+try)
		}
	}
}
