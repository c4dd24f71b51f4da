package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/bench/await"
)

// liveRecords returns INFO engine_live_records of the node behind cl.
func liveRecords(cl *redis.Client) (int64, error) {
	return infoInt(cl, "engine", "engine_live_records")
}

// infoInt returns an integer field of INFO section.
func infoInt(cl *redis.Client, section, field string) (int64, error) {
	info, err := cl.Info(context.Background(), section).Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in INFO %s", field, section)
}

// quorumReader GETs random keys through the given nodes until stopped,
// counting the reads that fail or answer a wrong value.
type quorumReader struct {
	stop   chan struct{}
	wg     sync.WaitGroup
	reads  atomic.Int64
	failed atomic.Int64
	mu     sync.Mutex
	first  string
}

func startQuorumReader(addrs []string, keys int, key func(int) string) *quorumReader {
	r := &quorumReader{stop: make(chan struct{})}
	for w, addr := range addrs {
		r.wg.Go(func() {
			cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ReadTimeout: 5 * time.Second})
			defer cl.Close()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for {
				select {
				case <-r.stop:
					return
				default:
				}
				k := key(rng.IntN(keys))
				v, err := cl.Get(context.Background(), k).Result()
				r.reads.Add(1)
				if err != nil || v != "v:"+k {
					r.failed.Add(1)
					r.mu.Lock()
					if r.first == "" {
						r.first = fmt.Sprintf("GET %s through %s = %q, %v", k, addr, v, err)
					}
					r.mu.Unlock()
				}
			}
		})
	}
	return r
}

// finish stops the readers and returns the reads, the failures and the
// first failure.
func (r *quorumReader) finish() (reads, failed int64, first string) {
	close(r.stop)
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reads.Load(), r.failed.Load(), r.first
}

// TestProcessWipedNodeIsRefusedThenReplaced wipes the data directory of
// one of three replicas of 50,000 keys and restarts it under the same id:
// it must not rejoin as if it had its data, so it exits non-zero saying
// why. Started again empty under a new id with --replace, it takes over
// the dead member's ranges, streamed from the survivors, while quorum
// reads through the other nodes keep succeeding.
func TestProcessWipedNodeIsRefusedThenReplaced(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes and writes 50,000 keys")
	}
	const keys = 50_000
	key := func(i int) string { return fmt.Sprintf("ae:%06d", i) }
	c := startProcCluster(t, 3, "--replicas", "3", "--read-quorum", "2", "--write-quorum", "2",
		"--anti-entropy-interval", "0", "--timeout", "2s")
	ctx := context.Background()
	w := c.client(0)
	for start := 0; start < keys; start += 1000 {
		pipe := w.Pipeline()
		for i := start; i < start+1000; i++ {
			pipe.Set(ctx, key(i), "v:"+key(i), 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatalf("writing keys %d..%d: %v", start, start+999, err)
		}
	}
	clients := []*redis.Client{c.client(0), c.client(1), c.client(2)}
	waitFor(t, 60*time.Second, "every node to hold every key", func() error {
		for i, cl := range clients {
			if n, err := liveRecords(cl); err != nil || n != keys {
				return fmt.Errorf("%s holds %d live records (%v)", c.nodes[i].id, n, err)
			}
		}
		return nil
	})

	reader := startQuorumReader([]string{c.nodes[0].client, c.nodes[1].client}, keys, key)
	victim := c.nodes[2]
	wipe := func() {
		if err := os.RemoveAll(victim.dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(victim.dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	victim.proc.kill()
	wipe()
	refused, err := launchNode(t, victim.client, c.args(2)...)
	if err == nil {
		waitFor(t, 30*time.Second, "the wiped node to exit", func() error {
			if refused.Running() {
				return errors.New("still running")
			}
			return nil
		})
		if err = refused.Wait(); err == nil {
			t.Fatal("the wiped node exited 0 under its old id")
		}
		if log := refused.logText(); !strings.Contains(log, "refused to join") || !strings.Contains(log, "--replace") {
			t.Fatalf("the refused node's log does not say why:\n%s", log)
		}
	} else if !errors.Is(err, errStartup) {
		t.Fatal(err)
	}
	wipe()

	replaced := time.Now()
	victim.id = "n3b"
	maddr := freeAddr(t)
	victim.proc = startNode(t, victim.client, append(c.args(2), "--replace", "n3", "--metrics-listen", maddr)...)
	c.waitAlive(3)
	vc := c.client(2)
	waitFor(t, 120*time.Second, "the replacement to hold every key", func() error {
		n, err := liveRecords(vc)
		if err != nil || n != keys {
			return fmt.Errorf("%s holds %d of %d live records (%v)", victim.id, n, keys, err)
		}
		return nil
	})
	took := time.Since(replaced)
	reads, failed, first := reader.finish()
	if failed != 0 {
		t.Fatalf("%d of %d quorum reads through the other nodes failed while the node was replaced; first: %s", failed, reads, first)
	}
	if reads == 0 {
		t.Fatal("the reader made no read")
	}
	streamed, err := infoInt(vc, "topology", "topology_keys_received_total")
	if err != nil || streamed < keys/2 {
		t.Fatalf("the replacement streamed %d keys (%v)", streamed, err)
	}
	rng := rand.New(rand.NewPCG(42, 42))
	for range 1000 {
		k := key(rng.IntN(keys))
		if v, ok := localValue(t, vc, k); !ok || v != "v:"+k {
			t.Fatalf("replacement LOCALGET %s = %q, %v", k, v, ok)
		}
	}
	body := httpGet(t, "http://"+maddr+"/metrics")
	for _, want := range []string{"ringcache_layout_epoch ", "ringcache_streamed_keys_total ", "ringcache_cleanup_keys_total "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "ringcache_streamed_keys_total 0\n") {
		t.Error("/metrics counts no streamed key on the replacement")
	}
	t.Logf("replacement took %v; %d keys streamed; %d quorum reads meanwhile, none failed",
		took.Round(time.Millisecond), streamed, reads)
}

// waitFor retries cond until it returns nil, failing the test with its
// last error after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	await.T(t, timeout, what, cond)
}
