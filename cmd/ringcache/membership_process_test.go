package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Stopping is not leaving, with real processes: the cluster of the issue
// (5 nodes, N=3, R=W=2, every node seeded with node 1's gossip address
// and node 1 with nothing but itself) keeps one ring through restarts,
// sees a stopped node dead rather than left, and sees it alive again
// within seconds of its return or of a gossip cut healing.

// startSeededByFirst starts n processes that all have the first node's
// gossip address as their only seed, and waits until each sees n alive.
func startSeededByFirst(t *testing.T, n int, extra ...string) *procCluster {
	t.Helper()
	c := &procCluster{t: t, extra: extra}
	for i := range n {
		c.nodes = append(c.nodes, &procNode{
			id: fmt.Sprintf("n%d", i+1), client: freeAddr(t), rpc: freeAddr(t), gossip: freeAddr(t), dir: t.TempDir(),
		})
	}
	c.seeds = c.nodes[0].gossip
	for i := range c.nodes {
		c.start(i)
	}
	c.waitAlive(n)
	return c
}

// infoField returns a field of node i's INFO cluster section.
func (c *procCluster) infoField(i int, field string) (string, error) {
	return infoFieldAt(c.nodes[i].client, field)
}

// infoFieldAt returns a field of the INFO cluster section of the node
// listening on addr.
func infoFieldAt(addr, field string) (string, error) {
	cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 5 * time.Second})
	defer cl.Close()
	info, err := cl.Info(context.Background(), "cluster").Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("no %s in INFO cluster", field)
}

// stateOf returns the state RINGCACHE NODES on node i gives member id.
func (c *procCluster) stateOf(i int, id string) (string, error) {
	cl := redis.NewClient(&redis.Options{Addr: c.nodes[i].client, MaxRetries: -1})
	defer cl.Close()
	res, err := cl.Do(context.Background(), "RINGCACHE", "NODES").Slice()
	if err != nil {
		return "", err
	}
	for _, r := range res {
		if f, ok := r.([]any); ok && len(f) >= 3 && f[0] == id {
			return fmt.Sprint(f[2]), nil
		}
	}
	return "", nil
}

// digestWatch samples every node's ring digest until stopped (a node that
// is down does not answer, and is skipped) and keeps the first one that
// differs from want.
type digestWatch struct {
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	samples int
	bad     string
}

func (c *procCluster) watchDigest(want string) *digestWatch {
	w := &digestWatch{stop: make(chan struct{}), done: make(chan struct{})}
	var addrs, ids []string
	for _, p := range c.nodes {
		addrs, ids = append(addrs, p.client), append(ids, p.id)
	}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			for i, addr := range addrs {
				got, err := infoFieldAt(addr, "cluster_ring_digest")
				if err != nil {
					continue // down, stopping or not up yet
				}
				w.mu.Lock()
				w.samples++
				if got != want && w.bad == "" {
					w.bad = fmt.Sprintf("%s reported ring digest %s, want %s", ids[i], got, want)
				}
				w.mu.Unlock()
			}
		}
	}()
	return w
}

func (w *digestWatch) finish() (samples int, bad string) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.samples, w.bad
}

// waitAllAlive waits until every running node sees every member alive
// and returns how long that took.
func (c *procCluster) waitAllAlive(limit time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	waitFor(c.t, limit, "every member alive on every node", func() error {
		for _, i := range c.running() {
			got, err := c.aliveSeen(i)
			if err != nil {
				return err
			}
			if got != len(c.nodes) {
				return fmt.Errorf("%s sees %d alive", c.nodes[i].id, got)
			}
		}
		return nil
	})
	return time.Since(start)
}

// waitSeenDead waits until every other running node lists node v as
// dead, failing at once if one lists it as left; it returns how long
// that took.
func (c *procCluster) waitSeenDead(v int, limit time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	id := c.nodes[v].id
	waitFor(c.t, limit, id+" dead on every other node", func() error {
		for _, i := range c.running() {
			if i == v {
				continue
			}
			st, err := c.stateOf(i, id)
			if err != nil {
				return err
			}
			if st == "left" || st == "" {
				c.t.Fatalf("%s lists the stopped %s as %q", c.nodes[i].id, id, st)
			}
			if st != "dead" {
				return fmt.Errorf("%s lists %s as %s", c.nodes[i].id, id, st)
			}
		}
		return nil
	})
	return time.Since(start)
}

