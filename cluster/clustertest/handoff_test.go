package clustertest_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringcache/ringcache/cluster"
	"github.com/ringcache/ringcache/cluster/clustertest"
)

// fastHandoff shortens the hint replay retry so tests do not wait for it.
func fastHandoff(_ int, cfg *cluster.NodeConfig) {
	cfg.Handoff.RetryInterval = 100 * time.Millisecond
}

// keysOwnedBy returns n keys whose owners include every node in nodes
// and exclude the node not.
func keysOwnedBy(t *testing.T, c *clustertest.Cluster, n int, not int, nodes ...int) []string {
	t.Helper()
	var out []string
	for i := 0; len(out) < n; i++ {
		if i > 100*n+10000 {
			t.Fatalf("found only %d keys owned by %v", len(out), nodes)
		}
		k := fmt.Sprintf("hk:%06d", i)
		owners := ownersOf(t, c, k)
		if slices.Contains(owners, not) {
			continue
		}
		ok := true
		for _, nd := range nodes {
			ok = ok && slices.Contains(owners, nd)
		}
		if ok {
			out = append(out, k)
		}
	}
	return out
}

// pendingFor sums, over every running node, the hints held for node id.
func pendingFor(c *clustertest.Cluster, id string) (pending, bytes, delivered, dropped int64) {
	for _, i := range c.Running() {
		for _, h := range c.Node(i).Hints() {
			if h.Target == id {
				pending += h.Pending
				bytes += h.Bytes
				delivered += h.Delivered
				dropped += h.Dropped
			}
		}
	}
	return
}

func TestHintedHandoffDeliversAfterHeal(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 5, clustertest.Options{Configure: fastHandoff})
	ctx := context.Background()
	const owner = 1
	keys := keysOwnedBy(t, c, 300, 0, owner)

	c.Isolate(owner)
	for _, k := range keys {
		if err := c.Client(0).Set(ctx, k, "v-"+k, 0).Err(); err != nil {
			t.Fatalf("SET %s with its owner cut off: %v", k, err)
		}
	}
	// A hint for an owner that failed after the quorum was reached is
	// kept by the coordinator in the background: wait for it.
	c.Eventually("one hint per key", func() error {
		if p, _, _, _ := pendingFor(c, c.ID(owner)); p != int64(len(keys)) {
			return fmt.Errorf("%d hints pending for the cut-off owner, want %d", p, len(keys))
		}
		return nil
	})
	// A client reads its writes back while the owner is away.
	for _, k := range keys {
		if got, err := c.Client(2).Get(ctx, k).Result(); err != nil || got != "v-"+k {
			t.Fatalf("GET %s with its owner cut off = %q, %v", k, got, err)
		}
	}
	for _, k := range keys[:20] {
		if _, ok := localValue(t, c, owner, k); ok {
			t.Fatalf("the cut-off owner holds %s already: the fault is not in the path", k)
		}
	}

	c.Heal()
	c.Eventually("every hint delivered and every key on the owner", func() error {
		if p, _, _, _ := pendingFor(c, c.ID(owner)); p != 0 {
			return fmt.Errorf("%d hints pending", p)
		}
		for _, k := range keys {
			if v, _ := localValue(t, c, owner, k); v != "v-"+k {
				return fmt.Errorf("owner holds %q for %s", v, k)
			}
		}
		return nil
	})
	if _, _, delivered, dropped := pendingFor(c, c.ID(owner)); delivered < int64(len(keys)) || dropped != 0 {
		t.Fatalf("delivered %d dropped %d, want %d delivered and none dropped", delivered, dropped, len(keys))
	}
	// RINGCACHE HINTS and INFO show the holders' figures.
	var holder int = -1
	for _, i := range c.Running() {
		if len(c.Node(i).Hints()) > 0 {
			holder = i
		}
	}
	if holder < 0 {
		t.Fatal("no node reports hint figures")
	}
	rows, err := c.Client(holder).Do(ctx, "RINGCACHE", "HINTS").Slice()
	if err != nil || len(rows) == 0 {
		t.Fatalf("RINGCACHE HINTS = %v, %v", rows, err)
	}
	row := rows[0].([]any)
	if len(row) != 6 || row[0] != c.ID(owner) || row[1] != int64(0) {
		t.Fatalf("RINGCACHE HINTS row %v, want [%s 0 ...]", row, c.ID(owner))
	}
	info, err := c.Client(holder).Info(ctx, "hints").Result()
	if err != nil || !strings.Contains(info, "hints_pending:0") || !strings.Contains(info, "hints_target_"+c.ID(owner)+":pending=0") {
		t.Fatalf("INFO hints = %q, %v", info, err)
	}
}

