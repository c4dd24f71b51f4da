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

// TestWipedNodeRepairsBeforeItsReadsCount: a node whose disk is lost comes
// back empty while its peers hold data. It says it is catching up (its
// reads count toward no quorum), repairs its ranges from the other
// replicas without being asked, and only then says it caught up. Reads
// through every node find every key all along, although with R=2 the
// empty node and one other would otherwise make a read quorum.
func TestWipedNodeRepairsBeforeItsReadsCount(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, clustertest.Options{Configure: func(_ int, cfg *cluster.NodeConfig) {
		cfg.HintedHandoff = false // only repair can bring the data back
	}})
	ctx := context.Background()
	keys := make([]string, 400)
	for i := range keys {
		keys[i] = fmt.Sprint("wiped-", i)
		if err := c.Client(0).Set(ctx, keys[i], "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.Eventually("every write on node 2", func() error {
		for _, k := range keys {
			if _, live := localValue(t, c, 2, k); !live {
				return fmt.Errorf("node 2 lacks %s", k)
			}
		}
		return nil
	})
	c.Wipe(2)
	if err := c.Start(2); err != nil {
		t.Fatal(err)
	}
	sawBehind := c.Node(2).CatchingUp()
	for round := 0; c.Node(2).CatchingUp() || round < 3; round++ {
		sawBehind = sawBehind || c.Node(2).CatchingUp()
		for i := range 3 {
			for _, k := range keys[:40] {
				got, err := c.Client(i).Get(ctx, k).Result()
				if errors.Is(err, redis.Nil) {
					t.Fatalf("round %d: GET %s through node %d answered nil while node 2 repairs", round, k, i)
				}
				if err != nil && !strings.HasPrefix(err.Error(), "NOQUORUM") {
					t.Fatalf("GET %s through node %d: %v", k, i, err)
				}
				_ = got
			}
		}
		if round > 2000 {
			t.Fatal("node 2 never caught up")
		}
	}
	if !sawBehind {
		t.Fatal("the wiped node never said it was catching up")
	}
	for _, k := range keys {
		if _, live := localValue(t, c, 2, k); !live {
			t.Fatalf("node 2 caught up without %s", k)
		}
	}
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
