package membership

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// deadline bounds every wait for gossip to converge; with the intervals of
// testConfig, convergence takes well under a second.
const deadline = 10 * time.Second

// startCluster starts n nodes n1..nn, each seeded with n1.
func startCluster(t *testing.T, prefix string, n int, edit func(*Config)) []*node {
	t.Helper()
	var nodes []*node
	var ids []string
	for i := 1; i <= n; i++ {
		cfg := testConfig(fmt.Sprintf("%s%d", prefix, i))
		if i > 1 {
			cfg.Seeds = []string{nodes[0].addr()}
		}
		if edit != nil {
			edit(&cfg)
		}
		nodes = append(nodes, startNode(t, cfg))
		ids = append(ids, cfg.NodeID)
	}
	waitFor(t, deadline, seesAlive(nodes, ids...))
	return nodes
}

func TestJoinAndMetadata(t *testing.T) {
	nodes := startCluster(t, "n", 3, func(c *Config) {
		c.ClientAddr = "127.0.0.1:6" + c.NodeID[1:]
		c.ClusterAddr = "127.0.0.1:7" + c.NodeID[1:]
		c.VNodes = 10 + int(c.NodeID[1]-'0')
	})
	for _, n := range nodes {
		ms := n.Members()
		if len(ms) != 3 {
			t.Fatalf("%s: %d members", n.cfg.NodeID, len(ms))
		}
		for i, m := range ms {
			id := fmt.Sprintf("n%d", i+1) // sorted by id
			want := Member{
				ID:          id,
				GossipAddr:  nodes[i].addr(),
				ClientAddr:  "127.0.0.1:6" + id[1:],
				ClusterAddr: "127.0.0.1:7" + id[1:],
				VNodes:      10 + i + 1,
				NodeState:   NodeNormal,
				State:       Alive,
			}
			if m != want {
				t.Fatalf("%s sees %+v, want %+v", n.cfg.NodeID, m, want)
			}
		}
		if self := n.LocalNode(); self.ID != n.cfg.NodeID || !strings.HasPrefix(self.GossipAddr, "127.0.0.1:") || strings.HasSuffix(self.GossipAddr, ":0") {
			t.Fatalf("LocalNode = %+v", self)
		}
		if st := n.Stats(); st.Alive != 3 || st.Suspect+st.Dead+st.Left != 0 {
			t.Fatalf("%s stats %+v", n.cfg.NodeID, st)
		}
	}
	// OnChange delivered the full list to everyone.
	waitFor(t, deadline, func() string {
		for _, n := range nodes {
			calls, last, overlap := n.changes.snapshot()
			if overlap {
				return "OnChange calls overlapped"
			}
			if calls == 0 || view(last) != "n1:alive,n2:alive,n3:alive" {
				return fmt.Sprintf("%s: %d calls, last %s", n.cfg.NodeID, calls, view(last))
			}
		}
		return ""
	})
}

func TestNodeStateUpdateSpreads(t *testing.T) {
	nodes := startCluster(t, "s", 2, nil)
	if err := nodes[1].SetNodeState(NodeJoining); err != nil {
		t.Fatal(err)
	}
	waitFor(t, deadline, func() string {
		for _, n := range nodes {
			for _, m := range n.Members() {
				if m.ID == "s2" && m.NodeState != NodeJoining {
					return fmt.Sprintf("%s sees s2 as %q", n.cfg.NodeID, m.NodeState)
				}
			}
		}
		return ""
	})
	if err := nodes[1].Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := nodes[1].SetNodeState(NodeNormal); err != ErrClosed {
		t.Fatalf("SetNodeState after Close = %v, want ErrClosed", err)
	}
}

func TestLeaveIsLeft(t *testing.T) {
	nodes := startCluster(t, "l", 3, nil)
	if err := nodes[2].Leave(context.Background()); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if err := nodes[2].Close(); err != nil {
		t.Fatalf("Close after Leave: %v", err)
	}
	waitFor(t, deadline, func() string {
		for _, n := range nodes[:2] {
			if got := view(n.Members()); got != "l1:alive,l2:alive,l3:left" {
				return fmt.Sprintf("%s sees %s", n.cfg.NodeID, got)
			}
		}
		return ""
	})
}

