package coordinator

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringcache/ringcache/server/store"
)

// BenchmarkCoordinator measures quorum SET and GET through one node of
// three in-process nodes (N=3, R=W=2), without a network: the
// coordinator's own cost plus the engines'.
func BenchmarkCoordinator(b *testing.B) {
	// A generous timeout: on a loaded machine an engine write stall must
	// slow the benchmark down, not fail it.
	tc := newTestCluster(b, 3, func(c *Config) { c.Timeout = time.Minute })
	co := tc.coords["n0"]
	ctx := context.Background()
	val := make([]byte, 100)
	b.Run("put", func(b *testing.B) {
		var seq atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				k := []byte(fmt.Sprint("key-", seq.Add(1)%10000))
				if err := co.Put(ctx, []store.Mutation{{Key: k, Value: val}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("get", func(b *testing.B) {
		var seq atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				k := []byte(fmt.Sprint("key-", seq.Add(1)%10000))
				if _, err := co.Get(ctx, [][]byte{k}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
