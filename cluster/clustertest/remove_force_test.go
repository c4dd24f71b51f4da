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
	"github.com/ringcache/ringcache/cluster/layout"
)

// TestRemoveBelowRNeedsForce: with N=3 and R=2, two of five nodes are
// stopped, so some ranges of the one to remove keep a single live
// replica besides it. (Five, not four: the layout's log needs a majority
// of its members, three of five, to change anything.) Its removal is
// refused with ErrBadState, saying how many live replicas are left and
// what R is, and the layout stays as it was. With FORCE the removal goes
// ahead: every range is synced from the survivors it has, the other
// stopped node, which gains ranges, is gone on without once it has been
// down for AbortJoinAfter (a forced removal must not wait for it), the
// operation completes with the node Left on every live node, and every key written
// before the stop is stored on each live owner of the new ring and reads
// back at quorum through every live node (no range has more than one
// dead owner now).
func TestRemoveBelowRNeedsForce(t *testing.T) {
	c := clustertest.New(t, 5, clustertest.Options{Timeout: time.Second, Configure: func(_ int, cfg *cluster.NodeConfig) {
		cfg.AbortJoinAfter = 2 * time.Second
	}})
	ctx := context.Background()
	keys := keyRange("rf", 0, 300)
	pipelined(t, c, 0, keys, func(p redis.Pipeliner, k string) { p.Set(ctx, k, "v:"+k, 0) })
	// A write returns once W=2 of its three owners have it: waiting for
	// the third as well makes every range keep each key on whichever of
	// its owners survive.
	c.Eventually("every key on all of its owners", func() error { return onLiveOwners(t, c, keys) })

	const removed, alsoDown = 4, 3
	id := c.ID(removed)
	c.Stop(removed)
	c.Stop(alsoDown)
	c.WaitDown(removed)
	c.WaitDown(alsoDown)
	live := c.Running()
	epochs := map[int]uint64{}
	for _, i := range live {
		epochs[i] = c.Node(i).Layout().Epoch
	}

	err := c.Node(0).Remove(ctx, id, false)
	if !errors.Is(err, layout.ErrBadState) {
		t.Fatalf("Remove(%s) with ranges below R: %v, want an error wrapping layout.ErrBadState", id, err)
	}
	for _, want := range []string{"only 1 live replica", "R=2", "FORCE"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("the refusal %q does not say %q", err, want)
		}
	}
	for _, i := range live {
		l := c.Node(i).Layout()
		if m, _ := l.Member(id); l.Op != nil || l.Epoch != epochs[i] || m.State != layout.Normal {
			t.Fatalf("node %d: the refused removal changed the layout: epoch %d (was %d), op %+v, %s %s",
				i, l.Epoch, epochs[i], l.Op, id, m.State)
		}
	}

	if err := c.Node(0).Remove(ctx, id, true); err != nil {
		t.Fatalf("Remove(%s, force): %v", id, err)
	}
	for _, i := range live {
		waitLeft(c, i, id)
	}
	// The copies first: a quorum read repairs what it finds missing.
	if err := onLiveOwners(t, c, keys); err != nil {
		t.Fatalf("after the forced removal: %v", err)
	}
	for _, i := range live {
		readBack(t, c, i, keys)
	}
}

// waitLeft waits until node i's layout has no operation in progress and
// member id Left; while it waits, it says what the operation waits for.
func waitLeft(c *clustertest.Cluster, i int, id string) {
	c.Eventually(fmt.Sprintf("node %d to have %s left", i, id), func() error {
		l := c.Node(i).Layout()
		if op := l.Op; op != nil {
			return fmt.Errorf("%s of %s at %s, members still streaming: %v", op.Kind, op.Node, op.Stage, op.Pending)
		}
		if m, _ := l.Member(id); m.State != layout.Left {
			return fmt.Errorf("%s is %s", id, m.State)
		}
		return nil
	})
}

// onLiveOwners reports the first key missing from one of its running
// owners' engines.
func onLiveOwners(t *testing.T, c *clustertest.Cluster, keys []string) error {
	for _, k := range keys {
		for _, o := range c.Node(c.Running()[0]).Owners([]byte(k)) {
			i := c.Index(o)
			if c.Node(i) == nil {
				continue
			}
			if v, ok := localValue(t, c, i, k); !ok || v != "v:"+k {
				return fmt.Errorf("node %d, an owner of %s, holds %q", i, k, v)
			}
		}
	}
	return nil
}

// readBack GETs every key through node i and checks its value.
func readBack(t *testing.T, c *clustertest.Cluster, i int, keys []string) {
	t.Helper()
	ctx := context.Background()
	for chunk := range slices.Chunk(keys, 250) {
		pipe := c.Client(i).Pipeline()
		cmds := make([]*redis.StringCmd, len(chunk))
		for j, k := range chunk {
			cmds[j] = pipe.Get(ctx, k)
		}
		_, _ = pipe.Exec(ctx)
		for j, k := range chunk {
			if v, err := cmds[j].Result(); err != nil || v != "v:"+k {
				t.Fatalf("GET %s through node %d: %q, %v", k, i, v, err)
			}
		}
	}
}