// TestMissedGoodbyeSpreads: a member that left, seen left by one node
// and dead by another (its goodbye missed that one), ends left on both:
// the one that saw it leave says so in the periodic full-state exchange.
// A stop that was not a leave stays dead on both.
func TestMissedGoodbyeSpreads(t *testing.T) {
	nodes := startCluster(t, "g", 4, nil)
	boot3 := nodes[2].boot
	for _, n := range nodes[2:] {
		if err := n.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	waitFor(t, deadline, func() string {
		for _, n := range nodes[:2] {
			if got := view(n.Members()); got != "g1:alive,g2:alive,g3:dead,g4:dead" {
				return fmt.Sprintf("%s sees %s", n.cfg.NodeID, got)
			}
		}
		return ""
	})
	// g2 takes in g3's goodbye, as if its NodeLeaving update had reached
	// g2 alone; g4 stopped without one.
	md := nodes[2].localMeta()
	md.NodeState = NodeLeaving
	raw, err := encodeMeta(md)
	if err != nil {
		t.Fatal(err)
	}
	nodes[1].reg.gone("g3", raw)
	waitFor(t, deadline, func() string {
		if got := view(nodes[0].Members()); got != "g1:alive,g2:alive,g3:left,g4:dead" {
			return "g1 sees " + got
		}
		return ""
	})
	m, _ := nodes[0].reg.get("g3")
	nodes[0].reg.mu.Lock()
	boot := nodes[0].reg.mu.boots["g3"]
	nodes[0].reg.mu.Unlock()
	if m.NodeState != NodeLeaving || boot != boot3 {
		t.Fatalf("g1 holds g3 as %+v of run %d, want the leaving run %d", m, boot, boot3)
	}
}

// TestCloseIsNotLeave: a node that stops (Close, as on SIGTERM) is seen
// dead, never left, and alive again once it is back.
func TestCloseIsNotLeave(t *testing.T) {
	nodes := startCluster(t, "c", 3, nil)
	addr := nodes[2].addr()
	if err := nodes[2].Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := nodes[2].Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	waitFor(t, deadline, func() string {
		for _, n := range nodes[:2] {
			got := view(n.Members())
			if strings.Contains(got, "c3:left") {
				t.Fatalf("%s sees a stopped node as left: %s", n.cfg.NodeID, got)
			}
			if got != "c1:alive,c2:alive,c3:dead" {
				return fmt.Sprintf("%s sees %s", n.cfg.NodeID, got)
			}
		}
		return ""
	})
	cfg := testConfig("c3")
	cfg.GossipAddr = addr
	cfg.Seeds = []string{nodes[0].addr()}
	back := startNode(t, cfg)
	waitFor(t, deadline, seesAlive([]*node{nodes[0], nodes[1], back}, "c1", "c2", "c3"))
}

func TestFailureDetection(t *testing.T) {
	nodes := startCluster(t, "f", 3, nil)
	calls0, _, _ := nodes[0].changes.snapshot()
	nodes[2].crash()

	// The survivors first see f3 not alive (Suspect or already Dead), and
	// OnChange tells them.
	waitFor(t, deadline, func() string {
		for _, n := range nodes[:2] {
			for _, m := range n.Members() {
				if m.ID == "f3" && m.State == Alive {
					return fmt.Sprintf("%s still sees f3 alive", n.cfg.NodeID)
				}
			}
		}
		calls, last, _ := nodes[0].changes.snapshot()
		if calls == calls0 || !strings.Contains(view(last), "f3:suspect") && !strings.Contains(view(last), "f3:dead") {
			return fmt.Sprintf("OnChange: %d calls, last %s", calls, view(last))
		}
		return ""
	})
	// Then the suspicion times out and f3 is declared dead.
	waitFor(t, deadline, func() string {
		for _, n := range nodes[:2] {
			if got := view(n.Members()); got != "f1:alive,f2:alive,f3:dead" {
				return fmt.Sprintf("%s sees %s", n.cfg.NodeID, got)
			}
			if st := n.Stats(); st.Dead != 1 || st.Alive != 2 {
				return fmt.Sprintf("%s stats %+v", n.cfg.NodeID, st)
			}
		}
		_, last, overlap := nodes[0].changes.snapshot()
		if overlap {
			return "OnChange calls overlapped"
		}
		if view(last) != "f1:alive,f2:alive,f3:dead" {
			return "OnChange last delivered " + view(last)
		}
		return ""
	})
}

// TestSuspectSeen checks that a member this node fails to probe shows up
// as Suspect before it is declared dead. The suspicion timeout is long
// here so the Suspect state lasts; it depends on the memberlist log line
// that logWriter watches for.
func TestSuspectSeen(t *testing.T) {
	nodes := startCluster(t, "u", 2, func(c *Config) { c.SuspicionMult = 100 })
	nodes[1].crash()
	waitFor(t, deadline, func() string {
		if got := view(nodes[0].Members()); got != "u1:alive,u2:suspect" {
			return "u1 sees " + got
		}
		if st := nodes[0].Stats(); st.Suspect != 1 {
			return fmt.Sprintf("stats %+v", st)
		}
		return ""
	})
}

// TestRejoinAfterRestart: a node that crashed and restarts on its
// address rejoins, and its join reports that the member it reached had
// counted it down; its first join, into a cluster that never knew it,
// reported not.
func TestRejoinAfterRestart(t *testing.T) {
	var joins joinLog
	nodes := startCluster(t, "r", 2, func(c *Config) {
		if c.NodeID == "r2" {
			c.OnJoin = joins.add
		}
	})
	if got := joins.get(); len(got) == 0 || got[0] {
		t.Fatalf("r2's joins into a new cluster reported counted down: %v, want [false ...]", got)
	}
	addr := nodes[1].addr()
	nodes[1].crash()
	waitFor(t, deadline, func() string {
		if got := view(nodes[0].Members()); got != "r1:alive,r2:dead" {
			return "r1 sees " + got
		}
		return ""
	})
	// r2 restarts on the same address. r1 has no seeds, so it is r2's
	// own join that brings it back.
	var rejoins joinLog
	cfg := testConfig("r2")
	cfg.GossipAddr = addr
	cfg.Seeds = []string{nodes[0].addr()}
	cfg.OnJoin = rejoins.add
	back := startNode(t, cfg)
	waitFor(t, deadline, seesAlive([]*node{nodes[0], back}, "r1", "r2"))
	if got := rejoins.get(); len(got) == 0 || !got[0] {
		t.Fatalf("the restarted r2's joins reported counted down: %v, want [true ...]", got)
	}
}

// TestRestartedPeerCountsUsDownFromItsList: a member that restarted while
// this one was down knows it only from its saved list (dead), not in its
// gossip list; a join into it by a restarted node reports counted down,
// while a fresh node's join into a new cluster does not.
func TestRestartedPeerCountsUsDownFromItsList(t *testing.T) {
	var fresh joinLog
	nodes := startCluster(t, "p", 2, func(c *Config) {
		if c.NodeID == "p2" {
			c.OnJoin = fresh.add
		}
	})
	if got := fresh.get(); len(got) == 0 || got[0] {
		t.Fatalf("a fresh node's joins reported counted down: %v", got)
	}
	a1, a2 := nodes[0].addr(), nodes[1].addr()
	nodes[1].crash()
	nodes[0].crash()
	// p1 restarts knowing p2 from its saved list; p2 restarts knowing p1.
	cfg1 := testConfig("p1")
	cfg1.GossipAddr = a1
	cfg1.Known = []Member{{ID: "p2", GossipAddr: a2, State: Dead}}
	back1 := startNode(t, cfg1)
	var rejoins joinLog
	cfg2 := testConfig("p2")
	cfg2.GossipAddr = a2
	cfg2.Seeds = []string{a1}
	cfg2.Known = []Member{{ID: "p1", GossipAddr: a1, State: Alive}}
	cfg2.OnJoin = rejoins.add
	back2 := startNode(t, cfg2)
	waitFor(t, deadline, seesAlive([]*node{back1, back2}, "p1", "p2"))
	if got := rejoins.get(); len(got) == 0 || !got[0] {
		t.Fatalf("the restarted p2's joins into p1, which knew it only from its list, reported %v, want [true ...]", got)
	}
}

// joinLog records Config.OnJoin calls.
type joinLog struct {
	mu    sync.Mutex
	downs []bool
}

func (l *joinLog) add(down bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.downs = append(l.downs, down)
}

func (l *joinLog) get() []bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.downs)
}

