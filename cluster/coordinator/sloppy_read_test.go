package coordinator

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/engine"
)

// TestSubstituteDataNeverAnswersASloppyRead: a node standing in for a
// down owner may hold the key as data of its own (left from before a ring
// change, or written there by an older build's read repair, which no
// anti-entropy round covers since it does not replicate the range). A
// sloppy read asks a stand-in for its hints only: that stale copy must
// never be read, or once the owners purged the tombstone of a later DEL
// it would bring the deleted value back. With two owners down and the
// third holding nothing, the read answers NOQUORUM or nil, never the
// value; read repair never writes data on the stand-in.
func TestSubstituteDataNeverAnswersASloppyRead(t *testing.T) {
	ids := []string{"n0", "n1", "n2", "n3", "n4"}
	locals := map[string]*replica.Local{}
	for _, id := range ids {
		locals[id] = replica.NewLocal(openMemEngine(t), nil)
	}
	var mu sync.Mutex
	down := map[string]bool{}
	topo := newTestTopo("n0", ids, func(id string) (replica.Replica, bool) {
		mu.Lock()
		defer mu.Unlock()
		if down[id] {
			return downReplica{}, true
		}
		return locals[id], true
	})
	// A key n0 neither owns nor stands in for first.
	var key []byte
	var prefs []string
	for i := 0; ; i++ {
		k := []byte(fmt.Sprintf("k%d", i))
		p := topo.owners(k, 4)
		if !slices.Contains(p, "n0") {
			key, prefs = k, p
			break
		}
	}
	mu.Lock()
	down[prefs[0]], down[prefs[1]] = true, true
	mu.Unlock()
	topo.setDown(prefs[0], prefs[1])
	sub := prefs[3]
	co := sloppyCoordinator(t, topo)
	stale := engine.Record{Value: []byte("deleted long ago"), Version: co.clock.Now()}
	if _, err := locals[sub].Engine().Apply(key, stale); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		items, err := co.Get(context.Background(), [][]byte{key})
		if err == nil && items[0].Found {
			t.Fatalf("a stand-in's own stale data answered the read: %q", items[0].Value)
		}
	}
	eventually(t, "late answers folded in", func() bool { return co.Stats().Reads == 5 })
	if r, ok, _ := locals[sub].Engine().Lookup(key); !ok || string(r.Value) != "deleted long ago" || r.Version != stale.Version {
		t.Fatalf("the stand-in's data changed: %+v %v", r, ok)
	}
}

type downReplica struct{ noAdmin }

func (downReplica) Apply(context.Context, replica.ApplyRequest) ([]engine.Version, error) {
	return nil, errInjected
}
func (downReplica) Read(context.Context, replica.ReadRequest) (replica.ReadReply, error) {
	return replica.ReadReply{}, errInjected
}

// slowReplica answers every call after a delay.
type slowReplica struct {
	*replica.Local
	d time.Duration
}

func (s slowReplica) Read(ctx context.Context, req replica.ReadRequest) (replica.ReadReply, error) {
	keys := req.Keys
	select {
	case <-time.After(s.d):
	case <-ctx.Done():
		return replica.ReadReply{}, ctx.Err()
	}
	return s.Local.Read(ctx, replica.ReadRequest{Keys: keys})
}

// twoOwnersDown starts six replicas, n0 to n5, and a coordinator on n0
// for a key that n0 neither owns nor stands in for (prefs is its whole
// preference list): its first two owners are down (calls fail, and the
// coordinator knows), the third answers after 100ms. setDown takes one
// more node down.
func twoOwnersDown(t *testing.T) (co *Coordinator, locals map[string]*replica.Local, key []byte, prefs []string, setDown func(string)) {
	t.Helper()
	ids := []string{"n0", "n1", "n2", "n3", "n4", "n5"}
	locals = map[string]*replica.Local{}
	for _, id := range ids {
		locals[id] = replica.NewLocal(openMemEngine(t), nil)
	}
	var mu sync.Mutex
	down := map[string]bool{}
	isDown := func(id string) bool { mu.Lock(); defer mu.Unlock(); return down[id] }
	topo := newTestTopo("n0", ids, func(id string) (replica.Replica, bool) {
		switch {
		case isDown(id):
			return downReplica{}, true
		case len(prefs) > 2 && id == prefs[2]:
			return slowReplica{locals[id], 100 * time.Millisecond}, true
		}
		return locals[id], true
	})
	for i := 0; ; i++ {
		k := []byte(fmt.Sprintf("k%d", i))
		p := topo.owners(k, 6)
		if p[5] == "n0" {
			key, prefs = k, p
			break
		}
	}
	setDown = func(id string) {
		mu.Lock()
		down[id] = true
		ids := slices.Sorted(maps.Keys(down))
		mu.Unlock()
		topo.setDown(ids...)
	}
	setDown(prefs[0])
	setDown(prefs[1])
	return sloppyCoordinator(t, topo), locals, key, prefs, setDown
}

