package clustertest_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/cluster"
	"github.com/ringcache/ringcache/cluster/clustertest"
	"github.com/ringcache/ringcache/engine"
)

// localRec is RINGCACHE LOCALGET's reply: present is false for a nil
// reply (the node holds no record).
type localRec struct {
	present   bool
	value     string
	expireAt  int64
	tombstone bool
}

// localGets runs RINGCACHE LOCALGET for every key on node i in one
// pipeline.
func localGets(t *testing.T, c *clustertest.Cluster, i int, keys []string) []localRec {
	t.Helper()
	ctx := context.Background()
	pipe := c.Client(i).Pipeline()
	cmds := make([]*redis.Cmd, len(keys))
	for k, key := range keys {
		cmds[k] = pipe.Do(ctx, "RINGCACHE", "LOCALGET", key)
	}
	_, _ = pipe.Exec(ctx)
	out := make([]localRec, len(keys))
	for k, cmd := range cmds {
		res, err := cmd.Slice()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil || len(res) != 4 {
			t.Fatalf("node %d LOCALGET %s = %v, %v", i, keys[k], res, err)
		}
		r := localRec{present: true, expireAt: res[2].(int64), tombstone: res[3] == int64(1)}
		if v, ok := res[0].(string); ok {
			r.value = v
		}
		out[k] = r
	}
	return out
}

// existsThrough returns EXISTS over keys through node i, 500 keys a
// command.
func existsThrough(t *testing.T, c *clustertest.Cluster, i int, keys []string) int64 {
	t.Helper()
	var n int64
	for start := 0; start < len(keys); start += 500 {
		got, err := c.Client(i).Exists(context.Background(), keys[start:min(start+500, len(keys))]...).Result()
		if err != nil {
			t.Fatalf("EXISTS through node %d: %v", i, err)
		}
		n += got
	}
	return n
}

// pipelined runs one command per key through node i in pipelines of 250.
func pipelined(t *testing.T, c *clustertest.Cluster, i int, keys []string, cmd func(redis.Pipeliner, string)) {
	t.Helper()
	ctx := context.Background()
	// A pipeline's first reply may wait for much of the pipeline to run:
	// 250 commands keep that well within the client's read timeout on a
	// loaded machine with the race detector, DELs included (each reads
	// every reachable replica first).
	const chunk = 250
	for start := 0; start < len(keys); start += chunk {
		pipe := c.Client(i).Pipeline()
		for _, k := range keys[start:min(start+chunk, len(keys))] {
			cmd(pipe, k)
		}
		cmds, err := pipe.Exec(ctx)
		if err != nil {
			for _, cm := range cmds {
				if cm.Err() != nil {
					t.Fatalf("through node %d: %v: %v", i, cm.Args(), cm.Err())
				}
			}
			t.Fatalf("pipeline through node %d: %v", i, err)
		}
	}
}

// infoInt returns an integer field of INFO <section> on node i.
func infoInt(t *testing.T, c *clustertest.Cluster, i int, section, field string) int64 {
	t.Helper()
	info, err := c.Client(i).Info(context.Background(), section).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("INFO %s: %s", field, line)
			}
			return n
		}
	}
	t.Fatalf("no %s in INFO %s: %q", field, section, info)
	return 0
}

func keyRange(prefix string, from, to int) []string {
	out := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s:%05d", prefix, i))
	}
	return out
}

