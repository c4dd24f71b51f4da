package clustertest_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/cluster"
	"github.com/ringcache/ringcache/cluster/clustertest"
	"github.com/ringcache/ringcache/cluster/layout"
)

// The tests of this file run load generators for seconds: they do not
// run in parallel with the others (whose timeouts they would stretch).

// checker runs writers and readers against a cluster while a topology
// operation runs, and asserts continuously that an acknowledged key never
// reads back as nil, as deleted, or as an older value.
type checker struct {
	t    *testing.T
	c    *clustertest.Cluster
	keys int
	// acked[k] is the highest sequence number acknowledged for key k;
	// a negative one means the key was deleted at -acked; 0 that the
	// last write failed (it may or may not have landed). Each key has
	// one writer, so acknowledgements arrive in order; seq[k] is the
	// writer's last sequence number.
	acked []atomic.Int64
	seq   []atomic.Int64
	// via lists the node indexes requests may go through.
	via      atomic.Pointer[[]int]
	reads    atomic.Int64
	writes   atomic.Int64
	failures atomic.Int64 // requests that failed (retried), not wrong answers
	sample   sync.Map     // error text -> count, first few kinds
	stop     chan struct{}
	wg       sync.WaitGroup
	errs     chan error
}

func newChecker(t *testing.T, c *clustertest.Cluster, keys int, via []int) *checker {
	ck := &checker{t: t, c: c, keys: keys, acked: make([]atomic.Int64, keys), seq: make([]atomic.Int64, keys), stop: make(chan struct{}), errs: make(chan error, 16)}
	ck.via.Store(&via)
	return ck
}

func (ck *checker) key(k int) string { return fmt.Sprintf("life:%05d", k) }

func (ck *checker) client(r *rand.Rand) *redis.Client {
	via := *ck.via.Load()
	return ck.c.Client(via[r.IntN(len(via))])
}

// fill writes every key once, acknowledged.
func (ck *checker) fill() {
	ctx := context.Background()
	for k := range ck.keys {
		if err := ck.c.Client(0).Set(ctx, ck.key(k), "1", 0).Err(); err != nil {
			ck.t.Fatalf("fill %s: %v", ck.key(k), err)
		}
		ck.acked[k].Store(1)
		ck.seq[k].Store(1)
	}
}

// run starts writers (each owning the keys k ≡ w mod writers; one write
// in ten a delete, the next write brings the key back) and readers.
func (ck *checker) run(writers, readers int) {
	for w := range writers {
		ck.wg.Go(func() { ck.writer(w, writers) })
	}
	for r := range readers {
		ck.wg.Go(func() { ck.reader(uint64(r)) })
	}
}

func (ck *checker) writer(w, of int) {
	r := rand.New(rand.NewPCG(uint64(w), 7))
	ctx := context.Background()
	for {
		select {
		case <-ck.stop:
			return
		default:
		}
		k := w + of*r.IntN(ck.keys/of)
		last := ck.acked[k].Load()
		seq := ck.seq[k].Add(1)
		var err error
		if r.IntN(10) == 0 && last > 0 {
			err = ck.client(r).Del(ctx, ck.key(k)).Err()
			if err == nil {
				ck.acked[k].Store(-seq)
			}
		} else {
			err = ck.client(r).Set(ctx, ck.key(k), strconv.FormatInt(seq, 10), 0).Err()
			if err == nil {
				ck.acked[k].Store(seq)
			}
		}
		if err != nil {
			// An unacknowledged write may still land: until the next
			// acknowledged one, any answer for the key is right.
			ck.acked[k].Store(0)
			ck.failed(err)
			time.Sleep(5 * time.Millisecond)
			continue
		}
		ck.writes.Add(1)
	}
}

