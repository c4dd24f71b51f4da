package topology

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/ring"
	"github.com/ringcache/ringcache/engine"
)

// minority builds the topology of self "a" among ids, with the members
// down dead in gossip, heard asking lately, and failing calls failing,
// and reports MinoritySide.
func minority(ids, down, heard, failing []string) bool {
	now := time.Now()
	var ms []membership.Member
	for _, id := range ids {
		st := membership.Alive
		if slices.Contains(down, id) {
			st = membership.Dead
		}
		ms = append(ms, membership.Member{ID: id, State: st})
	}
	h := Health{Retry: time.Second, Failing: map[string]time.Time{}, Heard: map[string]time.Time{}}
	for _, id := range failing {
		h.Failing[id] = now
	}
	for _, id := range heard {
		h.Heard[id] = now
	}
	t := New(Spec{Self: membership.Member{ID: "a", State: membership.Alive}, Members: ms, VNodes: 8, Health: h}, nil)
	return t.MinoritySide(now)
}

func TestIsolationDecision(t *testing.T) {
	m := func(id string, st membership.State) membership.Member { return membership.Member{ID: id, State: st} }
	const (
		alive   = membership.Alive
		suspect = membership.Suspect
		dead    = membership.Dead
		left    = membership.Left
	)
	for _, tc := range []struct {
		name            string
		ms              []membership.Member
		seeded          bool
		isolated        bool
		reachable, each int
	}{
		{"first node of a new cluster", []membership.Member{m("s", alive)}, false, false, 0, 0},
		{"new node whose seeds do not answer", []membership.Member{m("s", alive)}, true, true, 0, 0},
		{"every other member dead", []membership.Member{m("a", dead), m("s", alive), m("b", dead)}, false, true, 0, 2},
		{"every other member dead, seeded", []membership.Member{m("a", dead), m("s", alive)}, true, true, 0, 1},
		{"one member alive", []membership.Member{m("a", dead), m("s", alive), m("b", alive)}, true, false, 1, 2},
		{"a suspect still answers gossip", []membership.Member{m("a", suspect), m("s", alive)}, true, false, 1, 1},
		{"members that left do not count", []membership.Member{m("a", left), m("s", alive)}, false, false, 0, 0},
		{"left and dead", []membership.Member{m("a", left), m("b", dead), m("s", alive)}, false, true, 0, 1},
		{"self is never counted", []membership.Member{m("s", dead)}, false, false, 0, 0},
		{"members outside the ring do not count", []membership.Member{m("s", alive), m("x", alive), m("y", dead)}, true, true, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ids []string
			for _, m := range tc.ms {
				if m.State != left && m.ID != "x" && m.ID != "y" {
					ids = append(ids, m.ID)
				}
			}
			slices.Sort(ids)
			iso, reach, others := isolation(tc.ms, "s", tc.seeded, ids)
			if iso != tc.isolated || reach != tc.reachable || others != tc.each {
				t.Fatalf("isolation = %v, %d reachable of %d; want %v, %d of %d", iso, reach, others, tc.isolated, tc.reachable, tc.each)
			}
		})
	}
}

