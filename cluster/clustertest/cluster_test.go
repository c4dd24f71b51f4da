package clustertest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/cluster"
	"github.com/ringcache/ringcache/cluster/clustertest"
	"github.com/ringcache/ringcache/cluster/membership"
)

func key(i int) string { return fmt.Sprintf("key:%05d", i) }

// ownersOf returns the indexes of key's owners, checking that every
// running node computes the same preference list.
func ownersOf(t *testing.T, c *clustertest.Cluster, k string) []int {
	t.Helper()
	ids := c.Node(c.Running()[0]).Owners([]byte(k))
	for _, i := range c.Running() {
		if got := c.Node(i).Owners([]byte(k)); !slices.Equal(got, ids) {
			t.Fatalf("node %d owners of %q = %v, node 0 says %v", i, k, got, ids)
		}
	}
	out := make([]int, len(ids))
	for j, id := range ids {
		out[j] = c.Index(id)
	}
	return out
}

// nonOwner returns a running node that does not own k.
func nonOwner(t *testing.T, c *clustertest.Cluster, owners []int) int {
	t.Helper()
	for _, i := range c.Running() {
		if !slices.Contains(owners, i) {
			return i
		}
	}
	t.Fatal("every node owns the key")
	return -1
}

// localValue returns node i's stored value of k ("" and false if none).
func localValue(t *testing.T, c *clustertest.Cluster, i int, k string) (string, bool) {
	t.Helper()
	rec, ok, err := c.Node(i).LocalGet(context.Background(), []byte(k))
	if err != nil {
		t.Fatalf("node %d LocalGet(%q): %v", i, k, err)
	}
	return string(rec.Value), ok && !rec.Tombstone
}

func TestWritesReadableEverywhereAndPlacedOnOwners(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 5, clustertest.Options{})
	ctx := context.Background()
	const keys = 2000

	pipe := c.Client(0).Pipeline()
	for i := range keys {
		pipe.Set(ctx, key(i), "v"+key(i), 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("SET pipeline through node 0: %v", err)
	}

	for n := 1; n < c.Len(); n++ {
		pipe := c.Client(n).Pipeline()
		cmds := make([]*redis.StringCmd, keys)
		for i := range keys {
			cmds[i] = pipe.Get(ctx, key(i))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatalf("GET pipeline through node %d: %v", n, err)
		}
		for i, cmd := range cmds {
			if cmd.Val() != "v"+key(i) {
				t.Fatalf("GET %s through node %d = %q, want %q", key(i), n, cmd.Val(), "v"+key(i))
			}
		}
	}

	// W=2 replies before the third replica acknowledged, so the check
	// is retried until every write has landed.
	c.Eventually("every key on exactly its owners", func() error {
		for i := range keys {
			owners := ownersOf(t, c, key(i))
			if len(owners) != 3 {
				return fmt.Errorf("%s has %d owners", key(i), len(owners))
			}
			for n := range c.Len() {
				_, has := localValue(t, c, n, key(i))
				if want := slices.Contains(owners, n); has != want {
					return fmt.Errorf("node %d holds %s: %v, owner: %v", n, key(i), has, want)
				}
			}
		}
		return nil
	})

	// The same through the operator commands.
	k := key(7)
	owners, err := c.Client(2).Do(ctx, "RINGCACHE", "OWNERS", k).StringSlice()
	if err != nil || !slices.Equal(owners, c.Node(0).Owners([]byte(k))) {
		t.Fatalf("RINGCACHE OWNERS = %v, %v; want %v", owners, err, c.Node(0).Owners([]byte(k)))
	}
	for n := range c.Len() {
		res, err := c.Client(n).Do(ctx, "RINGCACHE", "LOCALGET", k).Slice()
		isOwner := slices.Contains(owners, c.ID(n))
		switch {
		case isOwner && (err != nil || len(res) != 4 || res[0] != "v"+k):
			t.Fatalf("owner %d LOCALGET = %v, %v", n, res, err)
		case !isOwner && !errors.Is(err, redis.Nil):
			t.Fatalf("non-owner %d LOCALGET = %v, %v; want nil", n, res, err)
		}
	}
	nodes, err := c.Client(1).Do(ctx, "RINGCACHE", "NODES").Slice()
	if err != nil || len(nodes) != 5 {
		t.Fatalf("RINGCACHE NODES = %v, %v", nodes, err)
	}
	// A loaded machine can have a member suspected for a moment.
	c.Eventually("INFO cluster to list every member alive", func() error {
		info, err := c.Client(3).Info(ctx, "cluster").Result()
		if err != nil || !strings.Contains(info, "cluster_members_alive:5") || !strings.Contains(info, "cluster_max_clock_skew_ms:") {
			return fmt.Errorf("INFO cluster = %q, %v", info, err)
		}
		return nil
	})
}