func TestJoinRetriesUntilSeedAppears(t *testing.T) {
	// Reserve an address for the seed, then start the joiner before it.
	seedCfg := testConfig("seed")
	probe := startNode(t, seedCfg)
	seedAddr := probe.addr()
	probe.crash()

	cfg := testConfig("late")
	cfg.Seeds = []string{seedAddr}
	late := startNode(t, cfg)
	waitFor(t, deadline, func() string {
		if st := late.Stats(); st.JoinFailures < 2 {
			return fmt.Sprintf("stats %+v, want join retries", st)
		}
		return ""
	})
	seedCfg.GossipAddr = seedAddr
	seed := startNode(t, seedCfg)
	waitFor(t, deadline, seesAlive([]*node{seed, late}, "late", "seed"))
}

func TestPartitionHeals(t *testing.T) {
	a := startCluster(t, "a", 2, nil)
	b := startCluster(t, "b", 2, nil)
	// Two groups, each the whole cluster as far as it knows.
	waitFor(t, deadline, seesAlive(a, "a1", "a2"))
	waitFor(t, deadline, seesAlive(b, "b1", "b2"))

	// b1 learns of a seed in the other group; its rejoin loop does the rest.
	b[0].addSeeds(a[0].addr())
	waitFor(t, deadline, seesAlive(append(a, b...), "a1", "a2", "b1", "b2"))
}