func TestStaleHintNeverOverwritesNewerWrite(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 5, clustertest.Options{Configure: fastHandoff})
	ctx := context.Background()
	const owner = 1
	k := keysOwnedBy(t, c, 1, 0, owner)[0]

	c.Isolate(owner)
	if err := c.Client(0).Set(ctx, k, "old", 0).Err(); err != nil {
		t.Fatal(err)
	}
	holder := -1
	c.Eventually("a node holding the hint", func() error {
		for _, i := range c.Running() {
			for _, h := range c.Node(i).Hints() {
				if h.Target == c.ID(owner) && h.Pending > 0 {
					holder = i
					return nil
				}
			}
		}
		return fmt.Errorf("no node holds the hint")
	})
	// The owner comes back for everyone but the holder, gets a newer
	// write, and only then receives the stale hint.
	c.Heal()
	c.Partition([]int{holder}, []int{owner})
	via := 0
	if via == holder {
		via = 2
	}
	c.Eventually("the newer write on the owner", func() error {
		if err := c.Client(via).Set(ctx, k, "new", 0).Err(); err != nil {
			return err
		}
		if v, _ := localValue(t, c, owner, k); v != "new" {
			return fmt.Errorf("owner holds %q", v)
		}
		return nil
	})
	c.Heal()
	c.Eventually("the stale hint delivered", func() error {
		if p, _, _, _ := pendingFor(c, c.ID(owner)); p != 0 {
			return fmt.Errorf("%d hints pending", p)
		}
		return nil
	})
	if v, _ := localValue(t, c, owner, k); v != "new" {
		t.Fatalf("owner holds %q after the stale hint arrived, want new", v)
	}
	if got, err := c.Client(0).Get(ctx, k).Result(); err != nil || got != "new" {
		t.Fatalf("GET = %q, %v", got, err)
	}
}

