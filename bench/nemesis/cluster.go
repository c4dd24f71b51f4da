package nemesis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/bench"
	"github.com/ringcache/ringcache/bench/await"
	"github.com/ringcache/ringcache/bench/loopback"
)

// nodeAddrs are the three addresses of one node.
type nodeAddrs struct{ client, cluster, gossip string }

// cluster is the scenario's set of nodes, all gossiping through the first
// node as their seed. A membership scenario starts some of them later
// (spares), and takes some out: the members are the nodes of the cluster
// now, the ones the clients send to.
type cluster struct {
	dir     string
	nodes   []*node
	admin   []*redis.Client // one per node, for the checker's own commands
	members *servingSet
}

// newCluster describes a cluster in dir on fresh ports: every node of
// sc, its spares not started with the others.
func newCluster(cfg *Config, dir, bin string, sc *scenario) (*cluster, error) {
	addrs, err := loopback.Addrs(3 * cfg.Nodes)
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir}
	var initial []int
	for i := range cfg.Nodes {
		a := nodeAddrs{client: addrs[3*i], cluster: addrs[3*i+1], gossip: addrs[3*i+2]}
		spare := slices.Contains(sc.spares, i)
		n := newNode(i, dir, bin, a, addrs[2], sc.nodeArgs(cfg, spare), sc.runAs[i])
		if err := n.makeDataDir(); err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, n)
		if !spare {
			initial = append(initial, i)
		}
		c.admin = append(c.admin, redis.NewClient(&redis.Options{Addr: a.client, Protocol: 2, DisableIdentity: true,
			MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 10 * time.Second, PoolSize: 2}))
	}
	c.members = newServingSet(initial)
	return c, nil
}

// memberIndexes returns the indexes of the members, in order, in a slice
// of the caller's own.
func (c *cluster) memberIndexes() []int { return slices.Clone(c.members.nodes()) }

// isMember reports whether node i is a member.
func (c *cluster) isMember(i int) bool { return slices.Contains(c.members.nodes(), i) }

// join makes node i a member, served by the clients; leave takes it out.
func (c *cluster) join(i int)  { c.members.add(i) }
func (c *cluster) leave(i int) { c.members.remove(i) }

// startCluster starts a cluster in dir and waits until every node sees
// every other alive. A node can lose its port to another process between
// the probe and its bind, so a failed start is retried on new ports.
func startCluster(ctx context.Context, cfg *Config, dir, bin string, sc *scenario) (*cluster, error) {
	const tries = 3
	var errs []error
	for try := range tries {
		c, err := newCluster(cfg, dir, bin, sc)
		if err != nil {
			return nil, err
		}
		if err = c.start(ctx, cfg); err == nil {
			return c, nil
		}
		c.close()
		errs = append(errs, err)
		if ctx.Err() != nil || try == tries-1 {
			break
		}
		logf(cfg.Log, "  cluster start failed, again on new ports: %v\n", err)
		for _, n := range c.nodes {
			_ = os.RemoveAll(filepath.Dir(n.dataDir))
			_ = os.Rename(n.logPath, fmt.Sprintf("%s.try%d", n.logPath, try+1))
		}
	}
	return nil, errors.Join(errs...)
}

// start starts the seed, then the other members at once, then waits for
// the membership.
func (c *cluster) start(ctx context.Context, cfg *Config) error {
	if err := c.nodes[0].start(ctx, cfg.StartTimeout); err != nil {
		return err
	}
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for _, i := range c.memberIndexes()[1:] {
		wg.Go(func() { errs[i] = c.nodes[i].start(ctx, cfg.StartTimeout) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return c.waitJoined(ctx, cfg.JoinTimeout)
}

// close SIGKILLs every process the cluster started and closes its
// clients.
func (c *cluster) close() {
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Go(n.kill)
	}
	wg.Wait()
	for _, a := range c.admin {
		a.Close()
	}
}

// stop ends every node with SIGTERM, bounded by timeout each.
func (c *cluster) stop(timeout time.Duration) {
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		if n.running() != nil {
			wg.Go(func() { _, _ = n.terminate(timeout) })
		}
	}
	wg.Wait()
}

func (c *cluster) clientAddrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.client
	}
	return out
}