// strict turns sloppy quorum and hinted handoff off: requests use a key's
// owners only.
func strict(_ int, cfg *cluster.NodeConfig) { cfg.HintedHandoff = false }

func TestQuorumUnderPartitions(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 5, clustertest.Options{Configure: strict})
	ctx := context.Background()

	// One node cut off: every key still has two reachable owners.
	c.Isolate(4)
	coord := c.Client(0)
	for i := range 200 {
		if err := coord.Set(ctx, key(i), "one-down", 0).Err(); err != nil {
			t.Fatalf("SET %s with node 4 isolated: %v", key(i), err)
		}
	}
	for i := range 200 {
		if got, err := coord.Get(ctx, key(i)).Result(); err != nil || got != "one-down" {
			t.Fatalf("GET %s with node 4 isolated = %q, %v", key(i), got, err)
		}
	}
	if c.Faults().Failed(c.ID(4)) == 0 {
		t.Fatal("no call to the isolated node was failed: the fault is not in the path")
	}
	c.Heal()

	// Two owners of a key cut off from the rest: a write cannot reach W.
	k := key(1)
	owners := ownersOf(t, c, k)
	via := nonOwner(t, c, owners)
	var rest []int
	for i := range c.Len() {
		if i != owners[1] && i != owners[2] {
			rest = append(rest, i)
		}
	}
	c.Partition([]int{owners[1], owners[2]}, rest)
	err := c.Client(via).Set(ctx, k, "two-down", 0).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "NOQUORUM") {
		t.Fatalf("SET with two owners cut off = %v, want NOQUORUM", err)
	}
	if err := c.Client(via).Get(ctx, k).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOQUORUM") {
		t.Fatalf("GET with two owners cut off = %v, want NOQUORUM", err)
	}
	if st := c.Node(via).Stats().Coordinator; st.WriteQuorumFailures == 0 || st.ReadQuorumFailures == 0 {
		t.Fatalf("coordinator stats %+v, want quorum failures counted", st)
	}
	c.Heal()
	if err := c.Client(via).Set(ctx, k, "healed", 0).Err(); err != nil {
		t.Fatalf("SET after heal: %v", err)
	}
}

func TestReadRepairsStaleReplica(t *testing.T) {
	t.Parallel()
	// Strict: with sloppy quorum the read would go to the substitute that
	// holds v2 as a hint, and hinted handoff would repair the owner.
	c := clustertest.New(t, 4, clustertest.Options{Configure: strict})
	ctx := context.Background()
	k := "repair-me"
	owners := ownersOf(t, c, k)
	via := nonOwner(t, c, owners)
	stale := owners[2]

	if err := c.Client(via).Set(ctx, k, "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	c.Eventually("v1 on every owner", func() error {
		for _, o := range owners {
			if v, _ := localValue(t, c, o, k); v != "v1" {
				return fmt.Errorf("owner %d holds %q", o, v)
			}
		}
		return nil
	})

	c.Isolate(stale)
	if err := c.Client(via).Set(ctx, k, "v2", 0).Err(); err != nil {
		t.Fatalf("SET v2 with one owner isolated: %v", err)
	}
	c.Heal()
	if v, _ := localValue(t, c, stale, k); v != "v1" {
		t.Fatalf("isolated owner holds %q, want the stale v1", v)
	}

	if got, err := c.Client(via).Get(ctx, k).Result(); err != nil || got != "v2" {
		t.Fatalf("quorum GET = %q, %v; want v2", got, err)
	}
	// A read asks two of the three owners first, taking turns from one
	// read to the next: read again until one asked the stale owner.
	c.Eventually("the stale owner repaired by a read", func() error {
		if v, _ := localValue(t, c, stale, k); v != "v2" {
			if got, err := c.Client(via).Get(ctx, k).Result(); err != nil || got != "v2" {
				t.Fatalf("quorum GET = %q, %v; want v2", got, err)
			}
			return fmt.Errorf("stale owner holds %q", v)
		}
		// A late replier is repaired in the background, and counted
		// once its repair completed.
		if st := c.Node(via).Stats().Coordinator; st.ReadRepairsSync+st.ReadRepairsBackground == 0 {
			return fmt.Errorf("coordinator stats %+v, want a read repair", st)
		}
		return nil
	})
}

