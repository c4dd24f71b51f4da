package ring

import (
	"slices"
	"strings"
	"testing"
)

// FuzzRing builds rings from arbitrary member ids (comma separated, empty
// and duplicate ids included) and checks placement against the oracle.
func FuzzRing(f *testing.F) {
	f.Add("a,b,c", uint8(4), uint64(0), uint8(3))
	f.Add("node-1,node-2,node-1", uint8(1), uint64(1<<63), uint8(2))
	f.Add(",x", uint8(0), ^uint64(0), uint8(9))
	f.Add("10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000,10.0.0.4:7000", uint8(128), uint64(12345), uint8(3))
	f.Fuzz(func(t *testing.T, list string, vnodes uint8, tok uint64, n uint8) {
		var nodes []Node
		for _, id := range strings.Split(list, ",") {
			nodes = append(nodes, Node{ID: id})
		}
		if len(nodes) > 64 {
			nodes = nodes[:64]
		}
		r := New(nodes, int(vnodes%64)+1)
		slices.Reverse(nodes)
		if r2 := New(nodes, int(vnodes%64)+1); r2.Digest() != r.Digest() {
			t.Fatal("member order changed the ring")
		}
		got := r.AppendPreference(nil, tok, int(n))
		want := naivePreference(r, tok, int(n))
		if !slices.Equal(got, want) && len(got)+len(want) > 0 {
			t.Fatalf("AppendPreference = %v, oracle %v", got, want)
		}
		for k := 1; k < len(r.tokens); k++ {
			if r.tokens[k-1] >= r.tokens[k] {
				t.Fatal("tokens not strictly increasing")
			}
		}
	})
}
