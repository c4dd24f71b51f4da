package clustertest_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringcache/ringcache/bench/await"
	"github.com/ringcache/ringcache/cluster"
	"github.com/ringcache/ringcache/cluster/clustertest"
	"github.com/ringcache/ringcache/cluster/membership"
)

// memberState returns node i's view of member id's state ("" if unknown).
func memberState(c *clustertest.Cluster, i int, id string) string {
	for _, m := range c.Node(i).Members() {
		if m.ID == id {
			return m.State.String()
		}
	}
	return ""
}

// sameDigest fails the test unless every running node's ring digest is
// want.
func sameDigest(t *testing.T, c *clustertest.Cluster, want uint64, when string) {
	t.Helper()
	for _, i := range c.Running() {
		if got := c.Node(i).RingDigest(); got != want {
			t.Fatalf("%s: node %d ring digest %x, want %x", when, i, got, want)
		}
	}
}

// infoField returns field's value in node i's INFO cluster section.
func infoField(t *testing.T, c *clustertest.Cluster, i int, field string) string {
	t.Helper()
	return infoSectionField(t, c, i, "cluster", field)
}

// infoSectionField returns field's value in node i's INFO section.
func infoSectionField(t *testing.T, c *clustertest.Cluster, i int, section, field string) string {
	t.Helper()
	info, err := c.Client(i).Info(context.Background(), section).Result()
	if err != nil {
		t.Fatalf("INFO cluster on node %d: %v", i, err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	t.Fatalf("node %d INFO has no %s:\n%s", i, field, info)
	return ""
}

// nodesState returns the state RINGCACHE NODES on node i gives member id.
func nodesState(t *testing.T, c *clustertest.Cluster, i int, id string) string {
	t.Helper()
	res, err := c.Client(i).Do(context.Background(), "RINGCACHE", "NODES").Slice()
	if err != nil {
		t.Fatalf("RINGCACHE NODES on node %d: %v", i, err)
	}
	for _, r := range res {
		if f, ok := r.([]any); ok && len(f) >= 3 && f[0] == id {
			return fmt.Sprint(f[2])
		}
	}
	return ""
}

// TestStoppedNodeKeepsItsPlace: stopping a node (SIGTERM's path) is not
// leaving. Every node keeps the same ring while it is down, it shows as
// dead (never left), and once restarted it has that ring from its very
// first moment. Node 0 is every node's seed and seeds only itself: after
// its restart it finds the others through the members it persisted.
func TestStoppedNodeKeepsItsPlace(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 5, clustertest.Options{})
	digest := c.Node(0).RingDigest()
	sameDigest(t, c, digest, "at start")
	for _, victim := range []int{3, 0} {
		id := c.ID(victim)
		c.Stop(victim)
		c.Eventually(id+" seen dead by every other node", func() error {
			sameDigest(t, c, digest, id+" down")
			for _, i := range c.Running() {
				switch st := memberState(c, i, id); st {
				case "left", "":
					t.Fatalf("node %d sees the stopped %s as %q", i, id, st)
				case "dead":
				default:
					return fmt.Errorf("node %d sees %s %s", i, id, st)
				}
			}
			return nil
		})
		for _, i := range c.Running() {
			if st := nodesState(t, c, i, id); st != "dead" {
				t.Fatalf("RINGCACHE NODES on node %d gives the stopped %s as %q", i, id, st)
			}
		}
		if err := c.Start(victim); err != nil {
			t.Fatalf("restart node %d: %v", victim, err)
		}
		if got := c.Node(victim).RingDigest(); got != digest {
			t.Fatalf("restarted node %d starts with ring digest %x, want %x", victim, got, digest)
		}
		if got := infoField(t, c, victim, "cluster_ring_digest"); got != fmt.Sprintf("%x", digest) {
			t.Fatalf("restarted node %d's first INFO digest %s, want %x", victim, got, digest)
		}
		c.WaitMembers(5)
		sameDigest(t, c, digest, id+" back")
	}
	if err := c.Client(0).Set(context.Background(), "after", "restarts", 0).Err(); err != nil {
		t.Fatalf("SET after the restarts: %v", err)
	}
}

// TestLeaveIsTheWayOut: Leave takes a node out of every ring.
func TestLeaveIsTheWayOut(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 4, clustertest.Options{})
	before := c.Node(0).RingDigest()
	c.Leave(3)
	c.Eventually("n3 left and out of the ring", func() error {
		for _, i := range c.Running() {
			if st := memberState(c, i, "n3"); st != "left" {
				return fmt.Errorf("node %d sees n3 %s", i, st)
			}
			if slices.Contains(c.Node(i).Owners([]byte("k")), "n3") || c.Node(i).RingDigest() == before {
				return fmt.Errorf("node %d still places keys on n3", i)
			}
		}
		return nil
	})
	c.WaitMembers(3)
}

