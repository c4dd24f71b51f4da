package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
)

// BenchmarkApplyBatch measures the pipelined-SET path: batches of 64
// fresh 100-byte records in FsyncNo mode on a MemFS.
func BenchmarkApplyBatch(b *testing.B) { benchApplyBatch(b, false) }

// benchApplyBatch runs BenchmarkApplyBatch's loop, with the digest off if
// noDigest.
func benchApplyBatch(b *testing.B, noDigest bool) {
	e := openMem(b, func(c *Config) { c.Fsync = FsyncNo; c.MemTableBytes = 64 << 20; c.NoDigest = noDigest })
	const batch, distinct = 64, 100_000
	all := make([][]byte, distinct)
	for i := range all {
		all[i] = []byte(fmt.Sprintf("key-%d", i))
	}
	keys := make([][]byte, batch)
	recs := make([]Record, batch)
	value := make([]byte, 100)
	now := time.Now().UnixMilli()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range keys {
			keys[j] = all[(i*batch+j)%distinct]
			recs[j] = Record{Version: ver(now+int64(i), 0, 1), Value: value}
		}
		if _, err := e.ApplyBatch(keys, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(batch * 100)
}

// BenchmarkLookup measures point reads of existing keys.
func BenchmarkLookup(b *testing.B) {
	e := openMem(b, func(c *Config) { c.Fsync = FsyncNo })
	const n = 10_000
	keys := make([][]byte, n)
	now := time.Now().UnixMilli()
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("key-%d", i))
		if _, err := e.Apply(keys[i], Record{Version: ver(now, 0, 1), Value: make([]byte, 100)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok, err := e.Lookup(keys[i%n]); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkToken measures the token function on keys without braces (the
// hash-tag search costs one IndexByte), against xxhash64 alone, and on
// tagged and database-prefixed keys.
func BenchmarkToken(b *testing.B) {
	keys := []struct{ name, key string }{
		{"plain-16", "user:1000:profil"},
		{"plain-64", strings.Repeat("session:", 8)},
		{"tagged-24", "{user1000}.following:abc"},
		{"db3-plain-16", "\xff\x03user:1000:profil"},
		{"db3-tagged-24", "\xff\x03{user1000}.following:a"},
	}
	for _, k := range keys {
		key := []byte(k.key)
		b.Run(k.name, func(b *testing.B) {
			b.ReportAllocs()
			var sink uint64
			for b.Loop() {
				sink += Token(key)
			}
			_ = sink
		})
		b.Run(k.name+"/xxhash", func(b *testing.B) {
			var sink uint64
			for b.Loop() {
				sink += xxhash.Sum64(key)
			}
			_ = sink
		})
	}
}
