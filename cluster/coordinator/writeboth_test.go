package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/ringcache/ringcache/cluster/layout"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/server/store"
)

// joiningLayout returns the layout of n0..n2 with n3 joining, at stage.
func joiningLayout(t *testing.T, stage layout.Stage) *layout.Layout {
	t.Helper()
	apply := func(l *layout.Layout, c layout.Command) *layout.Layout {
		next, err := layout.Apply(l, c, 3)
		if err != nil {
			t.Fatal(err)
		}
		return next
	}
	l := settledLayout(t, []string{"n0", "n1", "n2"})
	l = apply(l, layout.Command{Kind: layout.CmdJoin, Member: &layout.Member{ID: "n3", RaftID: xxhash.Sum64String("n3"), ClusterAddr: "n3"}})
	for l.Op.Stage != stage {
		if l.Op.Stage == layout.Streaming {
			l = apply(l, layout.Command{Kind: layout.CmdStreamed, Node: "n3", Epoch: l.Op.Started})
		}
		l = apply(l, layout.Command{Kind: layout.CmdAdvance, Stage: l.Op.Stage, Epoch: l.Op.Epoch})
	}
	return l
}

// TestWriteBothNeedsWOnEachRing: while a join writes both rings, a write
// needs W acknowledgements among the key's old replicas and W among its
// new ones, where a stand-in does not count for the new; reads use the
// stage's ring.
func TestWriteBothNeedsWOnEachRing(t *testing.T) {
	tc := newTestCluster(t, 4, nil)
	l := joiningLayout(t, layout.WriteBothReadOld)
	for _, id := range tc.ids {
		tc.topos[id].setLayout(l)
	}
	cur, next := l.Rings()
	// A key that moves: its old owners {a, b, c}, new ones {a, b, n3}
	// (or with n3 in another position), coordinated by a node that owns
	// it on neither ring, if any, else by n3.
	var key []byte
	var old, nw []string
	for i := 0; key == nil; i++ {
		k := []byte(fmt.Sprintf("k%d", i))
		o, n := cur.PreferenceList(engine.Token(k), 3), next.PreferenceList(engine.Token(k), 3)
		if slices.Contains(n, "n3") && !slices.Contains(o, "n3") {
			key, old, nw = k, o, n
		}
	}
	dropped := ""
	for _, id := range old {
		if !slices.Contains(nw, id) {
			dropped = id
		}
	}
	both := slices.DeleteFunc(slices.Clone(old), func(id string) bool { return id == dropped })
	coord := tc.coords["n3"]
	put := func(v string) error {
		return coord.Put(context.Background(), []store.Mutation{{Key: key, Value: []byte(v)}})
	}

	// One replica on both rings down: the dropped one and n3 make W=2 on
	// each ring with the other shared replica.
	tc.net.set(both[0], faultDown)
	if err := put("v1"); err != nil {
		t.Fatalf("write-both with %s down: %v", both[0], err)
	}
	if rec, ok := tc.stored("n3", string(key)); !ok || string(rec.Value) != "v1" {
		t.Fatal("the joining replica did not get the write")
	}
	// The joining replica down as well: the old ring still has W (the
	// dropped owner and the other shared one), the new one only 1.
	tc.net.set("n3", faultDown)
	err := put("v2")
	var qe *QuorumError
	if !errors.As(err, &qe) || !qe.Write {
		t.Fatalf("write-both with %s and n3 down = %v, want a write NOQUORUM", both[0], err)
	}
	tc.net.set(both[0], faultNone)
	tc.net.set("n3", faultNone)

	// Read-old: a read asks the old owners, never n3.
	_, before := tc.net.calls("n3")
	reads0, _ := tc.net.calls("n3")
	if _, err := tc.coords["n0"].Get(context.Background(), [][]byte{key}); err != nil {
		t.Fatal(err)
	}
	if reads, applies := tc.net.calls("n3"); reads != reads0 || applies != before {
		t.Fatalf("a read at write-both/read-old asked n3 (%d reads)", reads-reads0)
	}
	// Use-new: writes and reads use the new ring only.
	l = joiningLayout(t, layout.UseNew)
	for _, id := range tc.ids {
		tc.topos[id].setLayout(l)
	}
	tc.net.set(dropped, faultDown)
	rejected := tc.net.rejections(dropped)
	if err := tc.coords[nw[0]].Put(context.Background(), []store.Mutation{{Key: key, Value: []byte("v3")}}); err != nil {
		t.Fatalf("use-new write with the dropped owner down: %v", err)
	}
	if got, err := tc.coords[nw[1]].Get(context.Background(), [][]byte{key}); err != nil || string(got[0].Value) != "v3" {
		t.Fatalf("use-new read: %v %v", got, err)
	}
	if tc.net.rejections(dropped) != rejected {
		t.Fatal("a use-new request went to the owner the join dropped")
	}
}