// TestIsolatedNodeRefusesRequests: a node cut off from every other
// member's gossip says so in INFO and refuses requests with a NOQUORUM
// that says why, without changing its ring; a whole-cluster restart
// behaves the same until a second node is up.
func TestIsolatedNodeRefusesRequests(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 4, clustertest.Options{})
	ctx := context.Background()
	digest := c.Node(0).RingDigest()
	if got := infoField(t, c, 2, "cluster_state"); got != "ok" {
		t.Fatalf("cluster_state %q before the cut", got)
	}
	c.IsolateGossip(2, true)
	// Its own probes get no answer, so memberlist's awareness stretches
	// its probe interval: it may take longer than the harness's wait to
	// declare the last member dead (TestGossipRecoveryTimes).
	await.T(t, time.Minute, "node 2 isolated", func() error {
		if !c.Node(2).Isolated() {
			return fmt.Errorf("node 2 sees %v", c.Node(2).Members())
		}
		return nil
	})
	err := c.Client(2).Set(ctx, "k", "v", 0).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "NOQUORUM this node reaches no other cluster member") {
		t.Fatalf("SET through the isolated node = %v", err)
	}
	if err := c.Client(2).Get(ctx, "k").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOQUORUM") {
		t.Fatalf("GET through the isolated node = %v", err)
	}
	if got := infoField(t, c, 2, "cluster_state"); got != "isolated" {
		t.Fatalf("isolated node's cluster_state %q", got)
	}
	if got := infoField(t, c, 2, "cluster_reachable_members"); got != "0" {
		t.Fatalf("isolated node's cluster_reachable_members %q", got)
	}
	sameDigest(t, c, digest, "node 2 cut off")
	c.Heal()
	c.WaitMembers(4)
	if got := infoField(t, c, 2, "cluster_state"); got != "ok" {
		t.Fatalf("cluster_state %q once healed", got)
	}
	// Once healed the node never refuses as isolated; a write may still
	// miss the 500ms timeout on a loaded machine, so it is retried.
	c.Eventually("a SET through node 2 once healed", func() error {
		err := c.Client(2).Set(ctx, "k", "v", 0).Err()
		if err != nil && strings.Contains(err.Error(), "reaches no other cluster member") {
			t.Fatalf("SET once healed refused as isolated: %v", err)
		}
		return err
	})

	// The whole cluster stops; the first node back knows the ring but
	// reaches nobody.
	for i := range c.Len() {
		c.Stop(i)
	}
	if err := c.Start(3); err != nil {
		t.Fatal(err)
	}
	if !c.Node(3).Isolated() || c.Node(3).RingDigest() != digest {
		t.Fatalf("first node back: isolated %v, digest %x want %x", c.Node(3).Isolated(), c.Node(3).RingDigest(), digest)
	}
	if err := c.Client(3).Set(ctx, "k", "v", 0).Err(); err == nil || !strings.Contains(err.Error(), "0 of 3 reachable") {
		t.Fatalf("SET through the first node back = %v", err)
	}
	for _, i := range []int{0, 1, 2} {
		if err := c.Start(i); err != nil {
			t.Fatal(err)
		}
	}
	c.WaitMembers(4)
	sameDigest(t, c, digest, "after a whole-cluster restart")
	if got := infoField(t, c, 3, "cluster_state"); got != "ok" {
		t.Fatalf("cluster_state %q after the restart", got)
	}
}