func TestProcessRestartKeepsTheRing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five processes")
	}
	c := startSeededByFirst(t, 5, handoffArgs...)
	digest, err := c.infoField(0, "cluster_ring_digest")
	if err != nil {
		t.Fatal(err)
	}
	watch := c.watchDigest(digest)
	for _, step := range []struct {
		victim int
		how    string
	}{{2, "SIGTERM"}, {0, "SIGTERM"}, {2, "SIGKILL"}, {0, "SIGKILL"}} {
		p := c.nodes[step.victim]
		if step.how == "SIGTERM" {
			if err := p.proc.stop(); err != nil {
				t.Fatalf("SIGTERM %s: %v\n%s", p.id, err, p.proc.logText())
			}
		} else {
			p.proc.kill()
		}
		dead := c.waitSeenDead(step.victim, 30*time.Second)
		start := time.Now()
		c.start(step.victim)
		up := time.Since(start)
		// Its first answers carry the cluster's ring, before gossip
		// reported anything.
		if got, err := c.infoField(step.victim, "cluster_ring_digest"); err != nil || got != digest {
			t.Fatalf("%s restarted after %s: first INFO digest %s (%v), want %s", p.id, step.how, got, err, digest)
		}
		back := c.waitAllAlive(30 * time.Second)
		t.Logf("%s %s: declared dead by every other node in %v; restarted (%v to answer PING), then seen alive by every node within %v",
			step.how, p.id, dead.Round(10*time.Millisecond), up.Round(10*time.Millisecond), back.Round(10*time.Millisecond))
	}
	samples, bad := watch.finish()
	if bad != "" {
		t.Fatal(bad)
	}
	t.Logf("%d digest samples during the restarts, all %s", samples, digest)
	for i := range c.nodes {
		if got, err := c.infoField(i, "cluster_state"); err != nil || got != "ok" {
			t.Fatalf("%s cluster_state %q, %v", c.nodes[i].id, got, err)
		}
	}
}

// TestProcessInfoWithPausedPeer: INFO, RINGCACHE NODES and RINGCACHE
// HINTS answer within milliseconds while a peer is stopped with SIGSTOP
// (it accepts connections and never answers).
func TestProcessInfoWithPausedPeer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four processes")
	}
	c := startSeededByFirst(t, 4, "--timeout", "2s")
	cl := c.client(0)
	ctx := context.Background()
	if err := cl.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	paused := c.nodes[3].proc
	if err := paused.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer paused.Signal(syscall.SIGCONT)
	// Past the cached key count's age, so INFO would refresh it now.
	time.Sleep(3 * time.Second)
	for _, cmd := range [][]any{{"INFO"}, {"RINGCACHE", "NODES"}, {"RINGCACHE", "HINTS"}} {
		var worst time.Duration
		for range 10 {
			start := time.Now()
			if err := cl.Do(ctx, cmd...).Err(); err != nil {
				t.Fatalf("%v: %v", cmd, err)
			}
			worst = max(worst, time.Since(start))
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("%v with %s paused: slowest of 10 took %v", cmd, c.nodes[3].id, worst)
		// The request timeout is 2s: a command that waited for the
		// paused peer would take about that.
		if worst > time.Second {
			t.Fatalf("%v took %v with a peer paused: it waited for the peer", cmd, worst)
		}
	}
}

// iptables cuts loopback traffic to or from some ports for a test. Every
// rule carries a comment unique to the test and is removed exactly, by
// its full specification, when the test ends.
type iptables struct {
	t     *testing.T
	bin   string
	tag   string
	rules [][]string
}

