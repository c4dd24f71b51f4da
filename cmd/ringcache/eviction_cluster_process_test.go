package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/engine/evict"
)

// evictionBudget is each node's maxmemory in the cluster eviction tests:
// small, so that a few tens of thousands of keys fill it several times.
const evictionBudget = 2 << 20

// TestProcessClusterEvictionIsReplicaConsistent fills a cluster of real
// processes (3 and 5 nodes) past every node's budget with allkeys-lru,
// overwriting part of the keys, and checks what eviction as a replicated
// delete promises: each node ends within its budget; after one
// anti-entropy round every key is on all of its owners or on none, with
// one value; no GET answers a value older than the last acknowledged
// write of its key; and evicted keys do not come back through another
// round of repair.
func TestProcessClusterEvictionIsReplicaConsistent(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes")
	}
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d-nodes", n), func(t *testing.T) {
			c := startProcCluster(t, n, "--maxmemory", strconv.Itoa(evictionBudget), "--maxmemory-policy", "allkeys-lru",
				"--anti-entropy-interval", "0")
			acked := fillCluster(t, c, n, -1)
			c.checkEvicted(t, acked)
		})
	}
}

// TestProcessClusterEvictionWithADownReplica evicts while one node is
// down: the evictions meant for it wait as hints, with the writes it
// missed. Once it is back and its hints are delivered, one anti-entropy
// round leaves every key on all of its owners or on none: neither hint
// replay nor repair brings an evicted key back.
func TestProcessClusterEvictionWithADownReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes")
	}
	c := startProcCluster(t, 3, "--maxmemory", strconv.Itoa(evictionBudget), "--maxmemory-policy", "allkeys-lru",
		"--anti-entropy-interval", "0")
	acked := fillCluster(t, c, 3, 2)
	c.start(2)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("n3's log:\n%s", c.nodes[2].proc.logText())
		}
	})
	c.waitAlive(3)
	waitFor(t, 60*time.Second, "the hints for n3 to be delivered", func() error {
		total, holders, err := c.pendingFor("n3")
		if err != nil {
			return err
		}
		if total > 0 {
			return fmt.Errorf("%d hints pending on nodes %v", total, holders)
		}
		return nil
	})
	c.checkEvicted(t, acked)
}

// fillCluster writes keys through every node in turn, about 3x what the
// cluster's budgets hold, overwriting every fifth key once, and returns
// the last acknowledged value of each key. Node down (-1: none) is
// killed a third of the way through and stays down.
func fillCluster(t *testing.T, c *procCluster, n, down int) map[string]string {
	t.Helper()
	ctx := context.Background()
	// Each key costs about 190 bytes on each of its 3 replicas.
	keys := 3 * n * evictionBudget / (3 * 190)
	acked := make(map[string]string, keys)
	clients := make([]*redis.Client, n)
	for i := range clients {
		clients[i] = c.client(i)
	}
	const batch = 200
	for start, round := 0, 0; start < keys; start, round = start+batch, round+1 {
		if down >= 0 && start >= keys/3 && c.nodes[down].proc.Running() {
			c.nodes[down].proc.kill()
		}
		i := round % n
		if i == down {
			i = (i + 1) % n
		}
		writeBatch := func(lo, hi int, tag string) {
			pipe := clients[i].Pipeline()
			cmds := make([]*redis.StatusCmd, 0, hi-lo)
			for k := lo; k < hi; k++ {
				cmds = append(cmds, pipe.Set(ctx, evictKey(k), evictValue(k, tag), 0))
			}
			_, _ = pipe.Exec(ctx)
			for j, cmd := range cmds {
				if cmd.Err() == nil {
					acked[evictKey(lo+j)] = evictValue(lo+j, tag)
				} else if !errors.Is(cmd.Err(), context.DeadlineExceeded) {
					t.Logf("SET %s through %s: %v", evictKey(lo+j), c.nodes[i].id, cmd.Err())
				}
			}
		}
		hi := min(start+batch, keys)
		writeBatch(start, hi, "a")
		if round%5 == 0 {
			writeBatch(start, hi, "b") // overwritten: only b may be read
		}
	}
	if len(acked) < keys*9/10 {
		t.Fatalf("only %d of %d keys acknowledged", len(acked), keys)
	}
	// Every running node ends within its budget and its margin.
	waitFor(t, 30*time.Second, "every node within its budget", func() error {
		for i, p := range c.nodes {
			if !p.proc.Running() {
				continue
			}
			used, err := infoInt(clients[i], "memory", "used_memory")
			if err != nil {
				return err
			}
			if used > evictionBudget+evict.Margin(evictionBudget) {
				return fmt.Errorf("%s: used_memory %d > budget %d + margin", p.id, used, evictionBudget)
			}
		}
		return nil
	})
	var evicted int64
	for i, p := range c.nodes {
		if p.proc.Running() {
			n, err := infoInt(clients[i], "stats", "evicted_keys")
			if err != nil {
				t.Fatal(err)
			}
			evicted += n
		}
	}
	if evicted == 0 {
		t.Fatal("no node evicted a key")
	}
	t.Logf("%d keys acknowledged, %d evicted", len(acked), evicted)
	return acked
}

