package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterTarget is a local ringcache cluster: several nodes on loopback,
// gossiping through the first node as their seed. redis-benchmark talks to
// the first node, which coordinates every request as a quorum operation.
type clusterTarget struct {
	name  string
	nodes []*procTarget
}

// NewRingcacheClusterTarget returns a target of n ringcache processes
// started from bin with fsync everysec; extra flags (e.g. "--replicas",
// "3") go to every node.
func NewRingcacheClusterTarget(name, bin string, n int, extra ...string) (Target, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: cluster of %d nodes", ErrInvalidConfig, n)
	}
	rpc, gossip := make([]hostPort, n), make([]hostPort, n)
	for i := range rpc {
		var err error
		if rpc[i], err = freePort(); err != nil {
			return nil, err
		}
		if gossip[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	t := &clusterTarget{name: name}
	for i := 0; i < n; i++ {
		i := i
		t.nodes = append(t.nodes, &procTarget{
			name: fmt.Sprintf("%s-n%d", name, i+1),
			bin:  bin,
			args: func(addr hostPort, dir string) []string {
				return append([]string{"--node-id", fmt.Sprintf("n%d", i+1), "--listen", addr.String(),
					"--cluster-listen", rpc[i].String(), "--gossip-listen", gossip[i].String(),
					"--seeds", gossip[0].String(), "--data-dir", dir, "--fsync", "everysec", "--log-level", "warn"},
					extra...)
			},
		})
	}
	return t, nil
}

func (t *clusterTarget) Name() string { return t.name }

// Start starts every node and returns the first node's address and pid
// once it sees all of them alive.
func (t *clusterTarget) Start(ctx context.Context) (string, int, error) {
	var addr string
	var pid int
	for i, n := range t.nodes {
		a, p, err := n.Start(ctx)
		if err != nil {
			return "", 0, errors.Join(err, t.Stop(context.WithoutCancel(ctx)))
		}
		if i == 0 {
			addr, pid = a, p
		}
	}
	if err := waitMembers(ctx, addr, len(t.nodes)); err != nil {
		return "", 0, errors.Join(fmt.Errorf("%w: %s: %v", ErrTargetStart, t.name, err), t.Stop(context.WithoutCancel(ctx)))
	}
	return addr, pid, nil
}

// Stop stops every node.
func (t *clusterTarget) Stop(ctx context.Context) error {
	var errs []error
	for _, n := range t.nodes {
		errs = append(errs, n.Stop(ctx))
	}
	return errors.Join(errs...)
}

// waitMembers polls RINGCACHE NODES until want members are alive.
func waitMembers(ctx context.Context, addr string, want int) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		res, err := c.Do(ctx, "RINGCACHE", "NODES").Slice()
		alive := 0
		for _, m := range res {
			if f, ok := m.([]any); ok && len(f) >= 6 && f[2] == "alive" && f[5] == "normal" {
				alive++
			}
		}
		if err == nil && alive == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d members alive after %v (%v)", alive, want, startTimeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(startPoll):
		}
	}
}
