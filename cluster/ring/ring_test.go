package ring

import (
	"math"
	"slices"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// handBuilt returns a ring with exactly the given tokens, unbalanced, so
// tests can reason about positions.
func handBuilt(tokens map[string][]uint64) *Ring {
	var nodes []Node
	for id, ts := range tokens {
		nodes = append(nodes, Node{ID: id, VNodes: len(ts)})
	}
	ns := normalize(nodes, 0)
	return build(ns, placeTokens(ns, func(n Node) []uint64 { return tokens[n.ID] }))
}

func ids(r *Ring, idx []int) []string {
	out := []string{}
	for _, i := range idx {
		out = append(out, r.Node(i).ID)
	}
	return out
}

func TestPreferenceHandBuilt(t *testing.T) {
	// Sorted: 100a 200b 300c 400a 500b.
	abc := handBuilt(map[string][]uint64{"a": {100, 400}, "b": {200, 500}, "c": {300}})
	// a holds three tokens in a row.
	run := handBuilt(map[string][]uint64{"a": {10, 20, 30}, "b": {40}})
	// Both nodes drew token 100: the smaller id keeps it.
	clash := handBuilt(map[string][]uint64{"b": {100, 200}, "a": {100}})
	// b's only token collides with a's and is dropped: b places nothing.
	lost := handBuilt(map[string][]uint64{"a": {100, 200}, "b": {100}})
	cases := []struct {
		name string
		r    *Ring
		tok  uint64
		n    int
		want []string
	}{
		{"before first token", abc, 0, 3, []string{"a", "b", "c"}},
		{"exactly on a token", abc, 100, 3, []string{"a", "b", "c"}},
		{"just past a token", abc, 101, 3, []string{"b", "c", "a"}},
		{"middle", abc, 350, 3, []string{"a", "b", "c"}},
		{"last range wraps", abc, 450, 3, []string{"b", "a", "c"}},
		{"past last token wraps", abc, 501, 2, []string{"a", "b"}},
		{"top of token space", abc, math.MaxUint64, 1, []string{"a"}},
		{"n larger than members", abc, 250, 7, []string{"c", "a", "b"}},
		{"n zero", abc, 250, 0, []string{}},
		{"n negative", abc, 250, -1, []string{}},
		{"skips repeated owner", run, 5, 2, []string{"a", "b"}},
		{"run after wrap", run, 35, 2, []string{"b", "a"}},
		{"collision to smaller id", clash, 100, 2, []string{"a", "b"}},
		{"collision other range", clash, 150, 2, []string{"b", "a"}},
		{"node without tokens", lost, 150, 3, []string{"a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ids(c.r, c.r.AppendPreference(nil, c.tok, c.n))
			if !slices.Equal(got, c.want) {
				t.Fatalf("AppendPreference(%d, %d) = %v, want %v", c.tok, c.n, got, c.want)
			}
			if len(c.want) > 0 && c.r.Node(c.r.Primary(c.tok)).ID != c.want[0] {
				t.Fatalf("Primary(%d) = %v, want %s", c.tok, c.r.Primary(c.tok), c.want[0])
			}
			for _, id := range []string{"a", "b", "c"} {
				if got, want := c.r.Owns(id, c.tok, c.n), slices.Contains(c.want, id); got != want {
					t.Errorf("Owns(%s) = %v, want %v", id, got, want)
				}
			}
		})
	}
	if got := clash.Tokens(1); !slices.Equal(got, []uint64{200}) {
		t.Errorf("b's tokens after collision = %v, want [200]", got)
	}
}

func TestRangesHandBuilt(t *testing.T) {
	r := handBuilt(map[string][]uint64{"a": {100, 400}, "b": {200, 500}, "c": {300}})
	want := []ReplicaRange{
		{Range{500, 100}, []string{"a", "b"}},
		{Range{100, 200}, []string{"b", "c"}},
		{Range{200, 300}, []string{"c", "a"}},
		{Range{300, 400}, []string{"a", "b"}},
		{Range{400, 500}, []string{"b", "a"}},
	}
	got := r.ReplicaRanges(2)
	if len(got) != len(want) {
		t.Fatalf("got %d ranges, want %d", len(got), len(want))
	}
	for k := range want {
		if got[k].Range != want[k].Range || !slices.Equal(got[k].Replicas, want[k].Replicas) {
			t.Errorf("range %d = %+v, want %+v", k, got[k], want[k])
		}
	}
	sh := r.ReplicaShares(2)
	if s := sh["a"] + sh["b"] + sh["c"]; math.Abs(s-2) > 1e-9 {
		t.Errorf("replica shares sum to %v, want 2", s)
	}
}

func TestRangeContains(t *testing.T) {
	cases := []struct {
		g    Range
		tok  uint64
		want bool
	}{
		{Range{10, 20}, 10, false},
		{Range{10, 20}, 11, true},
		{Range{10, 20}, 20, true},
		{Range{10, 20}, 21, false},
		{Range{20, 10}, 25, true},
		{Range{20, 10}, 0, true},
		{Range{20, 10}, 10, true},
		{Range{20, 10}, 15, false},
		{Range{20, 10}, 20, false},
		{Range{7, 7}, 7, true},
		{Range{7, 7}, 0, true},
		{Range{7, 7}, math.MaxUint64, true},
	}
	for _, c := range cases {
		if got := c.g.Contains(c.tok); got != c.want {
			t.Errorf("%+v.Contains(%d) = %v, want %v", c.g, c.tok, got, c.want)
		}
	}
}

func TestSmallRings(t *testing.T) {
	empty := New(nil, 0)
	if empty.PreferenceList(xxhash.Sum64String("k"), 3) != nil || empty.Primary(1) != -1 ||
		empty.Ranges() != nil || len(empty.Shares()) != 0 || empty.Owns("a", 1, 3) {
		t.Error("empty ring must place nothing")
	}
	empty.Walk(1, func(int) bool { t.Error("empty ring walked a node"); return true })

	one := New([]Node{{ID: "solo"}}, 4)
	if got := one.PreferenceList(xxhash.Sum64String("k"), 3); !slices.Equal(got, []string{"solo"}) {
		t.Errorf("single node list = %v", got)
	}
	if one.Node(0).VNodes != 4 || len(one.Ranges()) != 4 || one.Shares()["solo"] != 1 {
		t.Errorf("single node: vnodes %d, ranges %d, share %v", one.Node(0).VNodes, len(one.Ranges()), one.Shares())
	}

	single := handBuilt(map[string][]uint64{"a": {7}})
	if rs := single.Ranges(); len(rs) != 1 || rs[0] != (Range{7, 7}) || rs[0].Fraction() != 1 {
		t.Errorf("single-token ranges = %+v", rs)
	}
}

func TestNormalize(t *testing.T) {
	in := []Node{
		{ID: "b", Addr: "x:2"},
		{ID: "a", Addr: "z:1", VNodes: 9999},
		{ID: "b", Addr: "x:1", VNodes: 3},
		{ID: "c", VNodes: -5},
	}
	got := normalize(in, 0)
	want := []Node{
		{ID: "a", Addr: "z:1", VNodes: MaxVNodes},
		{ID: "b", Addr: "x:1", VNodes: 3},
		{ID: "c", VNodes: DefaultVNodes},
	}
	if !slices.Equal(got, want) {
		t.Errorf("normalize = %+v, want %+v", got, want)
	}
	if got := normalize([]Node{{ID: "a"}}, 16); got[0].VNodes != 16 {
		t.Errorf("default vnodes = %d, want 16", got[0].VNodes)
	}
	if in[0].ID != "b" {
		t.Error("normalize modified its input")
	}
}

func TestIndexAndAccessors(t *testing.T) {
	r := New([]Node{{ID: "n2", ClientAddr: "c2"}, {ID: "n1", ClientAddr: "c1"}}, 8)
	if i, ok := r.Index("n2"); !ok || i != 1 || r.Node(i).ClientAddr != "c2" {
		t.Errorf("Index(n2) = %d, %v", i, ok)
	}
	if _, ok := r.Index("n3"); ok {
		t.Error("Index found a non-member")
	}
	ns := r.Nodes()
	ns[0].ID = "changed"
	if r.Node(0).ID != "n1" {
		t.Error("Nodes exposed the ring's own slice")
	}
	if got := len(r.Tokens(0)) + len(r.Tokens(1)); got != 16 || r.Len() != 2 {
		t.Errorf("tokens %d, members %d", got, r.Len())
	}
}

func TestNodeWithoutTokens(t *testing.T) {
	r := handBuilt(map[string][]uint64{"a": {100, 200}, "b": {100}})
	var walked []string
	r.Walk(150, func(i int) bool { walked = append(walked, r.Node(i).ID); return true })
	if r.Len() != 2 || !slices.Equal(walked, []string{"a"}) || len(r.ReplicaRanges(3)[0].Replicas) != 1 {
		t.Errorf("members %d, walk %v", r.Len(), walked)
	}
}