// TestRepairPropagatesDeletes deletes half the keys while a replica is
// down and hinted handoff is off; one repair on the returning replica
// brings it every tombstone, so no deleted key is visible anywhere.
func TestRepairPropagatesDeletes(t *testing.T) {
	t.Parallel()
	// 10,000 writes and 5,000 deletes with hinted handoff off: a replica
	// call that waits past the default 500ms behind the others on a
	// loaded machine fails the write, which is not what this tests.
	c := clustertest.New(t, 3, clustertest.Options{Configure: strict, Timeout: 2 * time.Second})
	ctx := context.Background()
	keys := keyRange("del", 0, 10_000)
	deleted, kept := keys[:5000], keys[5000:]
	pipelined(t, c, 0, keys, func(p redis.Pipeliner, k string) { p.Set(ctx, k, "v:"+k, 0) })
	waitCounts(t, c, map[int]int64{0: 10_000, 1: 10_000, 2: 10_000})

	c.Stop(2)
	pipelined(t, c, 0, deleted, func(p redis.Pipeliner, k string) { p.Del(ctx, k) })
	c.Restart(2)
	if got := localCount(t, c, 2); got != 10_000 {
		t.Fatalf("node 2 holds %d live records after missing the deletes, want 10000", got)
	}

	sum := repair(t, c, 2)
	if sum["keys_received"] != int64(5000) || sum["keys_sent"] != int64(0) {
		t.Fatalf("repair on node 2 %v: want the 5000 tombstones received and nothing sent", sum)
	}
	for i := range c.Len() {
		for k, r := range localGets(t, c, i, deleted) {
			if r.present && !r.tombstone {
				t.Fatalf("node %d LOCALGET %s after repair = %+v, want a tombstone or nothing", i, deleted[k], r)
			}
		}
		if n := existsThrough(t, c, i, deleted); n != 0 {
			t.Fatalf("EXISTS through node %d counts %d deleted keys", i, n)
		}
	}
	waitCounts(t, c, map[int]int64{0: 5000, 1: 5000, 2: 5000})
	for k, r := range localGets(t, c, 2, kept) {
		if r.value != "v:"+kept[k] {
			t.Fatalf("node 2 kept key %s = %+v", kept[k], r)
		}
	}
}

// TestRepairKeepsAbsoluteExpiry checks that records repaired onto a
// replica keep the expiry instant they were written with, and that a key
// that expired meanwhile is not brought back.
func TestRepairKeepsAbsoluteExpiry(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, clustertest.Options{Configure: strict})
	ctx := context.Background()
	long, short := keyRange("ttl-long", 0, 300), keyRange("ttl-short", 0, 300)
	c.Stop(2)
	pipelined(t, c, 0, long, func(p redis.Pipeliner, k string) { p.Set(ctx, k, "v", time.Hour) })
	const ttl = 1500 * time.Millisecond
	shortFrom := time.Now()
	pipelined(t, c, 0, short, func(p redis.Pipeliner, k string) { p.Set(ctx, k, "v", ttl) })
	before := localGets(t, c, 0, long)
	var lastShort int64
	withExpiry := 0
	for k, r := range localGets(t, c, 0, short) {
		switch {
		case r.present && r.tombstone && time.Since(shortFrom) >= ttl:
			// Expired before it was read back (a slow run): gone by now.
			lastShort = max(lastShort, time.Now().UnixMilli())
		case !r.present || r.expireAt == 0:
			t.Fatalf("node 0 LOCALGET %s = %+v, want a record with an expiry", short[k], r)
		default:
			lastShort = max(lastShort, r.expireAt)
			withExpiry++
		}
	}
	if withExpiry == 0 {
		t.Fatal("every short key had expired before it was read back: none was seen with its expiry")
	}
	c.Restart(2)
	// Past every short key's expiry: they must stay gone.
	c.Eventually("the short keys to expire", func() error {
		if now := time.Now().UnixMilli(); now <= lastShort {
			return fmt.Errorf("%dms before the last expiry", lastShort-now)
		}
		if n := existsThrough(t, c, 0, short); n != 0 {
			return fmt.Errorf("%d short keys still exist", n)
		}
		return nil
	})

	// Node 2 came back with an empty engine while its peers hold data: it
	// repairs itself before its reads count (catch-up), and the round
	// below may find nothing left to do. Either way, it received the keys.
	repair(t, c, 2)
	if got := infoInt(t, c, 2, "antientropy", "antientropy_keys_received"); got < int64(len(long)) {
		t.Fatalf("node 2 received %d keys through repair, want at least the %d long-lived keys", got, len(long))
	}
	for k, r := range localGets(t, c, 2, long) {
		if !r.present || r.tombstone || r.expireAt != before[k].expireAt {
			t.Fatalf("node 2 %s after repair = %+v; node 0 had expire-at %d", long[k], r, before[k].expireAt)
		}
	}
	now := time.Now().UnixMilli()
	for k, r := range localGets(t, c, 2, short) {
		if r.present && !r.tombstone && (r.expireAt == 0 || r.expireAt > now) {
			t.Fatalf("expired key %s came back on node 2: %+v", short[k], r)
		}
	}
	for i := range c.Len() {
		if n := existsThrough(t, c, i, short); n != 0 {
			t.Fatalf("EXISTS through node %d counts %d expired keys", i, n)
		}
	}
}

