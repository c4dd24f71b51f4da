package clustertest_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/ringcache/ringcache/cluster/layout"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/cluster"
	"github.com/ringcache/ringcache/cluster/clustertest"
	"github.com/ringcache/ringcache/engine"
)

// TestAlternatingCoordinatorsNeverDiscardAWrite: one writer sets an
// increasing counter through alternating nodes, and after every
// acknowledged SET a read through a third node returns exactly that
// value: two SETs through two coordinators within one millisecond are
// ordered as the client issued them (the second is stamped again above
// the first where a replica holds the first), over the real transport.
func TestAlternatingCoordinatorsNeverDiscardAWrite(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, clustertest.Options{})
	ctx := context.Background()
	for k := range 4 {
		key := fmt.Sprint("counter-", k)
		for i := range 150 {
			want := fmt.Sprint(i)
			if err := c.Client(i%2).Set(ctx, key, want, 0).Err(); err != nil {
				t.Fatalf("SET %s %s through node %d: %v", key, want, i%2, err)
			}
			got, err := c.Client(2).Get(ctx, key).Result()
			if err != nil || got != want {
				t.Fatalf("GET %s through node 2 after the acknowledged SET of %s: %q, %v", key, want, got, err)
			}
		}
	}
}

// TestDelDeletesWhatItsReadMissed: a replica alone holds a key (a write
// that reached it only) and does not answer while DEL runs, so DEL's read
// finds nothing. DEL still writes a tombstone for the key, and once the
// replica answers again no read brings the value back.
func TestDelDeletesWhatItsReadMissed(t *testing.T) {
	t.Parallel()
	// The read waits for the silent replica until the timeout: a longer
	// one than the default leaves the other two time to answer on a
	// loaded machine.
	c := clustertest.New(t, 3, clustertest.Options{Timeout: 2 * time.Second})
	ctx := context.Background()
	const k = "lonely"
	lone := ownersOf(t, c, k)[2]
	coord := (lone + 1) % 3
	rec := engine.Record{Value: []byte("v"), Version: engine.Version{Wall: time.Now().UnixMilli(), Node: 7}}
	if _, err := c.Engine(lone).Apply([]byte(k), rec); err != nil {
		t.Fatal(err)
	}
	c.Drop(lone, true)
	n, err := c.Client(coord).Del(ctx, k).Result()
	if err != nil {
		t.Fatalf("DEL: %v", err)
	}
	if n != 0 {
		t.Fatalf("DEL answered %d; its read could not see the key", n)
	}
	c.Heal()
	for round := range 20 {
		for i := range 3 {
			v, err := c.Client(i).Get(ctx, k).Result()
			if !errors.Is(err, redis.Nil) {
				t.Fatalf("round %d: GET through node %d = %q, %v after DEL", round, i, v, err)
			}
		}
	}
	c.Eventually("the tombstone on the lone replica", func() error {
		if v, live := localValue(t, c, lone, k); live {
			return fmt.Errorf("node %d still holds %q", lone, v)
		}
		return nil
	})
}

// TestIncrBuildsOnTheNewestReplica: one replica holds a newer value than
// the others (a write that reached it only). INCR through another node
// reads every replica it can reach and increments the newest value, not
// the one a quorum of the others would return.
func TestIncrBuildsOnTheNewestReplica(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, clustertest.Options{})
	ctx := context.Background()
	const k = "count"
	if err := c.Client(0).Set(ctx, k, "10", 0).Err(); err != nil {
		t.Fatal(err)
	}
	c.Eventually("the write on every replica", func() error {
		for i := range 3 {
			if v, _ := localValue(t, c, i, k); v != "10" {
				return fmt.Errorf("node %d holds %q", i, v)
			}
		}
		return nil
	})
	newest := ownersOf(t, c, k)[2]
	rec := engine.Record{Value: []byte("20"), Version: engine.Version{Wall: time.Now().UnixMilli() + 1, Node: 7}}
	if _, err := c.Engine(newest).Apply([]byte(k), rec); err != nil {
		t.Fatal(err)
	}
	// The newest replica answers last: a read that stops at R answers
	// never sees it.
	c.Delay(newest, 60*time.Millisecond)
	defer c.Heal()
	for i := range 3 {
		if i == newest {
			continue
		}
		got, err := c.Client(i).Incr(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(21); got != want {
			t.Fatalf("INCR through node %d = %d, want %d (20 is on node %d)", i, got, want, newest)
		}
		break
	}
}

