package nemesis

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRing(t *testing.T) {
	var r ring
	rng := rand.New(rand.NewPCG(1, 2))
	if got := r.pick(rng); got != "" {
		t.Fatalf("empty ring picked %q", got)
	}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		r.add(k, 3)
	}
	got := slices.Clone(r.keys)
	slices.Sort(got)
	if !slices.Equal(got, []string{"c", "d", "e"}) {
		t.Fatalf("ring holds %v, want the last 3", r.keys)
	}
	for range 20 {
		if k := r.pick(rng); !slices.Contains(got, k) {
			t.Fatalf("picked %q", k)
		}
	}
}

func TestKeyPoolPickInsert(t *testing.T) {
	var p keyPool
	rng := rand.New(rand.NewPCG(1, 2))
	if got := p.pickInsert(rng); got != "" {
		t.Fatalf("empty pool picked %q", got)
	}
	p.addInsert("ins:0:1")
	if got := p.pickInsert(rng); got != "ins:0:1" {
		t.Fatalf("picked %q", got)
	}
}

func TestValue(t *testing.T) {
	w := &workload{cfg: WorkloadConfig{ValueSize: 16}}
	if v := w.value("ins:1:2"); len(v) != 16 || v[:8] != "ins:1:2=" {
		t.Fatalf("value %q", v)
	}
	if v := w.value("a-key-longer-than-16"); v != "a-key-longer-than-16" {
		t.Fatalf("long key value %q", v)
	}
	if w.value("ins:1:2") == w.value("ins:1:3") {
		t.Fatal("two keys, one value")
	}
}