// TestTombstonePurgeWaitsForProof shortens the tombstone grace to 200ms
// and runs the repair loop every 300ms. A tombstone whose third replica
// is cut off stays well past its grace, since no round can prove that
// replica has it; once the replica is back and rounds succeed, it is
// purged everywhere.
func TestTombstonePurgeWaitsForProof(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, clustertest.Options{
		Configure: func(i int, cfg *cluster.NodeConfig) {
			strict(i, cfg)
			cfg.AntiEntropy.Interval = 300 * time.Millisecond
		},
		Engine: func(_ int, cfg *engine.Config) { cfg.TombstoneGrace = 200 * time.Millisecond },
	})
	ctx := context.Background()
	const k = "purge-me"
	if err := c.Client(0).Set(ctx, k, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	c.Eventually("the key on every node", func() error {
		for i := range c.Len() {
			if _, ok := localValue(t, c, i, k); !ok {
				return fmt.Errorf("node %d lacks it", i)
			}
		}
		return nil
	})
	c.Isolate(2)
	deleted := time.Now()
	if err := c.Client(0).Del(ctx, k).Err(); err != nil {
		t.Fatalf("DEL with node 2 cut off: %v", err)
	}
	// Wait for rounds on nodes 0 and 1 that started late enough to prove
	// the delete (the repairer's 5s margin) had node 2 been reachable.
	proofDue := deleted.Add(6 * time.Second)
	c.Eventually("rounds past the proof margin on nodes 0 and 1", func() error {
		for _, i := range []int{0, 1} {
			st := c.Node(i).Repairer().Stats()
			if !st.LastRound.After(proofDue) || st.ExchangeFailures == 0 {
				return fmt.Errorf("node %d: last round %v, %d exchange failures", i, st.LastRound, st.ExchangeFailures)
			}
		}
		return nil
	})
	for _, i := range []int{0, 1} {
		if r := localGets(t, c, i, []string{k})[0]; !r.tombstone {
			t.Fatalf("node %d LOCALGET %s = %+v %v after its grace: want the tombstone kept", i, k, r, time.Since(deleted))
		}
	}
	if v, ok := localValue(t, c, 2, k); !ok || v != "v" {
		t.Fatalf("cut-off node 2 holds %q, %v; want the old value", v, ok)
	}

	c.Heal()
	c.Eventually("the tombstone purged on every node", func() error {
		for i := range c.Len() {
			if r := localGets(t, c, i, []string{k})[0]; r.present {
				return fmt.Errorf("node %d still holds %+v", i, r)
			}
		}
		return nil
	})
	for i := range c.Len() {
		if n := existsThrough(t, c, i, []string{k}); n != 0 {
			t.Fatalf("the purged key exists through node %d", i)
		}
	}
}