// TestWipedNodeIsRefusedThenReplaced: a node whose disk is lost comes
// back empty under its old id; it must not rejoin as if it had its data,
// so it is refused (it stops, and says why) and the cluster keeps it as
// a member that is down. Started empty with --replace under a new id, it
// takes over the dead member's tokens and streams them from the
// survivors while writers and readers run: no read misses an
// acknowledged write, and afterwards the replacement holds its keys.
func TestWipedNodeIsRefusedThenReplaced(t *testing.T) {
	// Not parallel: it runs a load generator (see lifecycle_test.go).
	var replacing atomic.Bool
	c := clustertest.New(t, 3, clustertest.Options{Timeout: time.Second, Configure: func(i int, cfg *cluster.NodeConfig) {
		cfg.HintedHandoff = false // only streaming can bring the data back
		if i == 2 && replacing.Load() {
			cfg.NodeID, cfg.Replace = "n2b", "n2"
		}
	}})
	ck := newChecker(t, c, 400, []int{0, 1})
	ck.fill()
	c.Wipe(2)
	if err := c.Start(2); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Node(2).Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the wiped node was not refused")
	}
	if err := c.Node(2).Err(); !errors.Is(err, layout.ErrKnownID) {
		t.Fatalf("the wiped node stopped with %v, want ErrKnownID", err)
	}
	if err := c.Client(2).Get(context.Background(), "life:00001").Err(); err == nil || !strings.HasPrefix(err.Error(), "CLUSTERDOWN") {
		t.Fatalf("GET through the refused node: %v", err)
	}
	if m, _ := c.Node(0).Layout().Member("n2"); m.State != layout.Normal {
		t.Fatalf("the refused node changed the layout: n2 is %s", m.State)
	}
	c.Wipe(2)

	replacing.Store(true)
	ck.run(2, 3)
	if err := c.Start(2); err != nil {
		t.Fatal(err)
	}
	c.Eventually("the replacement to finish", func() error {
		l := c.Node(0).Layout()
		old, _ := l.Member("n2")
		nw, _ := l.Member("n2b")
		if l.Op != nil || old.State != layout.Left || nw.State != layout.Normal {
			return fmt.Errorf("n2 %s, n2b %s", old.State, nw.State)
		}
		return nil
	})
	ck.via.Store(&[]int{0, 1, 2})
	time.Sleep(100 * time.Millisecond)
	ck.finish()
	c.WaitMembers(3)
	ck.verify([]int{0, 1, 2})
	ck.onOwners()
}

// TestNodeWhoseCallsFailToMostPeersIsStrict: a node whose calls to most of
// the others fail while gossip still lists them alive (a cut its failure
// detector has not declared yet) is on the small side of a cut. It must
// not acknowledge a write through a stand-in copy of its own plus the one
// owner it reaches: readers that see the other owners alive never ask a
// stand-in, and two of them answer without the write.
func TestNodeWhoseCallsFailToMostPeersIsStrict(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 5, clustertest.Options{})
	ctx := context.Background()
	const x = 0
	var k string
	var owners []int
	for i := 0; ; i++ {
		k = fmt.Sprint("cut-", i)
		if owners = ownersOf(t, c, k); !slices.Contains(owners, x) {
			break
		}
	}
	// x reaches owners[1] only; the others' calls to x fail too. Gossip
	// is untouched.
	var rest []int
	for i := range c.Len() {
		if i != x && i != owners[1] {
			rest = append(rest, i)
		}
	}
	c.Partition([]int{x}, rest)
	defer c.Heal()
	// Writes through x of keys all over the ring make its calls fail.
	for i := range 20 {
		_ = c.Client(x).Set(ctx, fmt.Sprint("probe-", i), "v", 0).Err()
	}
	err := c.Client(x).Set(ctx, k, "new", 0).Err()
	if err == nil {
		for round := range 4 {
			for _, i := range []int{owners[0], owners[2]} {
				if v, err := c.Client(i).Get(ctx, k).Result(); v != "new" {
					t.Fatalf("round %d: GET through owner %d = %q, %v after the write through the cut-off node was acknowledged", round, i, v, err)
				}
			}
		}
		t.Fatal("the cut-off node acknowledged a write it could place on one owner only")
	}
	if !strings.Contains(err.Error(), "NOQUORUM") {
		t.Fatalf("SET through the cut-off node: %v, want NOQUORUM", err)
	}
}
