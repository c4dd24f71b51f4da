package server

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestTransactionIsolatedOnOneNode: transactions that increment two keys
// run from many clients while others read both keys with MGET: no read
// sees one increment without the other, and the keys end exact.
func TestTransactionIsolatedOnOneNode(t *testing.T) {
	ts := defaultTestServer(t)
	ctx := context.Background()
	const writers, each = 8, 100
	cl := ts.client(t, &redis.Options{PoolSize: 32})
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	stop := make(chan struct{})
	for range writers {
		wg.Go(func() {
			for range each {
				if _, err := cl.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Incr(ctx, "a")
					p.IncrBy(ctx, "b", 2)
					return nil
				}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				vals, err := cl.MGet(ctx, "a", "b").Result()
				if err != nil {
					errs <- err
					return
				}
				if fmt.Sprint(vals[0]) != "<nil>" || fmt.Sprint(vals[1]) != "<nil>" {
					var a, b int
					fmt.Sscan(fmt.Sprint(vals[0]), &a)
					fmt.Sscan(fmt.Sprint(vals[1]), &b)
					if b != 2*a {
						errs <- fmt.Errorf("MGET read a=%v b=%v mid-transaction", vals[0], vals[1])
						return
					}
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
	if a, _ := cl.Get(ctx, "a").Int(); a != writers*each {
		t.Fatalf("a = %d, want %d", a, writers*each)
	}
}
