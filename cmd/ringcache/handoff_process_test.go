package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/bench/await"
)

// Sloppy quorum and hinted handoff with real processes: owners are
// SIGKILLed, writes go on through the survivors, and the hints reach the
// owners when they restart.

// handoffArgs is the cluster every handoff process test runs.
var handoffArgs = []string{"--replicas", "3", "--write-quorum", "2", "--read-quorum", "2", "--timeout", "500ms"}

// catchUp bounds how long a restarted owner may take to receive its
// hints: the alive event triggers the replay, the 1 s retry backs it up.
const catchUp = 30 * time.Second

// running returns the indexes of the nodes whose process runs.
func (c *procCluster) running() []int {
	var out []int
	for i, p := range c.nodes {
		if p.proc != nil && !isDone(p.proc) {
			out = append(out, i)
		}
	}
	return out
}

// hintRows returns node i's RINGCACHE HINTS reply as target -> pending.
func (c *procCluster) hintRows(i int) (map[string]int64, error) {
	cl := redis.NewClient(&redis.Options{Addr: c.nodes[i].client, MaxRetries: -1})
	defer cl.Close()
	rows, err := cl.Do(context.Background(), "RINGCACHE", "HINTS").Slice()
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, r := range rows {
		f, ok := r.([]any)
		if !ok || len(f) != 6 {
			return nil, fmt.Errorf("RINGCACHE HINTS row %v: want 6 fields", r)
		}
		target, _ := f[0].(string)
		pending, ok := f[1].(int64)
		if !ok {
			return nil, fmt.Errorf("RINGCACHE HINTS row %v: pending is not an integer", r)
		}
		out[target] = pending
	}
	return out, nil
}

// pendingFor sums the hints for target over the running nodes and lists
// the nodes that hold some.
func (c *procCluster) pendingFor(target string) (total int64, holders []int, err error) {
	for _, i := range c.running() {
		rows, err := c.hintRows(i)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", c.nodes[i].id, err)
		}
		if n := rows[target]; n > 0 {
			total += n
			holders = append(holders, i)
		}
	}
	return total, holders, nil
}

// waitPending waits until the running nodes hold want hints for target.
func (c *procCluster) waitPending(target string, want int64, limit time.Duration) {
	c.t.Helper()
	err := await.Until(limit, func() error {
		got, holders, err := c.pendingFor(target)
		if err == nil && got != want {
			err = fmt.Errorf("%d pending on %d nodes", got, len(holders))
		}
		return err
	})
	if err != nil {
		c.dumpLogs()
		c.t.Fatalf("%d hints pending for %s: %v", want, target, err)
	}
}

// dumpLogs logs every node's log, for a failed test.
func (c *procCluster) dumpLogs() {
	for i, n := range c.nodes {
		if n.proc != nil {
			c.t.Logf("log of %s:\n%s", n.id, n.proc.logText())
		}
		if info, err := c.client(i).Info(context.Background(), "cluster", "hints").Result(); err == nil {
			c.t.Logf("INFO of %s:\n%s", n.id, info)
		}
	}
}

// handoffChunk is how many commands one pipeline carries.
const handoffChunk = 250

// keysOwnedByAll returns n keys (named prefix + counter) whose owners
// include every id in ids.
func keysOwnedByAll(t *testing.T, cl *redis.Client, prefix string, n int, ids ...string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for next := 0; len(out) < n; {
		if next > 50*n {
			t.Fatalf("only %d of %d keys owned by %v among %d", len(out), n, ids, next)
		}
		pipe := cl.Pipeline()
		names := make([]string, handoffChunk)
		cmds := make([]*redis.Cmd, handoffChunk)
		for j := range names {
			names[j] = fmt.Sprintf("%s%06d", prefix, next)
			next++
			cmds[j] = pipe.Do(ctx, "RINGCACHE", "OWNERS", names[j])
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatalf("RINGCACHE OWNERS: %v", err)
		}
		for j, cmd := range cmds {
			owners, err := cmd.StringSlice()
			if err != nil || len(owners) != 3 {
				t.Fatalf("RINGCACHE OWNERS %s = %v, %v; want 3 ids", names[j], owners, err)
			}
			all := true
			for _, id := range ids {
				all = all && contains(owners, id)
			}
			if all && len(out) < n {
				out = append(out, names[j])
			}
		}
	}
	return out
}

func hintedValue(key string) string { return "hv:" + key }

// setHinted writes every key (value hintedValue(key)) through cl and fails on
// the first error: every write must reach its quorum.
func setHinted(t *testing.T, cl *redis.Client, keys []string) {
	t.Helper()
	ctx := context.Background()
	for start := 0; start < len(keys); start += handoffChunk {
		pipe := cl.Pipeline()
		for _, k := range keys[start:min(start+handoffChunk, len(keys))] {
			pipe.Set(ctx, k, hintedValue(k), 0)
		}
		cmds, err := pipe.Exec(ctx)
		if err != nil {
			for _, cmd := range cmds {
				if cmd.Err() != nil {
					t.Fatalf("%v: %v", cmd.Args(), cmd.Err())
				}
			}
			t.Fatalf("pipeline: %v", err)
		}
	}
}