// aliveSeen returns how many members node i lists as alive.
func (c *cluster) aliveSeen(ctx context.Context, i int) (int, error) {
	rows, err := c.admin[i].Do(ctx, "RINGCACHE", "NODES").Slice()
	if err != nil {
		return 0, err
	}
	alive := 0
	for _, r := range rows {
		if f, ok := r.([]any); ok && len(f) >= 6 && f[2] == "alive" && f[5] == "normal" {
			alive++
		}
	}
	return alive, nil
}

// waitJoined polls until every member lists every member alive and
// normal, or timeout.
func (c *cluster) waitJoined(ctx context.Context, timeout time.Duration) error {
	return await.Poll(ctx, timeout, 200*time.Millisecond, func() error {
		members := c.memberIndexes()
		for _, i := range members {
			alive, err := c.aliveSeen(ctx, i)
			if err != nil {
				return fmt.Errorf("RINGCACHE NODES on %s: %v", c.nodes[i].id, err)
			}
			if alive != len(members) {
				return fmt.Errorf("%s sees %d of %d members alive and normal", c.nodes[i].id, alive, len(members))
			}
		}
		return nil
	})
}

// hintsPending sums RINGCACHE HINTS' pending column over every member.
func (c *cluster) hintsPending(ctx context.Context) (int64, error) {
	var total int64
	for _, i := range c.memberIndexes() {
		n := c.nodes[i]
		reply, err := c.admin[i].Do(ctx, "RINGCACHE", "HINTS").Result()
		if err != nil {
			return 0, fmt.Errorf("RINGCACHE HINTS on %s: %v", n.id, err)
		}
		rows, err := bench.ParseHints(reply)
		if err != nil {
			return 0, fmt.Errorf("%s: %v", n.id, err)
		}
		for _, r := range rows {
			total += r.Pending
		}
	}
	return total, nil
}

// repair runs RINGCACHE REPAIR on node i and returns its summary as
// "name=value" pairs.
func (c *cluster) repair(ctx context.Context, i int, timeout time.Duration) (string, error) {
	cl := redis.NewClient(&redis.Options{Addr: c.nodes[i].client, Protocol: 2, DisableIdentity: true,
		MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second, ReadTimeout: timeout, PoolSize: 1})
	defer cl.Close()
	reply, err := cl.Do(ctx, "RINGCACHE", "REPAIR").Slice()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for j := 0; j+1 < len(reply); j += 2 {
		fmt.Fprintf(&b, "%v=%v ", reply[j], reply[j+1])
	}
	return strings.TrimSpace(b.String()), nil
}

// memoryFigures are a node's dataset (INFO used_memory), budget
// (maxmemory) and keys evicted since its start (evicted_keys).
type memoryFigures struct{ used, max, evicted int64 }

// memory reads node i's memoryFigures, one INFO section per command.
func (c *cluster) memory(ctx context.Context, i int) (memoryFigures, error) {
	fields := map[string]string{}
	for _, section := range []string{"memory", "stats"} {
		text, err := c.admin[i].Info(ctx, section).Result()
		if err != nil {
			return memoryFigures{}, fmt.Errorf("INFO %s: %w", section, err)
		}
		maps.Copy(fields, bench.ParseInfo(text))
	}
	var m memoryFigures
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"used_memory", &m.used}, {"maxmemory", &m.max}, {"evicted_keys", &m.evicted}} {
		n, err := strconv.ParseInt(fields[f.name], 10, 64)
		if err != nil {
			return m, fmt.Errorf("INFO %s %q: %w", f.name, fields[f.name], err)
		}
		*f.dst = n
	}
	return m, nil
}

// evictedKeys sums INFO evicted_keys over the members.
func (c *cluster) evictedKeys(ctx context.Context) (int64, error) {
	var total int64
	for _, i := range c.memberIndexes() {
		m, err := c.memory(ctx, i)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", c.nodes[i].id, err)
		}
		total += m.evicted
	}
	return total, nil
}

// sleep waits d unless ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