// TestGossipRecoveryTimes measures, with the production gossip settings,
// how long every member takes to see a node alive again after it
// restarted (declared dead first, or restarted at once), and after its
// gossip was cut one way or both ways and healed; and how long failure
// detection takes. Every figure is logged; each must stay within the
// harness's wait (10s).
func TestGossipRecoveryTimes(t *testing.T) {
	t.Parallel()
	def := cluster.DefaultNodeConfig().Membership
	c := clustertest.New(t, 5, clustertest.Options{
		Wait: 10 * time.Second,
		Configure: func(_ int, cfg *cluster.NodeConfig) {
			vnodes := cfg.Membership.VNodes
			cfg.Membership = def
			cfg.Membership.VNodes = vnodes
		},
	})
	const victim = 2
	id := c.ID(victim)
	seenBy := func(want string, who []int) func() error {
		return func() error {
			for _, i := range who {
				if st := memberState(c, i, id); st != want {
					return fmt.Errorf("node %d sees %s %s", i, id, st)
				}
			}
			return nil
		}
	}
	others := []int{0, 1, 3, 4}
	allAlive := func() error {
		for _, i := range c.Running() {
			for _, m := range c.Node(i).Members() {
				if m.State != membership.Alive {
					return fmt.Errorf("node %d sees %s %s", i, m.ID, m.State)
				}
			}
		}
		return nil
	}
	timed := func(what string, cond func() error) time.Duration {
		start := time.Now()
		c.Eventually(what, cond)
		d := time.Since(start)
		t.Logf("%s: %v", what, d.Round(10*time.Millisecond))
		return d
	}

	c.Stop(victim)
	timed("stopped node declared dead by every member", seenBy("dead", others))
	if err := c.Start(victim); err != nil {
		t.Fatal(err)
	}
	timed("restarted node (after it was declared dead) seen alive by every member", allAlive)

	c.Stop(victim)
	if err := c.Start(victim); err != nil {
		t.Fatal(err)
	}
	timed("node restarted at once seen alive by every member", allAlive)

	for _, cut := range []struct {
		name string
		from []int
		to   []int
	}{
		{"its outgoing gossip cut", []int{victim}, others},
		{"its incoming gossip cut", others, []int{victim}},
		{"its gossip cut both ways", []int{victim}, nil},
	} {
		c.CutGossip(cut.from, cut.to)
		if cut.to == nil {
			c.IsolateGossip(victim, true)
		}
		timed("node with "+cut.name+" declared dead by every member", seenBy("dead", others))
		if cut.to != nil {
			c.Heal()
			timed("node with "+cut.name+" seen alive by every member after the heal", allAlive)
			continue
		}
		// Cut both ways, it declares every other member dead too (slower
		// when its own probes get no answer: memberlist's awareness
		// stretches its probe interval): the worst state to recover from.
		start := time.Now()
		if err := await.Until(time.Minute, func() error {
			if !c.Node(victim).Isolated() {
				return fmt.Errorf("%s sees %v", id, c.Node(victim).Members())
			}
			return nil
		}); err != nil {
			t.Fatalf("node with %s never saw itself isolated: %v", cut.name, err)
		}
		t.Logf("node with %s sees itself isolated after another %v", cut.name, time.Since(start).Round(10*time.Millisecond))
		c.Heal()
		timed("node with "+cut.name+" seen alive by every member after the heal", allAlive)
	}
}

// TestInfoDoesNotWaitForPeers: INFO, RINGCACHE NODES and RINGCACHE HINTS
// answer from what the node holds, so a peer that accepts requests and
// never answers (paused) or is cut off does not slow them down.
func TestInfoDoesNotWaitForPeers(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 4, clustertest.Options{Timeout: 3 * time.Second})
	ctx := context.Background()
	if err := c.Client(0).Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	measure := func(what string) {
		t.Helper()
		for _, cmd := range [][]any{{"INFO"}, {"RINGCACHE", "NODES"}, {"RINGCACHE", "HINTS"}} {
			var worst time.Duration
			for range 5 {
				start := time.Now()
				if err := c.Client(0).Do(ctx, cmd...).Err(); err != nil {
					t.Fatalf("%v with %s: %v", cmd, what, err)
				}
				worst = max(worst, time.Since(start))
			}
			t.Logf("%v with %s: slowest of 5 took %v", cmd, what, worst)
			// The request timeout is 3s: a command that asked the silent
			// peer would wait for it.
			if worst > time.Second {
				t.Fatalf("%v with %s took %v: it waited for the peer", cmd, what, worst)
			}
		}
	}
	c.Drop(2, true)
	measure("a silent peer")
	c.Heal()
	c.Isolate(2)
	c.IsolateGossip(2, false)
	measure("a peer cut off")
	c.Heal()
	c.WaitMembers(4)
	c.Eventually("INFO's key count", func() error {
		info, err := c.Client(0).Info(ctx, "keyspace").Result()
		if err != nil || !strings.Contains(info, "db0:keys=1,") {
			return fmt.Errorf("INFO keyspace %q, %v", info, err)
		}
		return nil
	})
}
