package cluster

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ringcache/ringcache/cluster/membership"
)

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
	} {
		t.Run(tc.name, func(t *testing.T) {
			iso, reach, others := isolation(tc.ms, "s", tc.seeded)
			if iso != tc.isolated || reach != tc.reachable || others != tc.each {
				t.Fatalf("isolation = %v, %d reachable of %d; want %v, %d of %d", iso, reach, others, tc.isolated, tc.reachable, tc.each)
			}
		})
	}
}

func TestIsolatedErrorReply(t *testing.T) {
	err := error(&IsolatedError{Members: 4})
	if !errors.Is(err, ErrIsolated) || !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("%v does not wrap ErrIsolated and ErrNoQuorum", err)
	}
	var re interface{ RESPError() string }
	if !errors.As(err, &re) || !strings.HasPrefix(re.RESPError(), "NOQUORUM this node reaches no other cluster member (0 of 4") {
		t.Fatalf("RESP reply %q", re.RESPError())
	}
	if r := (&IsolatedError{}).RESPError(); !strings.Contains(r, "no seed answered") {
		t.Fatalf("reply of a node that never reached a seed: %q", r)
	}
	v := &view{isolated: true, others: 2}
	if err := v.isolationErr(); !errors.Is(err, ErrIsolated) {
		t.Fatalf("isolationErr of an isolated view = %v", err)
	}
	if err := (&view{}).isolationErr(); err != nil {
		t.Fatalf("isolationErr of a view that is not isolated = %v", err)
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