// TestStandInsWithoutHintsDoNotMakeAQuorum: two of a key's three owners
// are down and the third answers slowly. The two stand-ins answer at once
// but hold no hint for the key (it was written before the outage): their
// "nothing" must not count as two replies, or the read would answer nil
// for a key the third owner holds. The read waits for that owner and,
// with one reply that counts out of the two it needs, answers NOQUORUM.
// (A stand-in that holds a hint for a key counts: see clustertest's
// TestSloppyQuorumWithTwoOwnersDown.)
func TestStandInsWithoutHintsDoNotMakeAQuorum(t *testing.T) {
	co, locals, key, prefs, _ := twoOwnersDown(t)
	owners := prefs[:3]
	rec := engine.Record{Value: []byte("v"), Version: co.clock.Now()}
	for _, o := range owners {
		if _, err := locals[o].Engine().Apply(key, rec); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		items, err := co.Get(context.Background(), [][]byte{key})
		if err == nil && !items[0].Found {
			t.Fatal("GET answered nil for a key the reachable owner holds")
		}
		wantNoQuorum(t, err, "NOQUORUM not enough replicas replied to the read: 1 of 2 required")
	}
}

// TestStandInsAloneNeverAnswerARead: the coordinator believes two of a
// key's owners down, but one of them is back and took a newer write
// (through another coordinator, with the third owner) that the stand-ins
// never saw: each holds a hint with an older value. Their two answers
// must not make the read on their own, or it would go back to the older
// value; the read waits for the third owner, slower, and answers the
// newer one.
func TestStandInsAloneNeverAnswerARead(t *testing.T) {
	co, locals, key, prefs, setDown := twoOwnersDown(t)
	owners := prefs[:3]
	old := engine.Record{Value: []byte("3"), Version: co.clock.Now()}
	for _, sub := range prefs[3:5] {
		eng := locals[sub].Engine()
		for _, o := range owners[:2] {
			if _, err := eng.PutHints(o, [][]byte{key}, []engine.Record{old}, 0); err != nil {
				t.Fatal(err)
			}
		}
		locals[sub].SetHandoff(heldHints{eng, owners[:2]}, nil)
	}
	newer := engine.Record{Value: []byte("4"), Version: co.clock.Now()}
	for _, o := range owners[1:] {
		if _, err := locals[o].Engine().Apply(key, newer); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		items, err := co.Get(context.Background(), [][]byte{key})
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		if !items[0].Found || string(items[0].Value) != "4" {
			t.Fatalf("GET = %+v: two stand-ins' older hints answered the read", items[0])
		}
	}
	// With every owner down the stand-ins alone cannot answer.
	setDown(owners[2])
	_, err := co.Get(context.Background(), [][]byte{key})
	wantNoQuorum(t, err, "NOQUORUM not enough replicas replied to the read: 0 of 2 required")
}

// heldHints reads the hints an engine holds for targets.
type heldHints struct {
	eng     *engine.Engine
	targets []string
}

func (h heldHints) HoldNewer(string, [][]byte, []engine.Record) ([]engine.Version, error) {
	return nil, errInjected
}

func (h heldHints) Merge(keys [][]byte, recs []engine.Record, found []bool) error {
	hr, hf := make([]engine.Record, len(keys)), make([]bool, len(keys))
	for _, target := range h.targets {
		if err := h.eng.LookupHints(target, keys, hr, hf); err != nil {
			return err
		}
		for i := range keys {
			if hf[i] && (!found[i] || hr[i].Version.Compare(recs[i].Version) > 0) {
				recs[i], found[i] = hr[i], true
			}
		}
	}
	return nil
}

// behindState is a Catching that is always behind.
type behindState struct{}

func (behindState) Behind() bool     { return true }
func (behindState) HintsFrom(string) {}
func (behindState) Asked(string)     {}

// TestBehindReplicaDoesNotMakeAQuorum: the coordinator and a replica that
// is catching up both lack a key that the third replica, answering a
// little later, holds. Two quick "nothing"s must not settle the read:
// the replica catching up says so, its answer does not count, and the
// read waits for the third.
func TestBehindReplicaDoesNotMakeAQuorum(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	key := "k"
	rec := engine.Record{Value: []byte("v"), Version: tc.coords["n0"].clock.Now()}
	if _, err := tc.locals["n2"].Engine().Apply([]byte(key), rec); err != nil {
		t.Fatal(err)
	}
	tc.locals["n1"].SetCatching(behindState{})
	tc.net.mu.Lock()
	tc.net.mu.delay["n2"] = 60 * time.Millisecond
	tc.net.mu.Unlock()
	for range 3 {
		if it := mustGet(t, tc.coords["n0"], key); !it.Found || string(it.Value) != "v" {
			t.Fatalf("GET = %+v: the answer of a replica catching up settled the read", it)
		}
	}
	if st := tc.coords["n0"].Stats(); st.ReadsBehind == 0 {
		t.Fatal("no answer counted as behind")
	}
}

// sloppyCoordinator is n0's coordinator over topo, with sloppy quorum on,
// closed when the test ends.
func sloppyCoordinator(t *testing.T, topo *testTopo) *Coordinator {
	t.Helper()
	c := DefaultConfig()
	c.Self = "n0"
	c.Topology = &topo.cur
	c.Sloppy = true
	co, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = co.Close() })
	return co
}