func TestDuplicateNodeIDRefused(t *testing.T) {
	nodes := startCluster(t, "d", 2, nil)
	cfg := testConfig("d1") // d1 is already alive at another address
	cfg.Seeds = []string{nodes[1].addr()}
	imp := startNode(t, cfg)

	waitFor(t, deadline, func() string {
		if st := imp.Stats(); st.JoinFailures < 2 {
			return fmt.Sprintf("impostor stats %+v, want failed joins", st)
		}
		if nodes[1].Stats().Refused == 0 {
			return "seed refused nothing"
		}
		if nodes[1].log.count("refused peer", "id=d1", "node id conflict") == 0 {
			return "seed did not log the refusal"
		}
		return ""
	})
	for _, n := range nodes {
		ms := n.Members()
		if view(ms) != "d1:alive,d2:alive" || ms[0].GossipAddr != nodes[0].addr() {
			t.Fatalf("%s sees %+v", n.cfg.NodeID, ms)
		}
	}
	if got := view(imp.Members()); got != "d1:alive" {
		t.Fatalf("impostor sees %s", got)
	}
	if imp.log.count("refused peer", "id=d1") == 0 {
		t.Fatal("impostor did not log the conflict")
	}
}

func TestSecretAndClusterName(t *testing.T) {
	nodes := startCluster(t, "k", 2, func(c *Config) { c.Secret = "alpha" })
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"wrong secret", func(c *Config) { c.Secret = "beta" }},
		{"no secret", func(c *Config) { c.Secret = "" }},
		{"wrong cluster name", func(c *Config) { c.Secret = "alpha"; c.ClusterName = "other" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig("k9")
			cfg.Seeds = []string{nodes[0].addr()}
			tc.edit(&cfg)
			out := startNode(t, cfg)
			waitFor(t, deadline, func() string {
				if st := out.Stats(); st.JoinFailures < 3 || st.JoinAttempts != st.JoinFailures {
					return fmt.Sprintf("outsider stats %+v, want only failed joins", st)
				}
				return ""
			})
			for _, n := range nodes {
				if got := view(n.Members()); got != "k1:alive,k2:alive" {
					t.Fatalf("%s sees %s", n.cfg.NodeID, got)
				}
			}
			if got := view(out.Members()); got != "k9:alive" {
				t.Fatalf("outsider sees %s", got)
			}
		})
	}
}

// TestGarbageMetadataPeerIgnored starts a bare memberlist node whose
// metadata is not ours and checks it is logged and kept out, while the
// cluster keeps working.
func TestGarbageMetadataPeerIgnored(t *testing.T) {
	nodes := startCluster(t, "g", 2, nil)
	mc := memberlist.DefaultLANConfig()
	mc.Name = "garbage"
	mc.BindAddr = "127.0.0.1"
	mc.BindPort = 0
	mc.Label = "ringcache"
	mc.ProbeInterval = 100 * time.Millisecond
	mc.ProbeTimeout = 50 * time.Millisecond
	mc.GossipInterval = 20 * time.Millisecond
	mc.PushPullInterval = 200 * time.Millisecond
	mc.Delegate = garbageMeta{}
	mc.Logger = newMemberlistLogger(slog.New(slog.DiscardHandler), nil)
	raw, err := memberlist.Create(mc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Shutdown() })
	// The join itself may succeed from the bare node's side: it accepts
	// our list even though we refuse its.
	_, _ = raw.Join([]string{nodes[0].addr()})

	waitFor(t, deadline, func() string {
		for _, n := range nodes {
			if n.log.count("refused peer", "id=garbage", "bad node metadata") == 0 {
				return n.cfg.NodeID + " has not refused the garbage peer yet"
			}
		}
		return ""
	})
	for _, n := range nodes {
		if got := view(n.Members()); got != "g1:alive,g2:alive" {
			t.Fatalf("%s sees %s", n.cfg.NodeID, got)
		}
	}
}

type garbageMeta struct{}

func (garbageMeta) NodeMeta(int) []byte             { return []byte{0xde, 0xad, 0xbe, 0xef} }
func (garbageMeta) NotifyMsg([]byte)                {}
func (garbageMeta) GetBroadcasts(int, int) [][]byte { return nil }
func (garbageMeta) LocalState(bool) []byte          { return nil }
func (garbageMeta) MergeRemoteState([]byte, bool)   {}

func TestKnowsOthers(t *testing.T) {
	m := func(id string, st State) Member { return Member{ID: id, State: st} }
	for _, tc := range []struct {
		known []Member
		want  bool
	}{
		{nil, false},
		{[]Member{m("a", Alive)}, false},
		{[]Member{m("a", Alive), m("b", Left)}, false},
		{[]Member{m("a", Alive), m("b", Dead)}, true},
		{[]Member{m("b", Suspect)}, true},
	} {
		if got := KnowsOthers(tc.known, "a"); got != tc.want {
			t.Errorf("KnowsOthers(%v, a) = %v, want %v", tc.known, got, tc.want)
		}
	}
}