func evictKey(k int) string               { return fmt.Sprintf("ev:%06d", k) }
func evictValue(k int, tag string) string { return fmt.Sprintf("%s-%06d-%090d", tag, k, k) }

// checkEvicted runs a repair round on every node and checks every key:
// on all of its owners with the last acknowledged value, or on none; a
// GET through any node answers that value or nil. It then runs a second
// round and checks that no key absent from all owners came back.
func (c *procCluster) checkEvicted(t *testing.T, acked map[string]string) {
	t.Helper()
	ctx := context.Background()
	repairAll := func() {
		for i := range c.nodes {
			if err := c.client(i).Do(ctx, "RINGCACHE", "REPAIR").Err(); err != nil {
				t.Fatalf("RINGCACHE REPAIR on %s: %v", c.nodes[i].id, err)
			}
		}
	}
	// Eviction goes on after the last write until each node is back
	// within its budget, and repair adds copies that can start it again:
	// a key checked while its eviction is under way is on some owners
	// only for as long as the last replica's delete is in flight.
	c.settleEviction(t)
	repairAll()
	c.settleEviction(t)
	keys := make([]string, 0, len(acked))
	for k := range acked {
		keys = append(keys, k)
	}
	held := c.localCopies(t, keys)
	gone := map[string]bool{}
	var present, split, stale int
	for _, key := range keys {
		copies, want := held[key], acked[key]
		switch {
		case copies.live == 0:
			gone[key] = true
		case copies.live != copies.owners:
			split++
			if split <= 5 {
				t.Errorf("%s is on %d of its %d owners", key, copies.live, copies.owners)
			}
		default:
			present++
		}
		for _, v := range copies.values {
			if v != want {
				stale++
				if stale <= 5 {
					t.Errorf("%s: an owner holds %q, last acknowledged %q", key, v, want)
				}
			}
		}
	}
	// GETs through every node in turn answer the last value or nil.
	for start := 0; start < len(keys); start += 500 {
		via := (start / 500) % len(c.nodes)
		pipe := c.client(via).Pipeline()
		batch := keys[start:min(start+500, len(keys))]
		cmds := make([]*redis.StringCmd, len(batch))
		for j, key := range batch {
			cmds[j] = pipe.Get(ctx, key)
		}
		_, _ = pipe.Exec(ctx)
		for j, cmd := range cmds {
			got, err := cmd.Result()
			switch {
			case errors.Is(err, redis.Nil):
			case err != nil:
				t.Errorf("GET %s through %s: %v", batch[j], c.nodes[via].id, err)
			case got != acked[batch[j]]:
				t.Errorf("GET %s through %s = %q, last acknowledged %q", batch[j], c.nodes[via].id, got, acked[batch[j]])
			}
		}
	}
	t.Logf("after one repair round: %d keys on all owners, %d on none, %d split, %d stale", present, len(gone), split, stale)
	if len(gone) == 0 || present == 0 {
		t.Fatalf("%d keys present and %d evicted: the fill did not evict part of the keys", present, len(gone))
	}
	repairAll()
	var goneKeys []string
	for key := range gone {
		goneKeys = append(goneKeys, key)
	}
	back := 0
	for key, copies := range c.localCopies(t, goneKeys) {
		if copies.live > 0 {
			back++
			if back <= 5 {
				t.Errorf("evicted %s came back on %d owners", key, copies.live)
			}
		}
	}
	if back > 0 {
		t.Fatalf("%d evicted keys came back after repair", back)
	}
}