func TestHintedDeleteNeverResurrects(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 5, clustertest.Options{Configure: fastHandoff})
	ctx := context.Background()
	const owner = 1
	keys := keysOwnedBy(t, c, 50, 0, owner)
	for _, k := range keys {
		if err := c.Client(0).Set(ctx, k, "alive", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.Eventually("every key on the owner", func() error {
		for _, k := range keys {
			if v, _ := localValue(t, c, owner, k); v != "alive" {
				return fmt.Errorf("owner holds %q for %s", v, k)
			}
		}
		return nil
	})
	c.Isolate(owner)
	for _, k := range keys {
		if err := c.Client(0).Del(ctx, k).Err(); err != nil {
			t.Fatalf("DEL %s with its owner cut off: %v", k, err)
		}
	}
	c.Heal()
	c.Eventually("hinted deletes delivered", func() error {
		if p, _, _, _ := pendingFor(c, c.ID(owner)); p != 0 {
			return fmt.Errorf("%d hints pending", p)
		}
		for _, k := range keys {
			rec, ok, err := c.Node(owner).LocalGet(ctx, []byte(k))
			if err != nil || !ok || !rec.Tombstone {
				return fmt.Errorf("owner's record of %s: %+v found=%v err=%v, want a tombstone", k, rec, ok, err)
			}
		}
		return nil
	})
	for _, i := range c.Running() {
		for _, k := range keys {
			if n, err := c.Client(i).Exists(ctx, k).Result(); err != nil || n != 0 {
				t.Fatalf("EXISTS %s via node %d = %d, %v after the delete", k, i, n, err)
			}
		}
	}
}

func TestHintWindowStopsNewHints(t *testing.T) {
	t.Parallel()
	// Long enough for the early writes to land inside it on a slow machine.
	const window = 2 * time.Second
	c := clustertest.New(t, 5, clustertest.Options{Configure: func(i int, cfg *cluster.NodeConfig) {
		fastHandoff(i, cfg)
		cfg.Handoff.MaxWindow = window
	}})
	ctx := context.Background()
	const owner = 1
	keys := keysOwnedBy(t, c, 100, 0, owner)
	c.Isolate(owner)
	for _, k := range keys[:50] {
		if err := c.Client(0).Set(ctx, k, "early", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var early int64
	c.Eventually("a hint per early write", func() error {
		if early, _, _, _ = pendingFor(c, c.ID(owner)); early != 50 {
			return fmt.Errorf("%d hints within the window, want 50", early)
		}
		return nil
	})
	time.Sleep(window + 100*time.Millisecond) // let the window pass
	for _, k := range keys[50:] {
		if err := c.Client(0).Set(ctx, k, "late", 0).Err(); err != nil {
			t.Fatalf("SET %s past the window: %v (the other owners must still take it)", k, err)
		}
	}
	pending, _, _, dropped := pendingFor(c, c.ID(owner))
	if pending != early || dropped < 50 {
		t.Fatalf("past the window: %d pending (want %d) and %d dropped (want ≥ 50)", pending, early, dropped)
	}
}

func TestHintQueueCap(t *testing.T) {
	t.Parallel()
	const limit = 16 << 10
	// A second of request timeout: the owners that are up must answer, and
	// under the race detector on a loaded machine one may take over 500ms.
	c := clustertest.New(t, 5, clustertest.Options{Timeout: time.Second, Configure: func(i int, cfg *cluster.NodeConfig) {
		fastHandoff(i, cfg)
		cfg.Handoff.MaxBytes = limit
	}})
	ctx := context.Background()
	const owner = 1
	keys := keysOwnedBy(t, c, 600, 0, owner)
	c.Isolate(owner)
	value := strings.Repeat("x", 100)
	for _, k := range keys {
		if err := c.Client(0).Set(ctx, k, value, 0).Err(); err != nil {
			t.Fatalf("SET %s with a full hint queue: %v", k, err)
		}
	}
	for _, i := range c.Running() {
		for _, h := range c.Node(i).Hints() {
			// One write may land on a queue just under the cap.
			if h.Target == c.ID(owner) && h.Bytes > limit+1024 {
				t.Fatalf("node %d holds %d bytes of hints for the owner, cap %d", i, h.Bytes, limit)
			}
		}
	}
	if _, _, _, dropped := pendingFor(c, c.ID(owner)); dropped == 0 {
		t.Fatal("no hint dropped although 600 writes exceed the cap")
	}
}

func TestSloppyQuorumWithTwoOwnersDown(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 5, clustertest.Options{Timeout: time.Second, Configure: fastHandoff})
	ctx := context.Background()
	keys := keysOwnedBy(t, c, 100, 0, 1, 2)
	c.Partition([]int{1, 2}, []int{0, 3, 4})
	for _, k := range keys {
		if err := c.Client(0).Set(ctx, k, "sloppy", 0).Err(); err != nil {
			t.Fatalf("SET %s with two owners cut off: %v", k, err)
		}
	}
	for _, k := range keys {
		if got, err := c.Client(3).Get(ctx, k).Result(); err != nil || got != "sloppy" {
			t.Fatalf("GET %s with two owners cut off = %q, %v", k, got, err)
		}
	}
	c.Heal()
	c.Eventually("both owners caught up", func() error {
		for _, k := range keys {
			for _, o := range []int{1, 2} {
				if v, _ := localValue(t, c, o, k); v != "sloppy" {
					return fmt.Errorf("node %d holds %q for %s", o, v, k)
				}
			}
		}
		return nil
	})
}

// TestHintHolderLostForGood: the node holding most of an owner's hints
// loses its disk before the owner returns. The owners that took the same
// writes noted their ranges as dirty; the other holders hand their hints
// over, and one repair round on the returning owner brings back the
// writes whose hints were lost.
func TestHintHolderLostForGood(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 6, clustertest.Options{Configure: fastHandoff})
	ctx := context.Background()
	const owner, via = 1, 0
	keys := keysOwnedBy(t, c, 200, via, owner)
	c.Isolate(owner)
	for _, k := range keys {
		if err := c.Client(via).Set(ctx, k, "v-"+k, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	c.Eventually("a hint per key", func() error {
		if p, _, _, _ := pendingFor(c, c.ID(owner)); p != int64(len(keys)) {
			return fmt.Errorf("%d hints pending", p)
		}
		return nil
	})
	dirty := 0
	lost, most := -1, int64(0)
	for _, i := range c.Running() {
		for _, h := range c.Node(i).Hints() {
			if h.Target == c.ID(owner) && h.Pending > most && i != via {
				lost, most = i, h.Pending
			}
		}
		dirty += c.Node(i).Dirty().Len()
	}
	if dirty == 0 {
		t.Fatal("no owner noted a dirty range for the replaced owner's writes")
	}
	if lost < 0 {
		t.Fatal("no hint holder apart from the coordinator")
	}
	c.Wipe(lost) // gone for good, with its hints
	// A stopped node stays in the ring, dead: the repair below skips it
	// once gossip has noticed.
	c.WaitDown(lost)
	c.Heal()
	c.Eventually("the surviving holders' hints delivered", func() error {
		if p, _, _, _ := pendingFor(c, c.ID(owner)); p != 0 {
			return fmt.Errorf("%d hints pending", p)
		}
		return nil
	})
	missing := 0
	for _, k := range keys {
		if v, _ := localValue(t, c, owner, k); v != "v-"+k {
			missing++
		}
	}
	if missing == 0 {
		t.Fatalf("the owner has every key although %d hints were lost with node %d", most, lost)
	}
	// Hints that left their holder before the count above may still
	// arrive, so the repair may receive fewer keys than were missing then;
	// it must receive some, and after it the owner holds every key.
	sum := repair(t, c, owner)
	if got := sum["keys_received"].(int64); got == 0 {
		t.Fatalf("repair received no key, the owner missed %d: %v", missing, sum)
	}
	for _, k := range keys {
		if v, _ := localValue(t, c, owner, k); v != "v-"+k && slices.Contains(ownersOf(t, c, k), owner) {
			t.Fatalf("owner holds %q for %s after repair", v, k)
		}
	}
}

// TestCoordinatorOwnerAndSubstituteInOneRequest: one MSET in which the
// coordinator owns some keys and stands in for the down owner of others
// gives it two batches; both must be applied.
func TestCoordinatorOwnerAndSubstituteInOneRequest(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 5, clustertest.Options{Configure: fastHandoff})
	ctx := context.Background()
	const owner, via = 1, 0
	var mine, others []string
	for i := 0; len(mine) < 50 || len(others) < 51; i++ {
		k := fmt.Sprintf("mix:%06d", i)
		o := ownersOf(t, c, k)
		switch {
		case slices.Contains(o, owner) && slices.Contains(o, via) && len(mine) < 50:
			mine = append(mine, k)
		case slices.Contains(o, owner) && !slices.Contains(o, via) && len(others) < 51:
			others = append(others, k)
		}
	}
	// A first write, of a key of its own, finds the owner failing, so the
	// MSET below is planned around it. Its hint is one more pending; a
	// key of the MSET could have two (one per write) on two holders.
	warm := others[50]
	others = others[:50]
	c.Isolate(owner)
	if err := c.Client(via).Set(ctx, warm, "warm", 0).Err(); err != nil {
		t.Fatal(err)
	}
	var args []any
	for _, k := range append(slices.Clone(mine), others...) {
		args = append(args, k, "v-"+k)
	}
	if err := c.Client(via).MSet(ctx, args...).Err(); err != nil {
		t.Fatalf("MSET with an owner down: %v", err)
	}
	for _, k := range mine {
		if v, _ := localValue(t, c, via, k); v != "v-"+k {
			t.Fatalf("the coordinator, an owner of %s, holds %q", k, v)
		}
	}
	c.Eventually("a hint per key", func() error {
		if p, _, _, _ := pendingFor(c, c.ID(owner)); p != int64(len(mine)+len(others)+1) {
			return fmt.Errorf("%d hints pending, want %d", p, len(mine)+len(others)+1)
		}
		return nil
	})
}

// TestWaitCountsOwnersNotStandIns: with an owner of a key down, the
// node standing in for it holds the write as a hint; WAIT counts the
// owners that hold it, not the stand-in.
func TestWaitCountsOwnersNotStandIns(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 4, clustertest.Options{})
	ctx := context.Background()
	var key string
	var down int
	for i := 0; ; i++ {
		key = fmt.Sprintf("w%d", i)
		if owners := ownersOf(t, c, key); !slices.Contains(owners, 0) {
			down = owners[0]
			break
		}
	}
	c.Stop(down)
	c.Eventually("node 0 to see the stopped owner down", func() error {
		info, err := c.Client(0).Info(ctx, "cluster").Result()
		if err != nil || !strings.Contains(info, "cluster_members_alive:3") {
			return fmt.Errorf("INFO cluster: %v %q", err, info)
		}
		return nil
	})
	conn := c.Client(0).Conn()
	defer conn.Close()
	if err := conn.Set(ctx, key, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := conn.Wait(ctx, 3, 500*time.Millisecond).Result(); err != nil || n != 2 {
		t.Fatalf("WAIT 3 500 with one of the key's owners down = %d, %v; want the 2 owners up", n, err)
	}
}