// checkHinted reads every key through cl and fails unless each returns
// its value.
func checkHinted(t *testing.T, cl *redis.Client, keys []string) {
	t.Helper()
	ctx := context.Background()
	for start := 0; start < len(keys); start += handoffChunk {
		pipe := cl.Pipeline()
		batch := keys[start:min(start+handoffChunk, len(keys))]
		cmds := make([]*redis.StringCmd, len(batch))
		for j, k := range batch {
			cmds[j] = pipe.Get(ctx, k)
		}
		pipe.Exec(ctx) // errors are checked per command
		for j, cmd := range cmds {
			if v, err := cmd.Result(); err != nil || v != hintedValue(batch[j]) {
				t.Fatalf("GET %s = %q, %v; want %q", batch[j], v, err, hintedValue(batch[j]))
			}
		}
	}
}

// missingLocally returns the keys node i does not itself hold with their
// value (RINGCACHE LOCALGET), at most a few as examples, and how many.
func (c *procCluster) missingLocally(i int, keys []string) (int, []string, error) {
	cl := redis.NewClient(&redis.Options{Addr: c.nodes[i].client, MaxRetries: -1})
	defer cl.Close()
	ctx := context.Background()
	missing := 0
	var examples []string
	for start := 0; start < len(keys); start += handoffChunk {
		pipe := cl.Pipeline()
		batch := keys[start:min(start+handoffChunk, len(keys))]
		cmds := make([]*redis.Cmd, len(batch))
		for j, k := range batch {
			cmds[j] = pipe.Do(ctx, "RINGCACHE", "LOCALGET", k)
		}
		pipe.Exec(ctx)
		for j, cmd := range cmds {
			res, err := cmd.Slice()
			switch {
			case err == redis.Nil:
			case err != nil:
				return 0, nil, fmt.Errorf("LOCALGET %s: %w", batch[j], err)
			case len(res) != 4:
				return 0, nil, fmt.Errorf("LOCALGET %s = %v: want 4 fields", batch[j], res)
			case res[0] == hintedValue(batch[j]) && res[3] == int64(0):
				continue
			}
			missing++
			if len(examples) < 3 {
				examples = append(examples, fmt.Sprintf("%s=%v", batch[j], res))
			}
		}
	}
	return missing, examples, nil
}

// waitCaughtUp waits until node i holds every key itself and no running
// node holds hints for it any more.
func (c *procCluster) waitCaughtUp(i int, keys []string) {
	c.t.Helper()
	id := c.nodes[i].id
	waitFor(c.t, catchUp, id+" caught up", func() error {
		n, ex, err := c.missingLocally(i, keys)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%d of %d keys missing on %s, e.g. %v", n, len(keys), id, ex)
		}
		pending, holders, err := c.pendingFor(id)
		if err != nil {
			return err
		}
		if pending != 0 {
			return fmt.Errorf("%d hints for %s still pending on %d nodes", pending, id, len(holders))
		}
		return nil
	})
}

// infoPending returns node i's hints_pending from INFO hints.
func (c *procCluster) infoPending(i int) (int64, error) {
	cl := redis.NewClient(&redis.Options{Addr: c.nodes[i].client, MaxRetries: -1})
	defer cl.Close()
	info, err := cl.Info(context.Background(), "hints").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "hints_pending:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO hints has no hints_pending: %q", info)
}

func TestHandoffProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five processes three times")
	}
	const (
		writer = 0 // a seed, never killed
		victim = 2
		nkeys  = 2000
	)

	t.Run("owner restarts", func(t *testing.T) {
		c := startProcCluster(t, 5, handoffArgs...)
		v := c.nodes[victim].id
		keys := keysOwnedByAll(t, c.client(writer), "a:", nkeys, v)
		c.nodes[victim].proc.kill()
		setHinted(t, c.client(writer), keys)
		// Hints kept by the coordinator after its reply land in the
		// background: wait for all of them.
		c.waitPending(v, nkeys, 15*time.Second)
		var infoTotal int64
		for _, i := range c.running() {
			n, err := c.infoPending(i)
			if err != nil {
				t.Fatal(err)
			}
			infoTotal += n
		}
		if infoTotal != nkeys {
			t.Fatalf("INFO hints_pending sums to %d over the running nodes, want %d", infoTotal, nkeys)
		}
		c.start(victim)
		c.waitCaughtUp(victim, keys)
	})

	t.Run("holders restart before the owner", func(t *testing.T) {
		c := startProcCluster(t, 5, handoffArgs...)
		v := c.nodes[victim].id
		keys := keysOwnedByAll(t, c.client(writer), "b:", nkeys, v)
		c.nodes[victim].proc.kill()
		setHinted(t, c.client(writer), keys)
		c.waitPending(v, nkeys, 15*time.Second)
		_, holders, err := c.pendingFor(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range holders {
			c.nodes[h].proc.kill()
			c.start(h)
			c.waitAlive(len(c.nodes) - 1)
		}
		// The hints are durable: every one survived its holder's SIGKILL.
		c.waitPending(v, nkeys, 10*time.Second)
		c.start(victim)
		c.waitCaughtUp(victim, keys)
		t.Logf("%d holders restarted before %s returned", len(holders), v)
	})

	t.Run("two owners down", func(t *testing.T) {
		c := startProcCluster(t, 5, handoffArgs...)
		const x, y, reader = 2, 3, 4
		keys := keysOwnedByAll(t, c.client(writer), "c:", 500, c.nodes[x].id, c.nodes[y].id)
		c.nodes[x].proc.kill()
		c.nodes[y].proc.kill()
		setHinted(t, c.client(writer), keys)
		checkHinted(t, c.client(reader), keys)
		checkHinted(t, c.client(1), keys)
		c.start(x)
		c.start(y)
		c.waitCaughtUp(x, keys)
		c.waitCaughtUp(y, keys)
	})
}
