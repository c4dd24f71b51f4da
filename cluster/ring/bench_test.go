package ring

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func BenchmarkPreferenceList(b *testing.B) {
	for _, members := range []int{3, 10, 50} {
		r := New(randomNodes(rand.New(rand.NewPCG(1, 1)), 1, members), DefaultVNodes)
		keys := make([][]byte, 1024)
		for i := range keys {
			keys[i] = fmt.Appendf(nil, "key:%d", i)
		}
		b.Run(fmt.Sprintf("Append/nodes=%d/n=3", members), func(b *testing.B) {
			dst := make([]int, 0, 8)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				dst = r.AppendPreference(dst[:0], xxhash.Sum64(keys[i&1023]), 3)
			}
		})
		b.Run(fmt.Sprintf("IDs/nodes=%d/n=3", members), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				_ = r.PreferenceList(xxhash.Sum64(keys[i&1023]), 3)
			}
		})
	}
}

func BenchmarkNew(b *testing.B) {
	for _, members := range []int{3, 10, 50} {
		nodes := randomNodes(rand.New(rand.NewPCG(2, 2)), 1, members)
		b.Run(fmt.Sprintf("nodes=%d", members), func(b *testing.B) {
			for b.Loop() {
				_ = New(nodes, DefaultVNodes)
			}
		})
	}
}