func (ck *checker) reader(seed uint64) {
	r := rand.New(rand.NewPCG(seed, 11))
	ctx := context.Background()
	for {
		select {
		case <-ck.stop:
			return
		default:
		}
		k := r.IntN(ck.keys)
		before, started := ck.acked[k].Load(), ck.seq[k].Load()
		via := *ck.via.Load()
		i := via[r.IntN(len(via))]
		got, err := ck.c.Client(i).Get(ctx, ck.key(k)).Result()
		switch {
		case errors.Is(err, redis.Nil):
			// A write in flight when the read began, or begun since, may
			// be a delete the read saw.
			if before > 0 && started == before && ck.seq[k].Load() == started {
				stage := "none"
				if op := ck.c.Node(i).Layout().Op; op != nil {
					stage = op.Stage.String()
				}
				ck.fail(fmt.Errorf("GET %s through node %d (at %s) answered nil; %d was acknowledged before the read", ck.key(k), i, stage, before))
			}
		case err != nil:
			ck.failed(err)
			time.Sleep(5 * time.Millisecond)
			continue
		default:
			seq, _ := strconv.ParseInt(got, 10, 64)
			if before > 0 && seq < before || before < 0 && seq < -before {
				ck.fail(fmt.Errorf("GET %s answered %d; %d was acknowledged before the read", ck.key(k), seq, before))
			}
		}
		ck.reads.Add(1)
	}
}

