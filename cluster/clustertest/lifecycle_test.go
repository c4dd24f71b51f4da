package clustertest_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/cluster/clustertest"
	"github.com/ringcache/ringcache/cluster/layout"
)

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

// TestJoinUnderLoadLosesNothing: a fourth node joins a loaded 3-node
// cluster while writers and readers run through every node: no read
// answers nil or an older value than acknowledged, the join goes through
// its stages to normal, and afterwards every key is on all of its owners
// (the new one streamed its ranges; writes during the join reached it).
func TestJoinUnderLoadLosesNothing(t *testing.T) {
	t.Parallel()
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
	if s := c.Node(3).TransferStats(); s.TotalKeys == 0 {
		t.Fatalf("the new node streamed nothing: %+v", s)
	}
	if !strings.Contains(fmt.Sprint(c.Node(0).Members()), "n3") {
		t.Fatal("n3 is not a member")
	}
}
