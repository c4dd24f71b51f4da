package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ringcache/ringcache/bench/await"
	"github.com/ringcache/ringcache/bench/loopback"
	"github.com/ringcache/ringcache/cluster/coordinator"
	"github.com/ringcache/ringcache/cluster/layout"
	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/server"
	"github.com/ringcache/ringcache/server/store"
)

// fastGossip shortens the gossip intervals for tests on loopback.
func fastGossip(cfg *NodeConfig) {
	m := &cfg.Membership
	m.RejoinInterval, m.JoinBackoffMin, m.JoinBackoffMax = 200*time.Millisecond, 20*time.Millisecond, 200*time.Millisecond
	m.ProbeInterval, m.ProbeTimeout = 100*time.Millisecond, 50*time.Millisecond
	m.SuspicionMult, m.SuspicionMaxTimeoutMult = 3, 2
	m.GossipInterval, m.PushPullInterval = 20*time.Millisecond, 500*time.Millisecond
	m.GossipToTheDeadTime, m.DeadNodeReclaimTime = 2*time.Second, 200*time.Millisecond
	m.TCPTimeout, m.LeaveTimeout = time.Second, 300*time.Millisecond
}

// pairNode starts node id on eng, seeded with seeds.
func pairNode(t *testing.T, id string, eng *engine.Engine, gossip string, seeds ...string) *Node {
	t.Helper()
	cfg := testNodeConfig(t)
	cfg.NodeID, cfg.Engine, cfg.Seeds = id, eng, seeds
	cfg.ClientAddr = "127.0.0.1:6" + id[1:]
	if gossip != "" {
		cfg.GossipListen = gossip
	}
	fastGossip(&cfg)
	n, err := StartNode(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// states summarises a node's members as "id:state".
func states(n *Node) string {
	var parts []string
	for _, m := range n.Members() {
		parts = append(parts, m.ID+":"+m.State.String())
	}
	return strings.Join(parts, ",")
}

// freeAddr returns a loopback address a restarted node can bind again.
func freeAddr(t *testing.T) string {
	t.Helper()
	a, err := loopback.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func waitUntil(t *testing.T, what string, cond func() error) {
	t.Helper()
	await.T(t, 10*time.Second, what, cond)
}

// TestRestartStartsWithPersistedRing: a node that stops is seen dead, not
// left, and keeps its place in the ring; restarted without any seed, it
// starts with the ring it persisted (same digest before gossip reports
// anything) and finds the cluster through the members it knew. A node
// whose other members are all down is isolated: it refuses requests
// with a NOQUORUM that says so, and INFO tells.
func TestRestartStartsWithPersistedRing(t *testing.T) {
	engA, engB := memEngine(t), memEngine(t)
	a := pairNode(t, "n1", engA, "")
	b := pairNode(t, "n2", engB, freeAddr(t), a.GossipAddr())
	waitUntil(t, "both alive on both", func() error {
		for _, n := range []*Node{a, b} {
			if got := states(n); got != "n1:alive,n2:alive" {
				return fmt.Errorf("%s sees %s", n.ID(), got)
			}
		}
		return nil
	})
	waitJoined(t, a, b)
	digest := a.RingDigest()
	if b.RingDigest() != digest || b.Isolated() || a.Isolated() {
		t.Fatalf("digests %x and %x, isolated %v %v", digest, b.RingDigest(), a.Isolated(), b.Isolated())
	}
	gossipB := b.GossipAddr()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "n2 dead on n1", func() error {
		if got := states(a); got != "n1:alive,n2:dead" {
			return fmt.Errorf("n1 sees %s", got)
		}
		return nil
	})
	if a.RingDigest() != digest {
		t.Fatal("a stop changed the ring")
	}
	// A cluster of two with one member down: n1 reaches nobody.
	waitUntil(t, "n1 isolated", func() error {
		if !a.Isolated() {
			return errors.New("not isolated")
		}
		return nil
	})
	err := a.Put(context.Background(), []store.Mutation{{Key: []byte("k"), Value: []byte("v")}})
	var re interface{ RESPError() string }
	if !errors.Is(err, ErrIsolated) || !errors.As(err, &re) || !strings.HasPrefix(re.RESPError(), "NOQUORUM this node reaches no other cluster member") {
		t.Fatalf("Put on an isolated node = %v", err)
	}
	if _, err := a.Get(context.Background(), [][]byte{[]byte("k")}); !errors.Is(err, coordinator.ErrNoQuorum) {
		t.Fatalf("Get on an isolated node = %v", err)
	}
	info := infoText(a.InfoSections())
	for _, want := range []string{"cluster_state:isolated", "cluster_reachable_members:0", "ringcache_members:2", "cluster_isolated_refusals:2"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO lacks %q:\n%s", want, info)
		}
	}

	// n2 comes back with no seed at all: its persisted members are enough.
	b = pairNode(t, "n2", engB, gossipB)
	if got := b.RingDigest(); got != digest {
		t.Fatalf("restarted node's first ring digest %x, want %x", got, digest)
	}
	waitUntil(t, "both alive on both again", func() error {
		for _, n := range []*Node{a, b} {
			if got := states(n); got != "n1:alive,n2:alive" {
				return fmt.Errorf("%s sees %s", n.ID(), got)
			}
			if n.Isolated() {
				return fmt.Errorf("%s still isolated", n.ID())
			}
		}
		return nil
	})
	if !strings.Contains(infoText(a.InfoSections()), "cluster_state:ok") {
		t.Fatal("INFO does not say ok once n2 is back")
	}
}

// TestNewNodeWithSilentSeedIsIsolated: a node that never reached its seed
// does not serve as a cluster of one: it has joined no cluster.
func TestNewNodeWithSilentSeedIsIsolated(t *testing.T) {
	n := pairNode(t, "n3", memEngine(t), "", "127.0.0.1:1")
	if !n.Isolated() {
		t.Fatal("a node whose seed does not answer is not isolated")
	}
	err := n.Put(context.Background(), []store.Mutation{{Key: []byte("k"), Value: []byte("v")}})
	var re interface{ RESPError() string }
	if !errors.Is(err, ErrNotJoined) || !errors.As(err, &re) || !strings.HasPrefix(re.RESPError(), "CLUSTERDOWN this node has not joined a cluster") {
		t.Fatalf("Put = %v", err)
	}
	// DBSIZE, INFO's counts and FLUSHALL too (they ask every member, and
	// a node outside a cluster has none to ask).
	_, lenErr := n.Len(context.Background())
	_, countErr := n.DBCounts(context.Background())
	flushErr := n.Flush(context.Background())
	for name, err := range map[string]error{"Len": lenErr, "DBCounts": countErr, "Flush": flushErr} {
		if !errors.Is(err, ErrNotJoined) || !errors.As(err, &re) || !strings.HasPrefix(re.RESPError(), "CLUSTERDOWN this node has not joined a cluster") {
			t.Errorf("%s = %v", name, err)
		}
	}
}

// TestLeaveDropsFromRing: Leave is the one way out of the ring.
func TestLeaveDropsFromRing(t *testing.T) {
	a := pairNode(t, "n1", memEngine(t), "")
	b := pairNode(t, "n2", memEngine(t), "", a.GossipAddr())
	waitJoined(t, a, b)
	if err := b.Leave(context.Background()); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close after Leave: %v", err)
	}
	waitUntil(t, "n2 left", func() error {
		if got := states(a); got != "n1:alive,n2:left" {
			return fmt.Errorf("n1 sees %s", got)
		}
		if got := a.Owners([]byte("k")); len(got) != 1 {
			return fmt.Errorf("owners %v", got)
		}
		return nil
	})
	// The first node of the cluster, alone again, is not isolated: the
	// member that left is no one to reach.
	if a.Isolated() {
		t.Fatal("n1 isolated after the only other member left")
	}
	var left int
	for _, m := range a.Members() {
		if m.State == membership.Left {
			left++
		}
	}
	if left != 1 {
		t.Fatalf("members %s", states(a))
	}
}