// TestNewNodesWaitForTheirSeeds: group A = {0, 1} seeds node 0; group B
// = {2, 3} seeds node 2 and node 4, which does not run yet. A founds a
// cluster; B does not found a second one while one of its seeds is
// silent (two clusters could never merge their layouts): its nodes
// refuse requests as not joined. Node 4 then starts seeding node 0: it
// joins A's cluster, B reaches a member through it, and joins too.
func TestNewNodesWaitForTheirSeeds(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 5, clustertest.Options{
		Seeds: func(i int) []int {
			switch i {
			case 2, 3:
				return []int{2, 4}
			}
			return []int{0}
		},
		Deferred: []int{0, 1, 2, 3, 4},
	})
	for i := range 4 {
		if err := c.Start(i); err != nil {
			t.Fatal(err)
		}
	}
	c.WaitMembers(2, 0, 1)
	for _, i := range []int{2, 3} {
		if c.Node(i).Layout().Bootstrapped() {
			t.Fatalf("node %d founded a cluster with a seed silent", i)
		}
		err := c.Client(i).Set(context.Background(), "early", "x", 0).Err()
		if err == nil || !strings.HasPrefix(err.Error(), "CLUSTERDOWN") {
			t.Fatalf("SET through node %d before it joined: %v", i, err)
		}
	}

	if err := c.Start(4); err != nil {
		t.Fatal(err)
	}
	c.WaitMembers(5)
	for _, i := range c.Running() {
		if got, want := c.Node(i).Layout().ClusterID, c.Node(0).Layout().ClusterID; got != want {
			t.Fatalf("node %d is in cluster %s, node 0 in %s", i, got, want)
		}
	}
	if err := c.Client(3).Set(context.Background(), "merged", "yes", 0).Err(); err != nil {
		t.Fatalf("SET after the joins: %v", err)
	}
}

func TestOutsidersCannotJoin(t *testing.T) {
	t.Parallel()
	// Node 3 has the wrong secret; node 4 claims node 0's id from its own
	// address. Neither may enter the cluster of nodes 0-2.
	c := clustertest.New(t, 5, clustertest.Options{
		Secret:   "right",
		Deferred: []int{3, 4},
		Configure: func(i int, cfg *cluster.NodeConfig) {
			switch i {
			case 3:
				cfg.Secret = "wrong"
			case 4:
				cfg.NodeID = "n0"
			}
		},
	})
	for _, i := range []int{3, 4} {
		if err := c.Start(i); err != nil {
			t.Fatal(err)
		}
	}
	c.Eventually("outsiders to fail joining", func() error {
		for _, i := range []int{3, 4} {
			if st := c.Node(i).Stats().Members; st.JoinFailures < 3 || st.JoinAttempts != st.JoinFailures {
				return fmt.Errorf("node %d membership stats %+v", i, st)
			}
		}
		var refused uint64
		for i := range 3 {
			refused += c.Node(i).Stats().Members.Refused
		}
		if refused == 0 {
			return errors.New("no member refused the duplicate id")
		}
		return nil
	})
	for i := range 3 {
		var got []string
		for _, m := range c.Node(i).Members() {
			got = append(got, fmt.Sprintf("%s@%s:%s", m.ID, m.GossipAddr, m.State))
		}
		want := []string{
			"n0@" + c.GossipAddr(0) + ":alive",
			"n1@" + c.GossipAddr(1) + ":alive",
			"n2@" + c.GossipAddr(2) + ":alive",
		}
		if !slices.Equal(got, want) {
			t.Fatalf("node %d sees %v, want %v", i, got, want)
		}
	}
	for _, i := range []int{3, 4} {
		ms := c.Node(i).Members()
		if len(ms) != 1 || ms[0].ID != c.ID(i) || ms[0].State != membership.Alive {
			t.Fatalf("outsider %d sees %+v, want only itself", i, ms)
		}
	}
}