// settleEviction waits until no node has evicted a key for twice the
// request timeout (1s) and no node holds a hint: every eviction's write
// has then reached each of its key's owners or, failing, become a hint.
func (c *procCluster) settleEviction(t *testing.T) {
	t.Helper()
	running := c.running()
	clients := make([]*redis.Client, len(c.nodes))
	for _, i := range running {
		clients[i] = c.client(i)
	}
	last, since := int64(-1), time.Now()
	waitFor(t, 60*time.Second, "eviction to settle", func() error {
		var evicted, hints int64
		for _, i := range running {
			n, err := infoInt(clients[i], "stats", "evicted_keys")
			if err != nil {
				return err
			}
			evicted += n
			rows, err := c.hintRows(i)
			if err != nil {
				return err
			}
			for _, pending := range rows {
				hints += pending
			}
		}
		if evicted != last {
			last, since = evicted, time.Now()
		}
		switch {
		case hints > 0:
			return fmt.Errorf("%d hints pending", hints)
		case time.Since(since) < 2*time.Second:
			return fmt.Errorf("%d keys evicted, the last less than 2s ago", evicted)
		}
		return nil
	})
}

// copies is what a key's owners hold of it.
type copies struct {
	owners, live int
	values       []string
}

// localCopies asks every owner of each key for its own record (RINGCACHE
// OWNERS and LOCALGET, pipelined).
func (c *procCluster) localCopies(t *testing.T, keys []string) map[string]*copies {
	t.Helper()
	ctx := context.Background()
	index := map[string]int{}
	for i, p := range c.nodes {
		index[p.id] = i
	}
	out := make(map[string]*copies, len(keys))
	perNode := make([][]string, len(c.nodes))
	for start := 0; start < len(keys); start += 1000 {
		batch := keys[start:min(start+1000, len(keys))]
		pipe := c.client(0).Pipeline()
		cmds := make([]*redis.Cmd, len(batch))
		for j, key := range batch {
			cmds[j] = pipe.Do(ctx, "RINGCACHE", "OWNERS", key)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatalf("RINGCACHE OWNERS: %v", err)
		}
		for j, cmd := range cmds {
			ids, err := cmd.StringSlice()
			if err != nil {
				t.Fatalf("RINGCACHE OWNERS %s: %v", batch[j], err)
			}
			out[batch[j]] = &copies{owners: len(ids)}
			for _, id := range ids {
				perNode[index[id]] = append(perNode[index[id]], batch[j])
			}
		}
	}
	for i, nodeKeys := range perNode {
		for start := 0; start < len(nodeKeys); start += 1000 {
			batch := nodeKeys[start:min(start+1000, len(nodeKeys))]
			pipe := c.client(i).Pipeline()
			cmds := make([]*redis.Cmd, len(batch))
			for j, key := range batch {
				cmds[j] = pipe.Do(ctx, "RINGCACHE", "LOCALGET", key)
			}
			_, _ = pipe.Exec(ctx)
			for j, cmd := range cmds {
				res, err := cmd.Slice()
				if errors.Is(err, redis.Nil) {
					continue
				}
				if err != nil || len(res) != 4 {
					t.Fatalf("RINGCACHE LOCALGET %s on %s: %v %v", batch[j], c.nodes[i].id, res, err)
				}
				if res[3] == int64(1) || res[0] == nil {
					continue // a tombstone
				}
				out[batch[j]].live++
				out[batch[j]].values = append(out[batch[j]].values, res[0].(string))
			}
		}
	}
	return out
}
