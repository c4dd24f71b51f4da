package clustertest_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/cluster/clustertest"
)

// Read-modify-write commands run at their key's primary, whichever node
// a client asks, so concurrent ones through different nodes never
// interleave their reads and writes.

// contended is the cluster of these tests. Their commands all touch one
// key (or one hash tag), so the primary runs them one after another: a
// command waits there behind every other client's. Under the race
// detector on a busy machine that queue can outlast the harness's 1s
// request timeout, and a timed-out command may or may not have taken
// effect, which the exact counts below cannot allow.
var contended = clustertest.Options{Timeout: 3 * time.Second}

// TestIncrThroughEveryNodeCountsEveryIncrement: INCR of one key from
// clients of all three nodes at once ends at exactly the number of
// increments.
func TestIncrThroughEveryNodeCountsEveryIncrement(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, contended)
	ctx := context.Background()
	const workers, each = 4, 60
	var wg sync.WaitGroup
	errs := make(chan error, 3*workers)
	for i := range 3 {
		for range workers {
			wg.Go(func() {
				for range each {
					if err := c.Client(i).Incr(ctx, "counter").Err(); err != nil {
						errs <- fmt.Errorf("node %d: %w", i, err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := c.Client(1).Get(ctx, "counter").Int()
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 * workers * each; got != want {
		t.Fatalf("counter = %d after %d increments", got, want)
	}
	forwarded := 0
	for i := range 3 {
		n, _ := strconv.Atoi(infoSectionField(t, c, i, "stats", "ringcache_forwarded_to_primary"))
		forwarded += n
	}
	if forwarded == 0 {
		t.Fatal("no INCR was forwarded to the key's primary")
	}
}

// TestSetNXThroughEveryNodeHasOneWinner: clients of three nodes race
// SET NX PX on one lock key, many times; each race has one winner.
func TestSetNXThroughEveryNodeHasOneWinner(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, contended)
	ctx := context.Background()
	for round := range 100 {
		key := "lock:" + strconv.Itoa(round)
		won := race(t, 3, func(i int) (bool, error) {
			ok, err := c.Client(i).SetNX(ctx, key, i, 10*time.Second).Result()
			return ok, err
		})
		if won != 1 {
			t.Fatalf("round %d: %d clients acquired %s", round, won, key)
		}
	}
}

// TestGetDelThroughEveryNodeHandsTheValueOnce: clients of three nodes
// race GETDEL on one key; one of them gets the value.
func TestGetDelThroughEveryNodeHandsTheValueOnce(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, contended)
	ctx := context.Background()
	for round := range 100 {
		key := "job:" + strconv.Itoa(round)
		if err := c.Client(round%3).Set(ctx, key, "payload", 0).Err(); err != nil {
			t.Fatal(err)
		}
		got := race(t, 3, func(i int) (bool, error) {
			_, err := c.Client(i).GetDel(ctx, key).Result()
			if errors.Is(err, redis.Nil) {
				return false, nil
			}
			return err == nil, err
		})
		if got != 1 {
			t.Fatalf("round %d: %d clients got %s's value", round, got, key)
		}
	}
}

// race runs f(0..n-1) at once and counts the true results.
func race(t *testing.T, n int, f func(i int) (bool, error)) int {
	t.Helper()
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		mu    sync.Mutex
		count int
		first error
	)
	for i := range n {
		wg.Go(func() {
			<-start
			ok, err := f(i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			if ok {
				count++
			}
		})
	}
	close(start)
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
	return count
}

// TestWatchCounterThroughEveryNode is go-redis's optimistic locking
// example (WATCH, GET, MULTI, SET, EXEC, retried on TxFailedErr) run by
// ten workers on each of three nodes: the counter ends exact.
func TestWatchCounterThroughEveryNode(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, contended)
	ctx := context.Background()
	const workers, each = 10, 10
	incr := func(rdb *redis.Client, key string) error {
		txf := func(tx *redis.Tx) error {
			n, err := tx.Get(ctx, key).Int()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
				pipe.Set(ctx, key, n+1, 0)
				return nil
			})
			return err
		}
		for range 1000 {
			err := rdb.Watch(ctx, txf, key)
			if !errors.Is(err, redis.TxFailedErr) {
				return err
			}
		}
		return errors.New("too many conflicts")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3*workers)
	for i := range 3 {
		for range workers {
			wg.Go(func() {
				for range each {
					if err := incr(c.Client(i), "watched"); err != nil {
						errs <- fmt.Errorf("node %d: %w", i, err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got, err := c.Client(2).Get(ctx, "watched").Int(); err != nil || got != 3*workers*each {
		t.Fatalf("counter = %d, %v; want %d", got, err, 3*workers*each)
	}
}

// TestTransactionOfOneSlotIsAtomic: transactions that increment two keys
// of one hash tag run through every node while others read both keys in
// a transaction: every read sees them equal, and they end exact.
func TestTransactionOfOneSlotIsAtomic(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, contended)
	ctx := context.Background()
	const writers, each = 3, 40
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	stop := make(chan struct{})
	for i := range 3 {
		for range writers {
			wg.Go(func() {
				for range each {
					_, err := c.Client(i).TxPipelined(ctx, func(p redis.Pipeliner) error {
						p.Incr(ctx, "{acct}:a")
						p.Incr(ctx, "{acct}:b")
						return nil
					})
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	var readers sync.WaitGroup
	for i := range 3 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var a, b *redis.StringCmd
				_, err := c.Client(i).TxPipelined(ctx, func(p redis.Pipeliner) error {
					a, b = p.Get(ctx, "{acct}:a"), p.Get(ctx, "{acct}:b")
					return nil
				})
				if err != nil && !errors.Is(err, redis.Nil) {
					errs <- err
					return
				}
				if a.Val() != b.Val() {
					errs <- fmt.Errorf("a transaction through node %d read a=%q b=%q", i, a.Val(), b.Val())
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, k := range []string{"{acct}:a", "{acct}:b"} {
		if got, err := c.Client(0).Get(ctx, k).Int(); err != nil || got != 3*writers*each {
			t.Fatalf("%s = %d, %v; want %d", k, got, err, 3*writers*each)
		}
	}
}

// TestClientPauseOnThePrimaryHoldsOnlyItsClients: CLIENT PAUSE WRITE on
// a key's primary holds the writes of that node's clients; an INCR of
// the key, or a script that increments it, sent to another node, which
// forwards it there, runs at once.
func TestClientPauseOnThePrimaryHoldsOnlyItsClients(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, clustertest.Options{})
	ctx := context.Background()
	prim := ownersOf(t, c, "paused")[0]
	other := (prim + 1) % 3
	if err := c.Client(prim).Do(ctx, "CLIENT", "PAUSE", "5000", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Client(prim).Do(ctx, "CLIENT", "UNPAUSE") })
	start := time.Now()
	if v, err := c.Client(other).Incr(ctx, "paused").Result(); err != nil || v != 1 {
		t.Fatalf("INCR through node %d while its primary %d is paused = %d, %v; want 1", other, prim, v, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("INCR through another node took %v: held by the primary's pause", d)
	}
	// A script forwarded there runs too, its writes included.
	start = time.Now()
	incr := "return redis.call('INCR', KEYS[1])"
	if v, err := c.Client(other).Eval(ctx, incr, []string{"paused"}).Int(); err != nil || v != 2 {
		t.Fatalf("EVAL of INCR through node %d while its primary %d is paused = %d, %v; want 2", other, prim, v, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("EVAL through another node took %v: held by the primary's pause", d)
	}
	// The primary's own client is held until the pause is lifted.
	done := make(chan error, 1)
	go func() { done <- c.Client(prim).Incr(ctx, "paused").Err() }()
	select {
	case err := <-done:
		t.Fatalf("INCR through the paused node ran during the pause: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := c.Client(prim).Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("INCR through the paused node after UNPAUSE: %v", err)
	}
	if v, err := c.Client(other).Get(ctx, "paused").Int(); err != nil || v != 3 {
		t.Fatalf("GET = %d, %v; want 3", v, err)
	}
}

// TestCommandAndErrorStatsCountWhereTheClientIs: INFO commandstats and
// errorstats count a command, and its error, once, on the node its
// client sent it to, whether it ran there as the key's primary, was
// forwarded to the primary, or went in a pipelined batch.
func TestCommandAndErrorStatsCountWhereTheClientIs(t *testing.T) {
	t.Parallel()
	c := clustertest.New(t, 3, clustertest.Options{})
	ctx := context.Background()
	prim := ownersOf(t, c, "notanumber")[0]
	other := (prim + 1) % 3
	if err := c.Client(prim).Set(ctx, "notanumber", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := c.Client(i).ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Client(prim).Incr(ctx, "notanumber").Err(); err == nil {
		t.Fatal("INCR of a string that is no number succeeded")
	}
	if err := c.Client(other).Incr(ctx, "notanumber").Err(); err == nil {
		t.Fatal("INCR of a string that is no number succeeded")
	}
	c.Client(other).Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, "notanumber")
		p.Incr(ctx, "notanumber")
		return nil
	})
	for node, want := range map[int]string{prim: "calls=1,", other: "calls=3,"} {
		got := infoSectionField(t, c, node, "commandstats", "cmdstat_incr")
		if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, ",failed_calls="+want[len("calls="):len(want)-1]) {
			t.Errorf("node %d cmdstat_incr = %q, want %s... every call failed", node, got, want)
		}
	}
	for node, want := range map[int]string{prim: "count=1", other: "count=3"} {
		if got := infoSectionField(t, c, node, "errorstats", "errorstat_ERR"); got != want {
			t.Errorf("node %d errorstat_ERR = %q, want %s", node, got, want)
		}
	}
	// A transaction forwarded to the primary: its commands count on the
	// node the client sent it to.
	if _, err := c.Client(other).TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "notanumber", "1", 0)
		p.Incr(ctx, "notanumber")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := infoSectionField(t, c, other, "commandstats", "cmdstat_incr"); !strings.HasPrefix(got, "calls=4,") {
		t.Errorf("node %d cmdstat_incr after a forwarded transaction = %q, want calls=4", other, got)
	}
	if got := infoSectionField(t, c, prim, "commandstats", "cmdstat_incr"); !strings.HasPrefix(got, "calls=1,") {
		t.Errorf("the primary's cmdstat_incr after a forwarded transaction = %q, want calls=1 still", got)
	}
}