func TestDBSizeAndFlushAll(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 4, clustertest.Options{})
	ctx := context.Background()
	pipe := c.Client(1).Pipeline()
	for i := range 300 {
		pipe.Set(ctx, key(i), "x", 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	c.Eventually("DBSIZE 300 through every node", func() error {
		for i := range c.Len() {
			if n, err := c.Client(i).DBSize(ctx).Result(); err != nil || n != 300 {
				return fmt.Errorf("node %d DBSIZE = %d, %v", i, n, err)
			}
		}
		return nil
	})
	if err := c.Client(2).FlushAll(ctx).Err(); err != nil {
		t.Fatalf("FLUSHALL: %v", err)
	}
	for i := range c.Len() {
		if n, err := c.Client(i).DBSize(ctx).Result(); err != nil || n != 0 {
			t.Fatalf("node %d DBSIZE after FLUSHALL = %d, %v", i, n, err)
		}
		if _, has := localValue(t, c, i, key(5)); has {
			t.Fatalf("node %d still holds %s after FLUSHALL", i, key(5))
		}
	}
}

func TestRestartKeepsIdentityAndData(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, clustertest.Options{})
	ctx := context.Background()
	if err := c.Client(0).Set(ctx, "durable", "yes", 0).Err(); err != nil {
		t.Fatal(err)
	}
	c.Eventually("the write on node 2", func() error {
		if v, _ := localValue(t, c, 2, "durable"); v != "yes" {
			return fmt.Errorf("node 2 holds %q", v)
		}
		return nil
	})
	before := c.Node(0).RingDigest()
	c.Stop(2)
	// A stopped node is dead, not gone: it keeps its place in the ring.
	c.Eventually("node 2 seen as dead", func() error {
		for _, i := range []int{0, 1} {
			for _, m := range c.Node(i).Members() {
				if m.ID == "n2" && m.State == membership.Left {
					t.Fatalf("node %d sees the stopped node as left", i)
				}
				if m.ID == "n2" && m.State != membership.Dead {
					return fmt.Errorf("node %d sees n2 %s", i, m.State)
				}
			}
			if got := c.Node(i).RingDigest(); got != before {
				t.Fatalf("node %d ring digest %x after a stop, before %x", i, got, before)
			}
		}
		return nil
	})
	c.Restart(2)
	if v, _ := localValue(t, c, 2, "durable"); v != "yes" {
		t.Fatalf("restarted node holds %q", v)
	}
	if got := c.Node(0).RingDigest(); got != before {
		t.Fatalf("ring digest after restart %x, before %x", got, before)
	}
	if got, err := c.Client(2).Get(ctx, "durable").Result(); err != nil || got != "yes" {
		t.Fatalf("GET through restarted node = %q, %v", got, err)
	}
	// Node 0's client of the node reconnects; writes reach the restarted
	// node.
	if err := c.Client(0).Set(ctx, "after", "restart", 0).Err(); err != nil {
		t.Fatal(err)
	}
	c.Eventually("the new write on the restarted node", func() error {
		if v, _ := localValue(t, c, 2, "after"); v != "restart" {
			return fmt.Errorf("node 2 holds %q", v)
		}
		return nil
	})
}

func TestDropAndDelayFaults(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, clustertest.Options{})
	ctx := context.Background()
	conn := c.Client(0).Conn()
	defer conn.Close()
	// Every write must reach all three replicas on this connection.
	if err := conn.Do(ctx, "RINGCACHE", "CONSISTENCY", "ONE", "ALL").Err(); err != nil {
		t.Fatalf("RINGCACHE CONSISTENCY: %v", err)
	}
	c.Delay(2, 50*time.Millisecond)
	if err := conn.Set(ctx, "k", "delayed", 0).Err(); err != nil {
		t.Fatalf("SET with a delayed replica: %v", err)
	}
	c.Drop(2, true)
	start := time.Now()
	err := conn.Set(ctx, "k", "dropped", 0).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "NOQUORUM") {
		t.Fatalf("SET ALL with a dropped replica = %v, want NOQUORUM", err)
	}
	if waited := time.Since(start); waited < 400*time.Millisecond {
		t.Fatalf("NOQUORUM after %v: the dropped call did not hang until the timeout", waited)
	}
	c.Heal()
	if err := conn.Set(ctx, "k", "healed", 0).Err(); err != nil {
		t.Fatalf("SET after heal: %v", err)
	}
	if v, _ := localValue(t, c, 2, "k"); v != "healed" {
		t.Fatalf("node 2 holds %q after an ALL write", v)
	}
}

// TestReadsAvoidAReplicaThatStoppedAnswering: once one read had to
// speculate past a replica that accepts requests and never answers, the
// next reads ask the other replicas first instead of waiting for it too.
func TestReadsAvoidAReplicaThatStoppedAnswering(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, clustertest.Options{Configure: strict})
	ctx := context.Background()
	const keys = 30
	for i := range keys {
		if err := c.Client(0).Set(ctx, fmt.Sprint("lag-", i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.Drop(2, true)
	defer c.Drop(2, false)
	for i := range keys {
		if v, err := c.Client(0).Get(ctx, fmt.Sprint("lag-", i)).Result(); err != nil || v != "v" {
			t.Fatalf("GET lag-%d with node 2 silent: %q %v", i, v, err)
		}
	}
	// Every other read would name node 2 first if nothing noticed it
	// lagging; a few may, before its first request is old enough to tell.
	if n := c.Node(0).Stats().Coordinator.ReadSpeculations; n > 3 {
		t.Fatalf("%d of %d reads waited for the silent replica, want at most 3", n, keys)
	}
}