// TestFailedLeaveSaysNoGoodbye: a Leave the layout never carried out
// (here its context ends before the proposal) stops the node without a
// goodbye: the other member sees it dead, not left, and keeps its place
// in the ring.
func TestFailedLeaveSaysNoGoodbye(t *testing.T) {
	a := pairNode(t, "n1", memEngine(t), "")
	b := pairNode(t, "n2", memEngine(t), "", a.GossipAddr())
	waitJoined(t, a, b)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Leave(ctx); err == nil {
		t.Fatal("Leave with a context already ended succeeded")
	}
	waitUntil(t, "n2 dead", func() error {
		if got := states(a); got != "n1:alive,n2:dead" {
			return fmt.Errorf("n1 sees %s", got)
		}
		return nil
	})
	if got := a.Owners([]byte("k")); len(got) != 2 {
		t.Fatalf("owners once n2 stopped: %v", got)
	}
	if m, ok := a.lay.current().Member("n2"); !ok || m.State != layout.Normal {
		t.Fatalf("n1's layout has n2 %v (listed %v)", m.State, ok)
	}
}

// TestKeysEstimateNeverWaits: INFO's key count comes from a cache
// refreshed in the background, and an idle node's first read of it is
// no older than KeyCountMaxAge.
func TestKeysEstimateNeverWaits(t *testing.T) {
	cfg := testNodeConfig(t)
	cfg.Coordinator.N, cfg.Coordinator.R, cfg.Coordinator.W = 1, 1, 1 // a cluster of one
	cfg.KeyCountMaxAge = 10 * time.Millisecond
	n, err := StartNode(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	muts := []store.Mutation{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")}}
	if err := n.Put(context.Background(), muts); err != nil {
		t.Fatal(err)
	}
	est, ok := any(n).(server.KeyEstimator)
	if !ok {
		t.Fatal("Store is not a KeyEstimator")
	}
	waitUntil(t, "the estimate to count both keys", func() error {
		if dbs := est.DBEstimates(); len(dbs) == 0 || dbs[0].Keys != 2 {
			return fmt.Errorf("estimate %v", dbs)
		}
		return nil
	})
	// More keys, and no read for a while: the first read counts them.
	if err := n.Put(context.Background(), []store.Mutation{{Key: []byte("c"), Value: []byte("3")}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * cfg.KeyCountMaxAge)
	if dbs := est.DBEstimates(); len(dbs) == 0 || dbs[0].Keys != 3 {
		t.Fatalf("first read of an idle node's estimate %v, want 3 keys", dbs)
	}
}