// TestBackgroundLoopRepairs checks that a node that missed writes is
// brought up to date by the background loop alone.
func TestBackgroundLoopRepairs(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, clustertest.Options{Configure: func(i int, cfg *cluster.NodeConfig) {
		strict(i, cfg)
		cfg.AntiEntropy.Interval = 300 * time.Millisecond
	}})
	ctx := context.Background()
	keys := keyRange("loop", 0, 1000)
	c.Stop(2)
	pipelined(t, c, 0, keys, func(p redis.Pipeliner, k string) { p.Set(ctx, k, "v:"+k, 0) })
	c.Restart(2)
	// No reads through node 2 (read repair) and no RINGCACHE REPAIR: only
	// the loop can bring the keys.
	waitCounts(t, c, map[int]int64{0: 1000, 1: 1000, 2: 1000})
	for k, r := range localGets(t, c, 2, keys) {
		if r.value != "v:"+keys[k] {
			t.Fatalf("node 2 %s = %+v", keys[k], r)
		}
	}
	// INFO's antientropy section accounts for the repair: keys pushed to
	// node 2 by its peers or pulled by node 2 itself.
	// A round records its figures when it ends, and the keys may be on
	// node 2 while the round that brought them still compares other
	// ranges: wait for the accounting.
	c.Eventually("INFO accounts for the repair", func() error {
		var rounds, repaired int64
		for i := range c.Len() {
			rounds += infoInt(t, c, i, "antientropy", "antientropy_rounds")
			repaired += infoInt(t, c, i, "antientropy", "antientropy_keys_repaired")
		}
		if rounds == 0 || repaired < int64(len(keys)) {
			return fmt.Errorf("INFO reports %d rounds and %d keys repaired over all nodes, want at least %d keys", rounds, repaired, len(keys))
		}
		return nil
	})
}

// TestRepairFinishesAMissedFlush: a FLUSHALL while a replica is down
// fails naming it, and the replica comes back holding the flushed keys.
// One repair, asked on a node the flush reached, gives it that node's
// flush floor: it drops every record older than the flush and keeps the
// writes since, and no flushed key reads back through any node.
func TestRepairFinishesAMissedFlush(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, clustertest.Options{Configure: strict, Timeout: 2 * time.Second})
	ctx := context.Background()
	flushed := keyRange("flushed", 0, 2000)
	pipelined(t, c, 0, flushed, func(p redis.Pipeliner, k string) { p.Set(ctx, k, "v:"+k, 0) })
	waitCounts(t, c, map[int]int64{0: 2000, 1: 2000, 2: 2000})

	c.Stop(2)
	err := c.Client(0).FlushAll(ctx).Err()
	if err == nil || !strings.Contains(err.Error(), c.ID(2)) {
		t.Fatalf("FLUSHALL with node 2 down = %v, want an error naming %s", err, c.ID(2))
	}
	c.Restart(2)
	if got := localCount(t, c, 2); got != 2000 {
		t.Fatalf("node 2 holds %d live records after missing the flush, want 2000", got)
	}
	after := keyRange("after", 0, 500)
	pipelined(t, c, 1, after, func(p redis.Pipeliner, k string) { p.Set(ctx, k, "v:"+k, 0) })
	waitCounts(t, c, map[int]int64{0: 500, 1: 500, 2: 2500})

	repair(t, c, 0)
	waitCounts(t, c, map[int]int64{0: 500, 1: 500, 2: 500})
	c.Eventually("node 2's INFO engine_floor_dropped", func() error {
		if got := infoSectionField(t, c, 2, "engine", "engine_floor_dropped"); got != "2000" {
			return fmt.Errorf("engine_floor_dropped = %q, want 2000", got)
		}
		return nil
	})
	for i := range c.Len() {
		for k, r := range localGets(t, c, i, flushed) {
			if r.present {
				t.Fatalf("node %d LOCALGET %s after the repair = %+v, want nothing", i, flushed[k], r)
			}
		}
		if n := existsThrough(t, c, i, flushed); n != 0 {
			t.Fatalf("EXISTS through node %d counts %d flushed keys", i, n)
		}
		for k, r := range localGets(t, c, i, after) {
			if r.value != "v:"+after[k] {
				t.Fatalf("node %d LOCALGET %s = %+v, want the write after the flush", i, after[k], r)
			}
		}
	}
}
