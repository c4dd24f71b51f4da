package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/bench/process"
)

// The lifecycle flags with real processes: --decommission takes a node
// out for good and exits 0, --join=false keeps an empty node out of the
// layout until RINGCACHE JOIN, and --replace of a member that still runs
// waits until that member is down. Anti-entropy is off, so a key a node
// holds after an operation is one the operation streamed to it.

// lifecycleArgs are the cluster's settings: the defaults N=3, W=2, R=2
// spelled out, and no background repair.
var lifecycleArgs = []string{"--replicas", "3", "--write-quorum", "2", "--read-quorum", "2",
	"--anti-entropy-interval", "0"}

// lifecycleKeys is how many keys each test writes before the operation.
const lifecycleKeys = 500

// writeLifecycleKeys SETs lifecycleKeys keys through cl, each to "v:"
// and its name (the value countPresent expects), and returns them.
func writeLifecycleKeys(t *testing.T, cl *redis.Client) []string {
	t.Helper()
	ctx := context.Background()
	keys := make([]string, lifecycleKeys)
	pipe := cl.Pipeline()
	for i := range keys {
		keys[i] = fmt.Sprintf("lf:%04d", i)
		pipe.Set(ctx, keys[i], "v:"+keys[i], 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("writing %d keys: %v", len(keys), err)
	}
	return keys
}

// addNode starts a new member id on new ports with the cluster's
// arguments and extra, and returns its index. Like startFresh, it
// starts it again on other ports if one was taken before it bound it.
func (c *procCluster) addNode(id string, extra ...string) int {
	c.t.Helper()
	p := &procNode{id: id, dir: c.t.TempDir()}
	c.nodes = append(c.nodes, p)
	i := len(c.nodes) - 1
	for attempt := 1; ; attempt++ {
		p.client, p.rpc, p.gossip = freeAddr(c.t), freeAddr(c.t), freeAddr(c.t)
		proc, err := launchNode(c.t, p.client, append(c.args(i), extra...)...)
		if err == nil {
			p.proc = proc
			return i
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			c.t.Fatal(err)
		}
	}
}

// nodeRow returns the state (gossip) and role (layout) RINGCACHE NODES
// on node i gives member id; both "" when it does not list id.
func (c *procCluster) nodeRow(i int, id string) (state, role string, err error) {
	cl := redis.NewClient(&redis.Options{Addr: c.nodes[i].client, MaxRetries: -1})
	defer cl.Close()
	rows, err := cl.Do(context.Background(), "RINGCACHE", "NODES").Slice()
	if err != nil {
		return "", "", err
	}
	for _, r := range rows {
		f, ok := r.([]any)
		if !ok || len(f) != 6 {
			return "", "", fmt.Errorf("RINGCACHE NODES row %v: want 6 fields", r)
		}
		if f[0] == id {
			return fmt.Sprint(f[2]), fmt.Sprint(f[5]), nil
		}
	}
	return "", "", nil
}

// waitRole waits until RINGCACHE NODES on every node of on gives member
// id the role (layout state) want.
func (c *procCluster) waitRole(on []int, id, want string, limit time.Duration) {
	c.t.Helper()
	waitFor(c.t, limit, fmt.Sprintf("%s %s on %v", id, want, c.ids(on)), func() error {
		for _, i := range on {
			state, role, err := c.nodeRow(i, id)
			if err != nil {
				return fmt.Errorf("%s: %w", c.nodes[i].id, err)
			}
			if role != want {
				return fmt.Errorf("%s lists %s as %s, role %q", c.nodes[i].id, id, state, role)
			}
		}
		return nil
	})
}

// ids returns the node ids of the indices on.
func (c *procCluster) ids(on []int) []string {
	out := make([]string, len(on))
	for j, i := range on {
		out[j] = c.nodes[i].id
	}
	return out
}

// ownedBy returns the keys whose owners, by RINGCACHE OWNERS on node i,
// include id.
func (c *procCluster) ownedBy(i int, id string, keys []string) []string {
	c.t.Helper()
	cl := redis.NewClient(&redis.Options{Addr: c.nodes[i].client, MaxRetries: -1})
	defer cl.Close()
	ctx := context.Background()
	pipe := cl.Pipeline()
	cmds := make([]*redis.Cmd, len(keys))
	for j, k := range keys {
		cmds[j] = pipe.Do(ctx, "RINGCACHE", "OWNERS", k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		c.t.Fatalf("RINGCACHE OWNERS on %s: %v", c.nodes[i].id, err)
	}
	var out []string
	for j, cmd := range cmds {
		ids, err := cmd.StringSlice()
		if err != nil || len(ids) != 3 {
			c.t.Fatalf("RINGCACHE OWNERS %s on %s = %v, %v; want 3 ids", keys[j], c.nodes[i].id, ids, err)
		}
		if contains(ids, id) {
			out = append(out, keys[j])
		}
	}
	return out
}

// readBack fails the test unless every key reads back with its value
// through every node of on.
func (c *procCluster) readBack(on []int, keys []string) {
	c.t.Helper()
	for _, i := range on {
		present, wrong := countPresent(c.t, c.nodes[i].client, keys)
		if len(wrong) > 0 {
			c.t.Fatalf("through %s %d keys read back a wrong value, e.g. %s", c.nodes[i].id, len(wrong), wrong[0])
		}
		if present != len(keys) {
			c.t.Fatalf("through %s only %d of %d keys read back", c.nodes[i].id, present, len(keys))
		}
	}
}

// notHeld returns how many of keys node i has no own live record of
// with its value (RINGCACHE LOCALGET, no quorum), and the first one.
func (c *procCluster) notHeld(i int, keys []string) (int, string) {
	c.t.Helper()
	cl := redis.NewClient(&redis.Options{Addr: c.nodes[i].client, MaxRetries: -1})
	defer cl.Close()
	missing, first := 0, ""
	for _, k := range keys {
		if v, ok := localValue(c.t, cl, k); !ok || v != "v:"+k {
			if missing++; first == "" {
				first = k
			}
		}
	}
	return missing, first
}

// waitExit waits up to limit for node i to exit and returns how it did
// (nil for status 0), failing the test if it is still running then.
func (c *procCluster) waitExit(i int, limit time.Duration) error {
	c.t.Helper()
	p := c.nodes[i].proc
	select {
	case <-p.Exited():
		return p.Wait()
	case <-time.After(limit):
		c.dumpLogs()
		c.t.Fatalf("%s still runs %v later", c.nodes[i].id, limit)
		return nil
	}
}

// restartDecommissioned starts node i again, after a clean stop, with
// --decommission. It does not wait for PING: the node may leave and exit
// before it would answer.
func (c *procCluster) restartDecommissioned(i int) {
	c.t.Helper()
	p := c.nodes[i]
	n := &node{t: c.t, addr: p.client, log: filepath.Join(c.t.TempDir(), "node.log")}
	args := append([]string{"--listen", p.client, "--log-level", "warn"}, c.args(i)...)
	proc, err := process.Start(context.Background(), process.Config{
		Bin: binPath, Args: append(args, "--decommission"), Log: n.log,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	n.Process = proc
	c.t.Cleanup(n.kill)
	p.proc = n
}

// TestProcessDecommissionLeavesWithEveryKey: of four members holding 500
// keys (N=3), one stopped and started again with --decommission streams
// its ranges away and exits 0; every other node lists it left (role and
// state), owners of no key, and each of the three that remain holds every
// key itself (N=3 of 3), which reads back through each of them.
func TestProcessDecommissionLeavesWithEveryKey(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four processes")
	}
	c := startProcCluster(t, 3, lifecycleArgs...)
	keys := writeLifecycleKeys(t, c.client(0))
	c.addNode("n4")
	c.waitAlive(4)
	const v = 2
	id := c.nodes[v].id
	if held := c.ownedBy(0, id, keys); len(held) == 0 {
		t.Fatalf("%s owns none of the %d keys: its leave would move nothing", id, len(keys))
	}
	// Every owner holds its keys before the leave, so after it a key a
	// remaining node lacks is one the leave did not stream.
	waitFor(t, 20*time.Second, "every owner to hold its keys", func() error {
		for i := range c.nodes {
			mine := c.ownedBy(0, c.nodes[i].id, keys)
			if missing, first := c.notHeld(i, mine); missing > 0 {
				return fmt.Errorf("%s lacks %d of its %d keys, e.g. %s", c.nodes[i].id, missing, len(mine), first)
			}
		}
		return nil
	})

	if err := c.nodes[v].proc.stop(); err != nil {
		t.Fatalf("SIGTERM %s: %v", id, err)
	}
	start := time.Now()
	c.restartDecommissioned(v)
	if err := c.waitExit(v, 30*time.Second); err != nil {
		t.Fatalf("%s with --decommission exited with %v, want status 0\n%s", id, err, c.nodes[v].proc.logText())
	}
	took := time.Since(start)
	rest := c.running()
	c.waitRole(rest, id, "left", 30*time.Second)
	waitFor(t, 30*time.Second, id+" seen gone by gossip", func() error {
		for _, i := range rest {
			if state, _, err := c.nodeRow(i, id); err != nil || state != "left" {
				return fmt.Errorf("%s lists %s as %q (%v)", c.nodes[i].id, id, state, err)
			}
		}
		return nil
	})
	for _, i := range rest {
		if held := c.ownedBy(i, id, keys); len(held) > 0 {
			t.Fatalf("%s still places %d keys on %s, e.g. %s", c.nodes[i].id, len(held), id, held[0])
		}
		if missing, first := c.notHeld(i, keys); missing > 0 {
			t.Fatalf("after %s left, %s lacks %d of %d keys, e.g. %s", id, c.nodes[i].id, missing, len(keys), first)
		}
	}
	c.readBack(rest, keys)
	t.Logf("%s decommissioned and exited 0 in %v; %d keys on each of %v", id, took.Round(time.Millisecond), len(keys), c.ids(rest))
}

// TestProcessJoinFalseWaitsForJoin: an empty fourth node started with
// --join=false and the cluster's seeds gossips (every node lists it
// alive) but stays out of the layout (role none) and owns no key, for as
// long as it is not asked; RINGCACHE JOIN on it brings it in: normal on
// every node, owner of some keys, which it holds itself, and every key
// reads back through every node.
func TestProcessJoinFalseWaitsForJoin(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four processes")
	}
	c := startProcCluster(t, 3, lifecycleArgs...)
	keys := writeLifecycleKeys(t, c.client(0))
	n4 := c.addNode("n4", "--join=false")
	waitFor(t, 30*time.Second, "n4 alive in gossip on every node", func() error {
		for _, i := range c.running() {
			if state, _, err := c.nodeRow(i, "n4"); err != nil || state != "alive" {
				return fmt.Errorf("%s lists n4 as %q (%v)", c.nodes[i].id, state, err)
			}
		}
		return nil
	})
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		for _, i := range c.running() {
			if _, role, err := c.nodeRow(i, "n4"); err != nil || role != "none" {
				t.Fatalf("before RINGCACHE JOIN %s lists n4 with role %q (%v), want none", c.nodes[i].id, role, err)
			}
		}
		for i := range 3 {
			if held := c.ownedBy(i, "n4", keys); len(held) > 0 {
				t.Fatalf("before RINGCACHE JOIN %s places %d keys on n4, e.g. %s", c.nodes[i].id, len(held), held[0])
			}
		}
	}

	joined := time.Now()
	if err := c.client(n4).Do(context.Background(), "RINGCACHE", "JOIN").Err(); err != nil {
		t.Fatalf("RINGCACHE JOIN on n4: %v", err)
	}
	c.waitRole(c.running(), "n4", "normal", 30*time.Second)
	took := time.Since(joined)
	c.waitAlive(4)
	mine := c.ownedBy(0, "n4", keys)
	if len(mine) == 0 {
		t.Fatalf("n4 is normal but owns none of the %d keys", len(keys))
	}
	if missing, first := c.notHeld(n4, mine); missing > 0 {
		t.Fatalf("n4 lacks %d of the %d keys it owns, e.g. %s", missing, len(mine), first)
	}
	c.readBack(c.running(), keys)
	t.Logf("n4 normal on every node %v after RINGCACHE JOIN; it owns and holds %d of %d keys", took.Round(time.Millisecond), len(mine), len(keys))
}

// TestProcessReplaceAliveWaitsForDown: an empty node started with
// --replace of a member that still runs does not take its place. For
// seconds the member stays alive and normal on every node and serves, no
// node places a key on the replacement, and the replacement's log says
// at warn that it is not replacing yet because the member is alive. Once
// the member is SIGKILLed the replacement goes ahead: it is normal on
// every node, the old member left, and the replacement holds every key
// (N=3 of 3), which reads back through every node.
func TestProcessReplaceAliveWaitsForDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four processes")
	}
	c := startProcCluster(t, 3, lifecycleArgs...)
	keys := writeLifecycleKeys(t, c.client(0))
	const v = 2
	old := c.nodes[v].id
	r := c.addNode(old+"b", "--replace", old)
	id := c.nodes[r].id
	const refused = "not replacing yet"
	serving := c.client(v)
	// For 4s, and until the replacement logged why it waits (20s at most).
	start := time.Now()
	for time.Since(start) < 4*time.Second || !strings.Contains(c.nodes[r].proc.logText(), refused) {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("%s's log does not say why it waits:\n%s", id, c.nodes[r].proc.logText())
		}
		c.checkNotReplaced(old, id, keys)
		k := keys[time.Now().Nanosecond()%len(keys)]
		if got, err := serving.Get(context.Background(), k).Result(); err != nil || got != "v:"+k {
			t.Fatalf("GET %s through %s = %q, %v", k, old, got, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	log := c.nodes[r].proc.logText()
	var line string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, refused) {
			line = l
			break
		}
	}
	if !strings.Contains(line, "level=WARN") || !strings.Contains(line, old+" is alive") {
		t.Fatalf("%s's log does not warn that %s is alive:\n%s", id, old, log)
	}
	// The reason does not change while it waits, so it is logged once
	// (not at every retry: about twice a second).
	if n := strings.Count(log, refused); n > 1 {
		t.Fatalf("%s logged why it waits %d times in %v:\n%s", id, n, time.Since(start).Round(time.Second), log)
	}
	t.Logf("%s waiting: %s", id, line)

	killed := time.Now()
	c.nodes[v].proc.kill()
	rest := c.running()
	c.waitRole(rest, id, "normal", 30*time.Second)
	c.waitRole(rest, old, "left", 30*time.Second)
	took := time.Since(killed)
	if missing, first := c.notHeld(r, keys); missing > 0 {
		t.Fatalf("the replacement %s lacks %d of %d keys, e.g. %s", id, missing, len(keys), first)
	}
	c.readBack(rest, keys)
	t.Logf("%s normal and %s left on every node %v after SIGKILL", id, old, took.Round(time.Millisecond))
}

// checkNotReplaced fails the test unless every member (the first three
// nodes: the waiting node has no layout) lists old alive and normal,
// gives the waiting node id no role, and places no key on it.
func (c *procCluster) checkNotReplaced(old, id string, keys []string) {
	c.t.Helper()
	for i := range 3 {
		state, role, err := c.nodeRow(i, old)
		if err != nil || state != "alive" || role != "normal" {
			c.t.Fatalf("with %s waiting to replace it, %s lists %s as %q, role %q (%v); want alive, normal",
				id, c.nodes[i].id, old, state, role, err)
		}
		if _, role, err := c.nodeRow(i, id); err != nil || (role != "none" && role != "") {
			c.t.Fatalf("%s lists the waiting %s with role %q (%v)", c.nodes[i].id, id, role, err)
		}
		if held := c.ownedBy(i, id, keys); len(held) > 0 {
			c.t.Fatalf("%s places %d keys on the waiting %s, e.g. %s", c.nodes[i].id, len(held), id, held[0])
		}
	}
}
