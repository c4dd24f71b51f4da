package coordinator

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func downSet(ids ...string) func(string) bool {
	if len(ids) == 0 {
		return nil
	}
	return func(id string) bool { return slices.Contains(ids, id) }
}

func TestChooseReplicas(t *testing.T) {
	prefs := []string{"a", "b", "c", "d", "e"}
	tests := []struct {
		name   string
		prefs  []string
		down   []string
		want   []choice
		sloppy bool
	}{
		{"all healthy", prefs, nil, []choice{{id: "a"}, {id: "b"}, {id: "c"}}, false},
		{"fallback down too", prefs, []string{"d"}, []choice{{id: "a"}, {id: "b"}, {id: "c"}}, false},
		{"one owner down", prefs, []string{"b"}, []choice{{id: "a"}, {id: "d", hint: "b"}, {id: "c"}}, true},
		{"two owners down", prefs, []string{"a", "c"}, []choice{{id: "d", hint: "a"}, {id: "b"}, {id: "e", hint: "c"}}, true},
		{"owner and first fallback down", prefs, []string{"a", "d"}, []choice{{id: "e", hint: "a"}, {id: "b"}, {id: "c"}}, true},
		{"no fallback left", prefs, []string{"a", "b", "c", "e"}, []choice{{id: "d", hint: "a"}, {id: "b"}, {id: "c"}}, true},
		{"everything down", prefs, prefs, []choice{{id: "a"}, {id: "b"}, {id: "c"}}, false},
		{"fewer nodes than n", []string{"a", "b"}, []string{"a"}, []choice{{id: "a"}, {id: "b"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, sloppy := chooseReplicas(nil, tc.prefs, 3, downSet(tc.down...))
			if !slices.Equal(got, tc.want) || sloppy != tc.sloppy {
				t.Fatalf("got %v sloppy=%v, want %v sloppy=%v", got, sloppy, tc.want, tc.sloppy)
			}
		})
	}
}

// TestChooseReplicasProperties checks, over random preference lists and
// health, the invariants the coordinator relies on: n distinct nodes (or
// all there are), every healthy owner kept as itself, a hint exactly
// where an owner was replaced, substitutes healthy and beyond the owners,
// and as many healthy choices as the list allows.
func TestChooseReplicasProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 5000 {
		size := 1 + rng.IntN(9)
		prefs := make([]string, size)
		for i := range prefs {
			prefs[i] = fmt.Sprintf("n%d", i)
		}
		n := 1 + rng.IntN(5)
		downs := map[string]bool{}
		for _, id := range prefs {
			if rng.IntN(3) == 0 {
				downs[id] = true
			}
		}
		down := func(id string) bool { return downs[id] }
		got, sloppy := chooseReplicas(nil, prefs, n, down)
		owners := min(n, size)
		if len(got) != owners {
			t.Fatalf("iter %d: %d choices for %d owners", iter, len(got), owners)
		}
		seen := map[string]bool{}
		healthy, replaced := 0, false
		for i, c := range got {
			if seen[c.id] {
				t.Fatalf("iter %d: %s chosen twice: %v", iter, c.id, got)
			}
			seen[c.id] = true
			owner := prefs[i]
			switch {
			case c.hint == "" && c.id != owner:
				t.Fatalf("iter %d: slot %d holds %s without a hint for %s", iter, i, c.id, owner)
			case c.hint != "" && (c.hint != owner || !downs[owner] || downs[c.id] || slices.Index(prefs, c.id) < owners):
				t.Fatalf("iter %d: bad substitute %v for owner %s (prefs %v down %v)", iter, c, owner, prefs, downs)
			case c.hint == "" && downs[owner] == false && c.id != owner:
				t.Fatalf("iter %d: healthy owner %s not kept", iter, owner)
			}
			if !downs[c.id] {
				healthy++
			}
			replaced = replaced || c.hint != ""
		}
		if replaced != sloppy {
			t.Fatalf("iter %d: sloppy=%v but replaced=%v", iter, sloppy, replaced)
		}
		totalHealthy := 0
		for _, id := range prefs {
			if !downs[id] {
				totalHealthy++
			}
		}
		if want := min(owners, totalHealthy); healthy != want {
			t.Fatalf("iter %d: %d healthy choices, want %d (prefs %v down %v got %v)", iter, healthy, want, prefs, downs, got)
		}
	}
}

