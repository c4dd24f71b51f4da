package clustertest

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/server/store"
)

// BenchmarkQuorum measures quorum SET and GET of one key through one node
// of three in one process (N=3, R=W=2), over the real replica transport
// on 127.0.0.1 with 50 concurrent callers, as redis-benchmark -c 50 -P 1
// drives a node: ns/op is the CPU of all three nodes per request, without
// the client protocol. Compare builds with -count and benchstat.
func BenchmarkQuorum(b *testing.B) {
	// The engines as the binary configures them by default.
	c := New(b, 3, Options{Engine: func(_ int, cfg *engine.Config) {
		def := engine.DefaultConfig()
		cfg.Fsync = engine.FsyncEverySec
		cfg.CacheBytes, cfg.MemTableBytes, cfg.RowCacheBytes = def.CacheBytes, def.MemTableBytes, def.RowCacheBytes
	}})
	c.WaitMembers(3)
	co := c.Node(0).Coordinator()
	ctx := context.Background()
	val := make([]byte, 100)
	keys := make([][]byte, 100000)
	for i := range keys {
		keys[i] = []byte("key:" + strconv.Itoa(i))
	}
	for i := 0; i < len(keys); i += 256 {
		muts := make([]store.Mutation, 0, 256)
		for _, k := range keys[i:min(i+256, len(keys))] {
			muts = append(muts, store.Mutation{Key: k, Value: val})
		}
		if err := co.Put(ctx, muts); err != nil {
			b.Fatal(err)
		}
	}
	var seq atomic.Uint64
	next := func() []byte { return keys[(seq.Add(1)*2654435761)%uint64(len(keys))] }
	b.Run("set", func(b *testing.B) {
		b.SetParallelism(25) // 25 per P: 50 callers on 2 cores
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := co.Put(ctx, []store.Mutation{{Key: next(), Value: val}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("get", func(b *testing.B) {
		b.SetParallelism(25)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := co.Get(ctx, [][]byte{next()}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