func (ck *checker) failed(err error) {
	ck.failures.Add(1)
	msg := err.Error()
	if len(msg) > 60 {
		msg = msg[:60]
	}
	v, _ := ck.sample.LoadOrStore(msg, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (ck *checker) fail(err error) {
	select {
	case ck.errs <- err:
	default:
	}
}

// finish stops the load and fails the test on any wrong answer.
func (ck *checker) finish() {
	close(ck.stop)
	ck.wg.Wait()
	close(ck.errs)
	for err := range ck.errs {
		ck.t.Error(err)
	}
	ck.t.Logf("load: %d writes, %d reads, %d failed requests", ck.writes.Load(), ck.reads.Load(), ck.failures.Load())
	ck.sample.Range(func(k, v any) bool {
		ck.t.Logf("  %d × %s", v.(*atomic.Int64).Load(), k)
		return true
	})
}

// verify reads every key through every node in via and checks its value,
// then checks that every key is on each of its owners (after a repair
// round on every node).
func (ck *checker) verify(via []int) {
	ctx := context.Background()
	for _, i := range via {
		for k := range ck.keys {
			want := ck.acked[k].Load()
			got, err := ck.c.Client(i).Get(ctx, ck.key(k)).Result()
			if want == 0 {
				continue
			}
			if want < 0 {
				if err == nil {
					if seq, _ := strconv.ParseInt(got, 10, 64); seq <= -want {
						ck.t.Fatalf("node %d: deleted %s reads %s", i, ck.key(k), got)
					}
				}
				continue
			}
			if err != nil {
				ck.t.Fatalf("node %d: GET %s: %v (acknowledged %d)", i, ck.key(k), err, want)
			}
			if seq, _ := strconv.ParseInt(got, 10, 64); seq < want {
				ck.t.Fatalf("node %d: GET %s = %d, acknowledged %d", i, ck.key(k), seq, want)
			}
		}
	}
}

// onOwners checks that every live key is stored on each of its owners.
func (ck *checker) onOwners() {
	missing := 0
	for k := range ck.keys {
		if ck.acked[k].Load() <= 0 {
			continue
		}
		for _, o := range ownersOf(ck.t, ck.c, ck.key(k)) {
			if _, live := localValue(ck.t, ck.c, o, ck.key(k)); !live {
				missing++
			}
		}
	}
	if missing > 0 {
		ck.t.Fatalf("%d copies missing from their owners", missing)
	}
}

// nowhereElse waits until no node in nodes keeps a copy of a key it does
// not replicate: the cleanup after an operation dropped the ranges each
// gave up.
func (ck *checker) nowhereElse(nodes []int) {
	ck.c.Eventually("the ranges given up to be dropped", func() error {
		for k := 0; k < ck.keys; k += 7 {
			owners := ownersOf(ck.t, ck.c, ck.key(k))
			for _, i := range nodes {
				if slices.Contains(owners, i) {
					continue
				}
				if _, ok, err := ck.c.Node(i).LocalGet(context.Background(), []byte(ck.key(k))); err != nil || ok {
					return fmt.Errorf("node %d keeps %s, which it does not replicate (%v)", i, ck.key(k), err)
				}
			}
		}
		return nil
	})
}

// TestJoinUnderLoadLosesNothing: a fourth node joins a loaded 3-node
// cluster while writers and readers run through every node: no read
// answers nil or an older value than acknowledged, the join goes through
// its stages to normal, and afterwards every key is on all of its owners
// (the new one streamed its ranges; writes during the join reached it).
func TestJoinUnderLoadLosesNothing(t *testing.T) {
	c := clustertest.New(t, 4, clustertest.Options{Deferred: []int{3}, Timeout: time.Second})
	ck := newChecker(t, c, 600, []int{0, 1, 2})
	ck.fill()
	ck.run(3, 4)
	time.Sleep(200 * time.Millisecond)
	if err := c.Start(3); err != nil {
		t.Fatal(err)
	}
	seen := map[layout.Stage]bool{}
	c.Eventually("the join to finish", func() error {
		l := c.Node(0).Layout()
		if l.Op != nil {
			seen[l.Op.Stage] = true
			return fmt.Errorf("%s at %s", l.Op.Kind, l.Op.Stage)
		}
		if m, ok := l.Member("n3"); !ok || m.State != layout.Normal {
			return errors.New("n3 not normal yet")
		}
		return nil
	})
	ck.via.Store(&[]int{0, 1, 2, 3})
	time.Sleep(200 * time.Millisecond)
	ck.finish()
	t.Logf("stages seen from node 0: %v", seen)
	for i := range 4 {
		st := c.Node(i).Stats().Coordinator
		t.Logf("node %d: stale retries %d, reads behind %d, read quorum failures %d", i, st.StaleRetries, st.ReadsBehind, st.ReadQuorumFailures)
	}
	c.WaitMembers(4)
	ck.verify([]int{0, 1, 2, 3})
	ck.onOwners()
	ck.nowhereElse([]int{0, 1, 2, 3})
	var cleaned int64
	for i := range 3 {
		cleaned += c.Node(i).TransferStats().CleanedKeys
	}
	if cleaned == 0 {
		t.Fatal("no old owner counted a record dropped")
	}
	c.Eventually("the joined node to forget its streaming progress", func() error {
		left := 0
		err := c.Engine(3).ScanMeta("layout-streamed/", func(string, []byte) bool { left++; return true })
		if err != nil || left > 0 {
			return fmt.Errorf("%d ranges' progress kept (%v)", left, err)
		}
		return nil
	})
	if s := c.Node(3).TransferStats(); s.TotalKeys == 0 {
		t.Fatalf("the new node streamed nothing: %+v", s)
	}
	if !strings.Contains(fmt.Sprint(c.Node(0).Members()), "n3") {
		t.Fatal("n3 is not a member")
	}
}

// waitSettled waits until node 0's layout has no operation in progress
// and each id has the wanted state, recording the stages it saw.
func waitSettled(c *clustertest.Cluster, from int, want map[string]layout.State) map[layout.Stage]bool {
	seen := map[layout.Stage]bool{}
	c.Eventually("the operation to finish", func() error {
		l := c.Node(from).Layout()
		if l.Op != nil {
			seen[l.Op.Stage] = true
			return fmt.Errorf("%s of %s at %s", l.Op.Kind, l.Op.Node, l.Op.Stage)
		}
		for id, st := range want {
			if m, ok := l.Member(id); !ok || m.State != st {
				return fmt.Errorf("%s is %s, want %s", id, m.State, st)
			}
		}
		return nil
	})
	return seen
}

// TestLeaveUnderLoadLosesNothing: one of four nodes leaves while writers
// and readers run through the other three: its ranges stream to their
// next owners, it ends Left and out of every ring, and no acknowledged
// key is lost or read as older.
func TestLeaveUnderLoadLosesNothing(t *testing.T) {
	c := clustertest.New(t, 4, clustertest.Options{Timeout: time.Second})
	ck := newChecker(t, c, 600, []int{0, 1, 2})
	ck.fill()
	ck.run(3, 4)
	time.Sleep(100 * time.Millisecond)
	if err := c.Client(3).Do(context.Background(), "RINGCACHE", "LEAVE").Err(); err != nil {
		t.Fatalf("RINGCACHE LEAVE: %v", err)
	}
	select {
	case <-c.Node(3).Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the leaving node never reached left")
	}
	if err := c.Node(3).Err(); err != nil {
		t.Fatalf("the node that left stopped with %v", err)
	}
	waitSettled(c, 0, map[string]layout.State{"n3": layout.Left})
	ck.finish()
	c.Stop(3)
	c.WaitMembers(3, 0, 1, 2)
	for _, i := range []int{0, 1, 2} {
		if slices.Contains(c.Node(i).Owners([]byte("life:00001")), "n3") {
			t.Fatalf("node %d still places keys on n3", i)
		}
	}
	ck.verify([]int{0, 1, 2})
	ck.onOwners()
}

// TestRemoveDeadNodeUnderLoad: a node is stopped for good and removed by
// RINGCACHE REMOVE on another node while the load runs: its ranges are
// synced to their next owners from the survivors, and afterwards every
// key is on all of its new owners. A removal of a live node is refused.
func TestRemoveDeadNodeUnderLoad(t *testing.T) {
	c := clustertest.New(t, 4, clustertest.Options{Timeout: time.Second})
	ctx := context.Background()
	if err := c.Client(0).Do(ctx, "RINGCACHE", "REMOVE", "n3").Err(); err == nil || !strings.Contains(err.Error(), "alive") {
		t.Fatalf("REMOVE of a live node: %v", err)
	}
	ck := newChecker(t, c, 600, []int{0, 1, 2})
	ck.fill()
	c.Stop(3)
	c.WaitDown(3)
	ck.run(3, 4)
	if err := c.Client(1).Do(ctx, "RINGCACHE", "REMOVE", "n3").Err(); err != nil {
		t.Fatalf("RINGCACHE REMOVE n3: %v", err)
	}
	waitSettled(c, 0, map[string]layout.State{"n3": layout.Left})
	ck.finish()
	c.WaitMembers(3, 0, 1, 2)
	ck.verify([]int{0, 1, 2})
	ck.onOwners()
}

// TestTwoJoinsBackToBack: two nodes start at once into a loaded cluster;
// the second join waits for the first (one operation at a time), both
// end normal, and nothing is lost.
func TestTwoJoinsBackToBack(t *testing.T) {
	c := clustertest.New(t, 5, clustertest.Options{Deferred: []int{3, 4}, Timeout: time.Second})
	ck := newChecker(t, c, 600, []int{0, 1, 2})
	ck.fill()
	ck.run(3, 4)
	for _, i := range []int{3, 4} {
		if err := c.Start(i); err != nil {
			t.Fatal(err)
		}
	}
	waitSettled(c, 0, map[string]layout.State{"n3": layout.Normal, "n4": layout.Normal})
	ck.finish()
	c.WaitMembers(5)
	ck.verify([]int{0, 1, 2, 3, 4})
	ck.onOwners()
	ck.nowhereElse([]int{0, 1, 2, 3, 4})
}

// TestJoinWithAnOldReplicaDown: a node joins while one old replica of
// some of its ranges is stopped: streaming syncs those ranges with the
// replicas that are up, the join finishes, and once the stopped node is
// back and repaired every key is on all of its owners.
func TestJoinWithAnOldReplicaDown(t *testing.T) {
	c := clustertest.New(t, 5, clustertest.Options{Deferred: []int{4}, Timeout: time.Second})
	ck := newChecker(t, c, 600, []int{0, 1, 2})
	ck.fill()
	c.Stop(3)
	c.WaitDown(3)
	ck.run(3, 4)
	if err := c.Start(4); err != nil {
		t.Fatal(err)
	}
	waitSettled(c, 0, map[string]layout.State{"n4": layout.Normal})
	ck.finish()
	if err := c.Start(3); err != nil {
		t.Fatal(err)
	}
	c.WaitMembers(5)
	ck.verify([]int{0, 1, 2, 3, 4})
	for _, i := range c.Running() {
		repair(t, c, i)
	}
	ck.onOwners()
}

// TestJoinOfADeadNodeIsRolledBack: a joining node that dies while it
// streams holds its ranges up; once it has been down for AbortJoinAfter
// the operation is rolled back (the old replicas took every write), the
// cluster serves on its old ring, and nothing acknowledged is lost.
func TestJoinOfADeadNodeIsRolledBack(t *testing.T) {
	c := clustertest.New(t, 4, clustertest.Options{Deferred: []int{3}, Timeout: time.Second,
		Configure: func(i int, cfg *cluster.NodeConfig) {
			cfg.AbortJoinAfter = 500 * time.Millisecond
			if i == 3 {
				cfg.StreamRate = 1 // streams its first burst, then next to nothing
			}
		}})
	ck := newChecker(t, c, 3000, []int{0, 1, 2})
	ck.fill()
	ck.run(2, 3)
	if err := c.Start(3); err != nil {
		t.Fatal(err)
	}
	c.Eventually("n3 streaming", func() error {
		if l := c.Node(0).Layout(); l.Op == nil || l.Op.Stage != layout.Streaming {
			return errors.New("not streaming yet")
		}
		return nil
	})
	c.Stop(3)
	waitSettled(c, 0, map[string]layout.State{"n3": layout.Left})
	ck.finish()
	cur, _ := c.Node(0).Layout().Rings()
	if cur.Len() != 3 {
		t.Fatalf("ring of %d members after the rollback", cur.Len())
	}
	ck.verify([]int{0, 1, 2})
	ck.onOwners()
}

// TestRestartsMidStreamFinish: while a joining node streams its ranges
// (slowly), the joining node, the leader driving the operation and an old
// replica are each stopped and started again: the join resumes (the
// ranges already streamed are not streamed again) and finishes, and
// nothing acknowledged is lost.
func TestRestartsMidStreamFinish(t *testing.T) {
	c := clustertest.New(t, 4, clustertest.Options{Deferred: []int{3}, Timeout: time.Second,
		Configure: func(i int, cfg *cluster.NodeConfig) {
			if i == 3 {
				cfg.StreamRate = 200 << 10
			}
		}})
	ck := newChecker(t, c, 3000, []int{0, 1, 2})
	ck.fill()
	ck.run(2, 3)
	if err := c.Start(3); err != nil {
		t.Fatal(err)
	}
	streaming := func() {
		c.Eventually("the join streaming", func() error {
			if l := c.Node(0).Layout(); l.Op == nil || l.Op.Stage != layout.Streaming {
				return errors.New("not streaming")
			}
			return nil
		})
	}
	restart := func(i int) {
		c.Stop(i)
		if err := c.Start(i); err != nil {
			t.Fatal(err)
		}
	}
	streaming()
	c.Eventually("the joining node to record a range streamed", func() error {
		if s := c.Node(3).TransferStats(); s.RangesDone == 0 || s.RangesDone == s.RangesTotal {
			return fmt.Errorf("%d of %d ranges recorded", s.RangesDone, s.RangesTotal)
		}
		return nil
	})
	restart(3) // the destination
	c.Eventually("the restarted joining node to resume", func() error {
		if s := c.Node(3).TransferStats(); s.RangesResumed == 0 && s.Last.Resumed == 0 {
			return fmt.Errorf("no range resumed: %+v", s)
		}
		return nil
	})
	leader := -1
	for _, i := range []int{0, 1, 2} {
		if n := c.Node(i); n != nil && n.LayoutLeader() {
			leader = i
		}
	}
	if leader >= 0 {
		ck.via.Store(&[]int{(leader + 1) % 3, (leader + 2) % 3})
		restart(leader) // the node driving the operation
		ck.via.Store(&[]int{0, 1, 2})
	}
	source := (max(leader, 0) + 1) % 3
	ck.via.Store(&[]int{(source + 1) % 3, (source + 2) % 3})
	restart(source) // an old replica the join streams from
	ck.via.Store(&[]int{0, 1, 2})
	waitSettled(c, 0, map[string]layout.State{"n3": layout.Normal})
	ck.finish()
	c.WaitMembers(4)
	ck.verify([]int{0, 1, 2, 3})
	ck.onOwners()
	ck.nowhereElse([]int{0, 1, 2, 3})
}

// TestMinorityCannotChangeTopology: with two of five nodes cut off from
// the other three (replica RPCs, which carry the layout's log), a change
// proposed on the minority side fails and changes nothing; one started on
// the majority side waits for the cut-off members, which still look alive,
// to catch up, and finishes once the cut heals.
func TestMinorityCannotChangeTopology(t *testing.T) {
	c := clustertest.New(t, 5, clustertest.Options{Timeout: time.Second, Configure: func(_ int, cfg *cluster.NodeConfig) {
		cfg.ProposeTimeout = 2 * time.Second
	}})
	before := c.Node(0).Layout().Epoch
	c.Partition([]int{0, 1}, []int{2, 3, 4})
	ctx := context.Background()
	if err := c.Client(0).Do(ctx, "RINGCACHE", "LEAVE").Err(); err == nil {
		t.Fatal("a leave proposed on the minority side was accepted")
	}
	if got := c.Node(0).Layout().Epoch; got != before {
		t.Fatalf("the minority side's layout moved from epoch %d to %d", before, got)
	}
	if err := c.Client(4).Do(ctx, "RINGCACHE", "LEAVE").Err(); err != nil {
		t.Fatalf("a leave on the majority side: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	if l := c.Node(2).Layout(); l.Op == nil || l.Op.Stage != layout.WriteBothReadOld {
		t.Fatalf("the leave went past its first stage with two members unreachable: %+v", l.Op)
	}
	c.Heal()
	waitSettled(c, 2, map[string]layout.State{"n4": layout.Left})
	c.Eventually("the minority side to catch up", func() error {
		if m, _ := c.Node(0).Layout().Member("n4"); m.State != layout.Left {
			return fmt.Errorf("node 0 has n4 %s", m.State)
		}
		return nil
	})
}

// TestLeavingNodeLosesNoHint: a node holding hints for a member that is
// down leaves the cluster. The member comes back meanwhile (the leave
// waits for it: it gains some of the leaving node's ranges); the hints
// reach it, directly or handed to the keys' owners, before the leaving
// node stops, which keeps none.
func TestLeavingNodeLosesNoHint(t *testing.T) {
	c := clustertest.New(t, 5, clustertest.Options{Configure: func(i int, cfg *cluster.NodeConfig) {
		cfg.Handoff.RetryInterval = 100 * time.Millisecond
	}})
	ctx := context.Background()
	const down = 1
	keys := keysOwnedBy(t, c, 200, 0, down)
	c.Stop(down)
	c.WaitDown(down)
	for _, k := range keys {
		if err := c.Client(2).Set(ctx, k, "v-"+k, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	holder, most := -1, int64(0)
	for _, i := range c.Running() {
		for _, h := range c.Node(i).Hints() {
			if h.Target == c.ID(down) && h.Pending > most {
				holder, most = i, h.Pending
			}
		}
	}
	if holder < 0 {
		t.Fatal("no node holds a hint for the stopped owner")
	}
	if err := c.Client(holder).Do(ctx, "RINGCACHE", "LEAVE").Err(); err != nil {
		t.Fatalf("RINGCACHE LEAVE on the holder: %v", err)
	}
	if err := c.Start(down); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Node(holder).Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the holder never finished leaving")
	}
	for _, h := range c.Node(holder).Hints() {
		if h.Pending > 0 {
			t.Fatalf("the holder left with %d hints for %s", h.Pending, h.Target)
		}
	}
	c.Stop(holder)
	c.Eventually("the returning owner to hold every write it missed", func() error {
		for _, k := range keys {
			if v, _ := localValue(t, c, down, k); v != "v-"+k && slices.Contains(ownersOf(t, c, k), down) {
				return fmt.Errorf("%s: %q", k, v)
			}
		}
		return nil
	})
}

// TestJoinCarriesDeletesAndExpiries: a node joins, slowed by a low stream
// rate, while deletes, expiries and persists run. Once it is normal, it
// holds the deletes of its keys as tombstones (those made before the join
// through the stream, those made during it through write-both) and every
// expiry as the same absolute time as the old owners; and once the short
// expiries have passed and every node ran a repair, no deleted or expired
// key reads back through any node.
func TestJoinCarriesDeletesAndExpiries(t *testing.T) {
	c := clustertest.New(t, 4, clustertest.Options{Deferred: []int{3}, Timeout: 2 * time.Second,
		Configure: func(i int, cfg *cluster.NodeConfig) {
			if i == 3 {
				cfg.StreamRate = 200 << 10
			}
		}})
	ctx := context.Background()
	filler := keyRange("jf", 0, 1200)   // 1 KiB each: what makes the stream take seconds
	delBefore := keyRange("jd", 0, 300) // deleted before the join
	delDuring := keyRange("jd", 300, 600)
	expKept := keyRange("jt", 0, 200) // PX 1 h before; untouched
	expMoved := keyRange("jt", 200, 400)
	persisted := keyRange("jt", 400, 600)
	shortBefore := keyRange("js", 0, 300) // PX 4 s before the join
	shortDuring := keyRange("jn", 0, 300) // written with PX 3 s during it

	big := strings.Repeat("x", 1024)
	pipelined(t, c, 0, filler, func(p redis.Pipeliner, k string) { p.Set(ctx, k, big, 0) })
	pipelined(t, c, 0, slices.Concat(delBefore, delDuring), func(p redis.Pipeliner, k string) { p.Set(ctx, k, "v:"+k, 0) })
	pipelined(t, c, 1, slices.Concat(expKept, expMoved, persisted), func(p redis.Pipeliner, k string) { p.Set(ctx, k, "v:"+k, time.Hour) })
	pipelined(t, c, 2, delBefore, func(p redis.Pipeliner, k string) { p.Del(ctx, k) })
	pipelined(t, c, 2, shortBefore, func(p redis.Pipeliner, k string) { p.Set(ctx, k, "v:"+k, 4*time.Second) })
	// The absolute expiries the old owners hold before the join.
	before := map[string]int64{}
	for _, k := range slices.Concat(expKept, expMoved, persisted) {
		r := localGets(t, c, ownersOf(t, c, k)[0], []string{k})[0]
		if !r.present || r.expireAt == 0 {
			t.Fatalf("%s before the join: %+v, want a value with an expiry", k, r)
		}
		before[k] = r.expireAt
	}

	if err := c.Start(3); err != nil {
		t.Fatal(err)
	}
	stage := func() string {
		if l := c.Node(0).Layout(); l.Op != nil {
			return l.Op.Stage.String()
		}
		return "none"
	}
	c.Eventually("the join to stream", func() error {
		if s := stage(); s != layout.WriteBothReadOld.String() && s != layout.Streaming.String() {
			return fmt.Errorf("stage %s", s)
		}
		return nil
	})
	from := stage()
	pipelined(t, c, 0, delDuring, func(p redis.Pipeliner, k string) { p.Del(ctx, k) })
	pipelined(t, c, 1, expMoved, func(p redis.Pipeliner, k string) { p.PExpire(ctx, k, 2*time.Hour) })
	pipelined(t, c, 2, persisted, func(p redis.Pipeliner, k string) { p.Persist(ctx, k) })
	pipelined(t, c, 0, shortDuring, func(p redis.Pipeliner, k string) { p.Set(ctx, k, "v:"+k, 3*time.Second) })
	to := stage()
	t.Logf("deletes, expiries and persists ran from stage %s to %s", from, to)
	if to == "none" {
		t.Fatal("the join ended before the deletes and expiries were done: they did not run during it")
	}
	waitSettled(c, 0, map[string]layout.State{"n3": layout.Normal})
	c.WaitMembers(4)

	// What node 3 holds of the keys it now replicates, beside an old owner.
	onNew := func(keys []string, check func(k string, got, old localRec) error) int {
		n := 0
		for _, k := range keys {
			owners := ownersOf(t, c, k)
			if !slices.Contains(owners, 3) {
				continue
			}
			n++
			old := -1
			for _, o := range owners {
				if o != 3 {
					old = o
				}
			}
			got := localGets(t, c, 3, []string{k})[0]
			if err := check(k, got, localGets(t, c, old, []string{k})[0]); err != nil {
				t.Fatalf("node 3 LOCALGET %s: %v (got %+v, node %d holds %+v)", k, err, got, old, localGets(t, c, old, []string{k})[0])
			}
		}
		return n
	}
	tombstone := func(_ string, got, _ localRec) error {
		if !got.present || !got.tombstone {
			return errors.New("want a tombstone")
		}
		return nil
	}
	if n := onNew(delBefore, tombstone); n == 0 {
		t.Fatal("node 3 replicates none of the keys deleted before the join")
	}
	if n := onNew(delDuring, tombstone); n == 0 {
		t.Fatal("node 3 replicates none of the keys deleted during the join")
	}
	onNew(expKept, func(k string, got, old localRec) error {
		if !got.present || got.tombstone || got.expireAt != before[k] || old.expireAt != before[k] {
			return fmt.Errorf("want the value expiring at %d, as before the join", before[k])
		}
		return nil
	})
	onNew(expMoved, func(k string, got, old localRec) error {
		if !got.present || got.tombstone || got.expireAt <= before[k] || got.expireAt != old.expireAt {
			return fmt.Errorf("want the value with the old owner's later expiry (it was %d)", before[k])
		}
		return nil
	})
	onNew(persisted, func(k string, got, old localRec) error {
		if !got.present || got.tombstone || got.expireAt != 0 || old.expireAt != 0 {
			return errors.New("want the value without an expiry on both")
		}
		return nil
	})
	onNew(shortDuring, func(k string, got, old localRec) error {
		if got.present && !got.tombstone && got.expireAt != old.expireAt {
			return errors.New("want the old owner's expiry")
		}
		return nil
	})

	// After the short expiries and a repair on every node, nothing deleted
	// or expired is back, anywhere.
	time.Sleep(time.Until(time.UnixMilli(maxExpiry(t, c, slices.Concat(shortBefore, shortDuring)))) + 100*time.Millisecond)
	for i := range c.Len() {
		repair(t, c, i)
	}
	gone := slices.Concat(delBefore, delDuring, shortBefore, shortDuring)
	now := time.Now().UnixMilli()
	for i := range c.Len() {
		if n := existsThrough(t, c, i, gone); n != 0 {
			t.Fatalf("EXISTS through node %d counts %d deleted or expired keys", i, n)
		}
		for k, r := range localGets(t, c, i, gone) {
			if r.present && !r.tombstone && (r.expireAt == 0 || r.expireAt > now) {
				t.Fatalf("node %d LOCALGET %s after the repair = %+v: a deleted or expired key is back", i, gone[k], r)
			}
		}
	}
	for i := range c.Len() {
		if n := existsThrough(t, c, i, slices.Concat(expKept, expMoved, persisted)); n != 600 {
			t.Fatalf("EXISTS through node %d counts %d of the 600 keys with long or no expiries", i, n)
		}
	}
}

// maxExpiry returns the latest expiry any owner holds for keys, in Unix
// milliseconds.
func maxExpiry(t *testing.T, c *clustertest.Cluster, keys []string) int64 {
	var latest int64
	for i := range c.Len() {
		for _, r := range localGets(t, c, i, keys) {
			latest = max(latest, r.expireAt)
		}
	}
	return latest
}