// needIptables returns an iptables the test can use, or skips the test.
func needIptables(t *testing.T) *iptables {
	t.Helper()
	bin, err := exec.LookPath("iptables")
	if err != nil {
		t.Skip("iptables not found: gossip cuts need it")
	}
	ipt := &iptables{t: t, bin: bin, tag: fmt.Sprintf("ringcache-test-%d-%d", os.Getpid(), rand.Int64())}
	probe := []string{"INPUT", "-i", "lo", "-p", "udp", "--dport", "9", "-m", "comment", "--comment", ipt.tag, "-j", "DROP"}
	if out, err := exec.Command(bin, append([]string{"-w", "-I"}, probe...)...).CombinedOutput(); err != nil {
		t.Skipf("iptables is not usable here: %v: %s", err, out)
	}
	if out, err := exec.Command(bin, append([]string{"-w", "-D"}, probe...)...).CombinedOutput(); err != nil {
		t.Fatalf("removing the probe rule: %v: %s", err, out)
	}
	t.Cleanup(ipt.clear)
	return ipt
}

// drop adds a rule dropping loopback packets of proto whose dir ("--dport"
// or "--sport") is port.
func (p *iptables) drop(proto, dir, port string) {
	p.t.Helper()
	rule := []string{"INPUT", "-i", "lo", "-p", proto, dir, port, "-m", "comment", "--comment", p.tag, "-j", "DROP"}
	if out, err := exec.Command(p.bin, append([]string{"-w", "-I"}, rule...)...).CombinedOutput(); err != nil {
		p.t.Fatalf("iptables -I %v: %v: %s", rule, err, out)
	}
	p.rules = append(p.rules, rule)
}

// clear removes every rule this test added.
func (p *iptables) clear() {
	for _, rule := range p.rules {
		if out, err := exec.Command(p.bin, append([]string{"-w", "-D"}, rule...)...).CombinedOutput(); err != nil {
			p.t.Errorf("iptables -D %v: %v: %s", rule, err, out)
		}
	}
	p.rules = nil
}

// TestProcessGossipCutHeals cuts one node's gossip with iptables (packets
// to its gossip port, from it, or both, and in the last case to its
// replica port too), waits until the others declare it dead, heals the
// cut and measures how long the others take to see it alive again. INFO
// on the other nodes stays fast while it is cut off. The rules match
// ports, so the node's own outgoing TCP connections (from ephemeral
// ports) still pass: a port firewall, not a full network cut, which the
// in-process harness covers (clustertest.TestGossipRecoveryTimes).
func TestProcessGossipCutHeals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five processes")
	}
	ipt := needIptables(t)
	c := startSeededByFirst(t, 5, handoffArgs...)
	const v = 2
	_, gossipPort := hostPort(t, c.nodes[v].gossip)
	_, rpcPort := hostPort(t, c.nodes[v].rpc)
	for _, cut := range []struct {
		name  string
		rules func()
	}{
		{"incoming gossip", func() {
			ipt.drop("udp", "--dport", gossipPort)
			ipt.drop("tcp", "--dport", gossipPort)
		}},
		{"outgoing gossip", func() {
			ipt.drop("udp", "--sport", gossipPort)
			ipt.drop("tcp", "--sport", gossipPort)
		}},
		{"gossip both ways and replica calls", func() {
			for _, dir := range []string{"--dport", "--sport"} {
				ipt.drop("udp", dir, gossipPort)
				ipt.drop("tcp", dir, gossipPort)
			}
			ipt.drop("tcp", "--dport", rpcPort)
		}},
	} {
		cut.rules()
		dead := c.waitSeenDead(v, 30*time.Second)
		var worst time.Duration
		for range 5 {
			start := time.Now()
			if _, err := c.infoField(0, "cluster_state"); err != nil {
				t.Fatal(err)
			}
			worst = max(worst, time.Since(start))
		}
		ipt.clear()
		back := c.waitAllAlive(30 * time.Second)
		t.Logf("%s of %s cut: declared dead in %v (INFO on %s meanwhile: slowest of 5 %v); after the heal seen alive by every node in %v",
			cut.name, c.nodes[v].id, dead.Round(10*time.Millisecond), c.nodes[0].id, worst, back.Round(10*time.Millisecond))
		if worst > time.Second {
			t.Fatalf("INFO took %v while %s was cut off", worst, c.nodes[v].id)
		}
	}
}