func TestWithSelf(t *testing.T) {
	self := membership.Member{ID: "s", ClusterAddr: "127.0.0.1:2", VNodes: 8, State: membership.Alive, NodeState: membership.NodeNormal}
	ids := func(ms []membership.Member) (out []string) {
		for _, m := range ms {
			out = append(out, m.ID+":"+m.State.String()+":"+m.ClusterAddr)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   []membership.Member
		want []string
	}{
		{"missing", []membership.Member{{ID: "z", State: membership.Dead}, {ID: "a", State: membership.Alive}},
			[]string{"a:alive:", "s:alive:127.0.0.1:2", "z:dead:"}},
		{"persisted dead with an old address", []membership.Member{{ID: "s", ClusterAddr: "old:1", State: membership.Dead}},
			[]string{"s:alive:127.0.0.1:2"}},
		{"persisted left", []membership.Member{{ID: "s", State: membership.Left}}, []string{"s:alive:127.0.0.1:2"}},
		{"as gossip reports it", []membership.Member{{ID: "s", ClusterAddr: "127.0.0.1:2", State: membership.Alive}},
			[]string{"s:alive:127.0.0.1:2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.in)
			got := withSelf(tc.in, self)
			if !slices.Equal(ids(got), tc.want) {
				t.Fatalf("withSelf = %v, want %v", ids(got), tc.want)
			}
			if !slices.Equal(tc.in, in) {
				t.Fatal("withSelf changed its input")
			}
		})
	}
}
func TestRingNodesKeepDeadDropLeft(t *testing.T) {
	ms := []membership.Member{
		{ID: "c", ClusterAddr: "c:1", State: membership.Dead, VNodes: 8},
		{ID: "a", ClusterAddr: "a:1", State: membership.Alive, VNodes: 8},
		{ID: "d", ClusterAddr: "d:1", State: membership.Left, VNodes: 8},
		{ID: "b", ClusterAddr: "b:1", ClientAddr: "b:2", State: membership.Suspect, VNodes: 16},
	}
	got := ringNodes(ms)
	want := []ring.Node{
		{ID: "a", Addr: "a:1", VNodes: 8},
		{ID: "b", Addr: "b:1", ClientAddr: "b:2", VNodes: 16},
		{ID: "c", Addr: "c:1", VNodes: 8},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ringNodes = %+v, want %+v", got, want)
	}
}

func TestMinoritySide(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e"}
	for _, tt := range []struct {
		down, heard, failing []string
		want                 bool
	}{
		{nil, nil, nil, false},
		{[]string{"b"}, nil, nil, false},
		{[]string{"b", "c"}, nil, nil, false},                // 2 of 4: not more than half
		{[]string{"b", "c", "d"}, nil, nil, true},            // 3 of 4
		{[]string{"b", "c", "d"}, []string{"d"}, nil, false}, // d asked for its hints: it runs
		{[]string{"a", "b", "c"}, nil, nil, false},           // self does not count: 2 of 4
		{[]string{"b", "c", "d", "e"}, nil, nil, true},
		// Calls failing count whatever gossip says, and whether or not
		// the peer reached this node: a cut gossip has not seen yet.
		{nil, nil, []string{"b", "c", "d"}, true},
		{nil, nil, []string{"b", "c"}, false},
		{[]string{"b"}, nil, []string{"c", "d"}, true},
		{[]string{"b", "c"}, nil, []string{"c"}, false},               // one peer counted once
		{nil, []string{"b", "c", "d"}, []string{"b", "c", "d"}, true}, // they reach it, it reaches none
	} {
		if got := minority(ids, tt.down, tt.heard, tt.failing); got != tt.want {
			t.Errorf("down %v heard %v failing %v: %v, want %v", tt.down, tt.heard, tt.failing, got, tt.want)
		}
	}
	if minority([]string{"a", "b", "c"}, []string{"b"}, nil, nil) {
		t.Error("one of two others down is not more than half")
	}
	if !minority([]string{"a", "b", "c"}, []string{"b", "c"}, nil, nil) {
		t.Error("both others down")
	}
}
func TestAppendPreferenceMatchesRing(t *testing.T) {
	var nodes []ring.Node
	for i := 0; i < 5; i++ {
		nodes = append(nodes, ring.Node{ID: fmt.Sprint("n", i)})
	}
	var ms []membership.Member
	for _, n := range nodes {
		ms = append(ms, membership.Member{ID: n.ID, State: membership.Alive})
	}
	p := New(Spec{Self: ms[0], Members: ms, VNodes: 32}, nil)
	r := p.Ring()
	for i := 0; i < 200; i++ {
		key := []byte(fmt.Sprint("key", i))
		got := p.AppendPreference(nil, engine.Token(key), 3)
		if want := r.PreferenceList(engine.Token(key), 3); !slices.Equal(got, want) {
			t.Fatalf("key %s: %v, ring says %v", key, got, want)
		}
	}
	if got := p.AppendPreference(nil, 42, 20); len(got) != 5 {
		t.Fatalf("n above the node count gave %v", got)
	}
}

// TestUnhealthy: a member gossip reports down is unhealthy unless it
// asked this node lately; a failed call makes a peer unhealthy for Retry;
// with nobody down and nothing failing the answer is nil.
func TestUnhealthy(t *testing.T) {
	now := time.Now()
	ms := []membership.Member{
		{ID: "a", State: membership.Alive}, {ID: "b", State: membership.Alive},
		{ID: "c", State: membership.Dead}, {ID: "d", State: membership.Suspect},
	}
	self := membership.Member{ID: "a", State: membership.Alive}
	all := New(Spec{Self: self, Members: ms[:2], VNodes: 8, Health: Health{Retry: time.Second}}, nil)
	if all.Unhealthy(now) != nil {
		t.Fatal("every member alive and nothing failing: want nil")
	}
	h := Health{Retry: time.Second,
		Failing: map[string]time.Time{"b": now.Add(-500 * time.Millisecond), "a": now.Add(-2 * time.Second)},
		Heard:   map[string]time.Time{"d": now.Add(-time.Second)}}
	top := New(Spec{Self: self, Members: ms, VNodes: 8, Health: h}, nil)
	down := top.Unhealthy(now)
	for id, want := range map[string]bool{"a": false, "b": true, "c": true, "d": false} {
		if got := down(id); got != want {
			t.Errorf("%s unhealthy = %v, want %v", id, got, want)
		}
	}
	later := top.Unhealthy(now.Add(HeardFresh))
	if !later("d") || later("b") {
		t.Error("after HeardFresh d counts down again, and b's failure has expired")
	}
}

// TestStrict: catching up, the cut-off latch, or more than half of the
// others out of reach make requests strict.
func TestStrict(t *testing.T) {
	now := time.Now()
	self := membership.Member{ID: "a", State: membership.Alive}
	ms := []membership.Member{{ID: "b", State: membership.Alive}, {ID: "c", State: membership.Alive}}
	base := New(Spec{Self: self, Members: ms, VNodes: 8, Health: Health{Retry: time.Second}}, nil)
	if base.Strict(now) {
		t.Fatal("healthy cluster is strict")
	}
	for name, h := range map[string]Health{
		"behind":  {Retry: time.Second, Behind: true},
		"cut off": {Retry: time.Second, CutOff: true},
		"failing": {Retry: time.Second, Failing: map[string]time.Time{"b": now, "c": now}},
	} {
		if !base.WithHealth(h).Strict(now) {
			t.Errorf("%s: not strict", name)
		}
	}
	if base.WithHealth(Health{Retry: time.Second, Failing: map[string]time.Time{"b": now}}).Strict(now) {
		t.Error("one of two others failing is strict")
	}
}

// TestNewKeepsTheRing: a liveness change keeps the ring (and its cached
// ranges); a change of the ring membership builds a new one; a member
// that Left is out of the ring but still known.
func TestNewKeepsTheRing(t *testing.T) {
	self := membership.Member{ID: "a", State: membership.Alive}
	ms := []membership.Member{{ID: "b", State: membership.Alive}, {ID: "c", State: membership.Alive}}
	t1 := New(Spec{Self: self, Members: ms, VNodes: 8}, nil)
	r1 := t1.ReplicaRanges(2)
	ms2 := slices.Clone(ms)
	ms2[1].State = membership.Dead
	t2 := New(Spec{Self: self, Members: ms2, VNodes: 8}, t1)
	if t2.Ring() != t1.Ring() || &t2.ReplicaRanges(2)[0] != &r1[0] {
		t.Fatal("a liveness change rebuilt the ring")
	}
	if !t2.Down("c") || t1.Down("c") {
		t.Fatal("Down does not follow the member list")
	}
	ms3 := slices.Clone(ms)
	ms3[1].State = membership.Left
	t3 := New(Spec{Self: self, Members: ms3, VNodes: 8}, t2)
	if t3.Ring() == t2.Ring() || slices.Contains(t3.IDs(), "c") {
		t.Fatalf("a member that left is still in the ring: %v", t3.IDs())
	}
	if _, ok := t3.Member("c"); !ok {
		t.Fatal("a member that left is no longer known")
	}
	if got := t3.IDs(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("IDs = %v", got)
	}
}
