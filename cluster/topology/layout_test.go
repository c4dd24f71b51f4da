package topology

import (
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/ringcache/ringcache/cluster/layout"
	"github.com/ringcache/ringcache/cluster/membership"
)

func apply(t *testing.T, l *layout.Layout, c layout.Command) *layout.Layout {
	t.Helper()
	next, err := layout.Apply(l, c, 3)
	if err != nil {
		t.Fatal(err)
	}
	return next
}

func lm(id string) *layout.Member {
	return &layout.Member{ID: id, RaftID: xxhash.Sum64String(id), ClusterAddr: id + ":1"}
}

// TestLayoutStages: a topology built from a layout reads from the
// current ring and writes to both until read-new, then reads from the
// new ring and still writes both, then uses the new ring alone; the
// ring of an unchanged layout is reused.
func TestLayoutStages(t *testing.T) {
	l := apply(t, &layout.Layout{}, layout.Command{Kind: layout.CmdBootstrap, ClusterID: "c", Member: lm("a"), VNodes: 16})
	for _, id := range []string{"b", "c"} {
		l = apply(t, l, layout.Command{Kind: layout.CmdJoin, Member: lm(id)})
		for l.Op != nil {
			if l.Op.Stage == layout.Streaming {
				l = apply(t, l, layout.Command{Kind: layout.CmdStreamed, Node: id, Epoch: l.Op.Started})
			}
			l = apply(t, l, layout.Command{Kind: layout.CmdAdvance, Stage: l.Op.Stage, Epoch: l.Op.Epoch})
		}
	}
	self := membership.Member{ID: "a", State: membership.Alive}
	top := func(l *layout.Layout, prev *Topology) *Topology {
		return New(Spec{Self: self, Layout: l}, prev)
	}
	t0 := top(l, nil)
	if t0.Also() != nil || t0.Ring().Len() != 3 || t0.Epoch() != l.Epoch {
		t.Fatalf("idle layout: also %v, %d members, epoch %d", t0.Also(), t0.Ring().Len(), t0.Epoch())
	}
	if again := top(l, t0); again.Ring() != t0.Ring() {
		t.Fatal("the same layout built a new ring")
	}
	cur, _ := l.Rings()
	l = apply(t, l, layout.Command{Kind: layout.CmdJoin, Member: lm("d")})
	_, next := l.Rings()
	want := []struct {
		ring, also uint64
	}{
		{cur.Digest(), next.Digest()}, // write-both/read-old
		{cur.Digest(), next.Digest()}, // streaming
		{next.Digest(), cur.Digest()}, // write-both/read-new
		{next.Digest(), 0},            // use-new
	}
	for i, w := range want {
		tp := top(l, t0)
		var also uint64
		if tp.Also() != nil {
			also = tp.Also().Digest()
		}
		if tp.Ring().Digest() != w.ring || also != w.also {
			t.Fatalf("stage %s: wrong rings", l.Op.Stage)
		}
		if len(tp.IDs()) != 4 {
			t.Fatalf("stage %d: ids %v", i, tp.IDs())
		}
		if l.Op.Stage == layout.Streaming {
			l = apply(t, l, layout.Command{Kind: layout.CmdStreamed, Node: "d", Epoch: l.Op.Started})
		}
		l = apply(t, l, layout.Command{Kind: layout.CmdAdvance, Stage: l.Op.Stage, Epoch: l.Op.Epoch})
	}
	if tp := top(l, t0); tp.Ring().Digest() != next.Digest() || tp.Also() != nil {
		t.Fatal("after the join: not the new ring alone")
	}
}