func TestFallbackFor(t *testing.T) {
	prefs := []string{"a", "b", "c", "d", "e"}
	used := func(ids ...string) func(string) bool { return func(id string) bool { return slices.Contains(ids, id) } }
	if got := fallbackFor(prefs, 3, nil, used()); got != "d" {
		t.Fatalf("got %q", got)
	}
	if got := fallbackFor(prefs, 3, downSet("d"), used()); got != "e" {
		t.Fatalf("got %q", got)
	}
	if got := fallbackFor(prefs, 3, nil, used("d", "e")); got != "" {
		t.Fatalf("got %q", got)
	}
}

// TestNoStandInsWhileCatchingUp: with an owner believed down, a request
// is planned with a stand-in for it; while the coordinating node is
// catching up (its view of who is down may be stale) it is planned on the
// owners alone, and a failed owner gets no stand-in either.
func TestNoStandInsWhileCatchingUp(t *testing.T) {
	tc := newTestCluster(t, 5, func(c *Config) { c.Sloppy = true })
	co, topo := tc.coords["n0"], tc.topos["n0"]
	topo.setDown("n2")
	var key []byte
	for i := 0; ; i++ {
		key = []byte(fmt.Sprint("k", i))
		p := topo.owners(key, 3)
		if slices.Contains(p, "n2") {
			break
		}
	}
	hinted := func() int {
		f, err := co.plan([][]byte{key}, 0, 2, true)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, bt := range f.batches {
			if bt.hint != "" {
				n++
			}
		}
		if !f.sloppy && co.planFallbackCovers(f) {
			t.Fatal("a failed owner got a stand-in while catching up")
		}
		return n
	}
	if n := hinted(); n != 1 {
		t.Fatalf("%d stand-ins planned for one down owner, want 1", n)
	}
	topo.setBehind(true)
	if n := hinted(); n != 0 {
		t.Fatalf("%d stand-ins planned while catching up, want none", n)
	}
}

// planFallbackCovers reports whether planFallback would give batch 0's
// keys a stand-in (without launching it).
func (c *Coordinator) planFallbackCovers(f *fanout) bool {
	fl := c.newFlight(len(f.batches), fallbackRoom(len(f.batches)), time.Now().Add(time.Second))
	defer fl.cancel()
	covered, _ := c.planFallback(f, fl, 0)
	return covered != nil
}

// TestStandInsCountOnlyWhenOwnersCannot: with one of three owners down,
// the two healthy owners make W=2 and R=2 alone. A write still gives the
// down owner's copy to a stand-in, as a hint the quorum does not count; a
// read does not ask the stand-in. With two owners down the stand-ins
// count: the one healthy owner cannot make the quorum alone.
func TestStandInsCountOnlyWhenOwnersCannot(t *testing.T) {
	tc := newTestCluster(t, 5, func(c *Config) { c.Sloppy = true })
	co, topo := tc.coords["n0"], tc.topos["n0"]
	// A key n0 does not own: the owners down are not n0 itself.
	var key []byte
	var owners []string
	for i := 0; ; i++ {
		key = []byte(fmt.Sprint("k", i))
		if owners = topo.owners(key, 3); !slices.Contains(owners, "n0") {
			break
		}
	}
	count := func(write bool) (asked, extras, hinted int) {
		f, err := co.plan([][]byte{key}, 0, 2, write)
		if err != nil {
			t.Fatal(err)
		}
		for _, bt := range f.batches {
			switch {
			case bt.extra:
				extras++
			case bt.hint != "":
				hinted++
			}
		}
		return f.asked[0], extras, hinted
	}
	topo.setDown(owners[:1]...)
	if a, e, h := count(true); a != 2 || e != 1 || h != 0 {
		t.Fatalf("write, one owner down: %d counted, %d extra hints, %d counted stand-ins; want 2, 1, 0", a, e, h)
	}
	if a, e, h := count(false); a != 2 || e != 0 || h != 0 {
		t.Fatalf("read, one owner down: %d counted, %d extra, %d stand-ins; want 2, 0, 0", a, e, h)
	}
	topo.setDown(owners[:2]...)
	if a, e, h := count(true); a != 3 || e != 0 || h != 2 {
		t.Fatalf("write, two owners down: %d counted, %d extra, %d counted stand-ins; want 3, 0, 2", a, e, h)
	}
	if a, e, h := count(false); a != 3 || e != 0 || h != 2 {
		t.Fatalf("read, two owners down: %d counted, %d extra, %d stand-ins; want 3, 0, 2", a, e, h)
	}
}
