package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"

	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/server"
)

// TestSloppyReadNeverRepairsSubstituteWithData: a sloppy read asks a
// substitute for a down owner; read repair must not write the key into
// the substitute's own data (it would keep it forever: no anti-entropy
// covers a range it does not replicate). Otherwise, once the owners purge
// the tombstone of a later DEL, a read with the owner down again would
// bring the deleted value back.
func TestSloppyReadNeverRepairsSubstituteWithData(t *testing.T) {
	ids := []string{"n0", "n1", "n2", "n3", "n4"}
	locals := map[string]*LocalReplica{}
	for _, id := range ids {
		ecfg := engine.DefaultConfig()
		ecfg.Dir = "db"
		ecfg.FS = vfs.NewMem()
		ecfg.Fsync = engine.FsyncNo
		ecfg.MemTableBytes = 4 << 20
		ecfg.CacheBytes = 4 << 20
		ecfg.TombstoneGrace = time.Millisecond
		ecfg.ReclaimInterval = 10 * time.Millisecond
		eng, err := engine.Open(ecfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = eng.Close() })
		locals[id] = NewLocalReplica(eng, nil)
	}
	var mu sync.Mutex
	down := map[string]bool{}
	health := func() func(string) bool {
		mu.Lock()
		defer mu.Unlock()
		if len(down) == 0 {
			return nil
		}
		snap := map[string]bool{}
		for k, v := range down {
			snap[k] = v
		}
		return func(id string) bool { return snap[id] }
	}
	setDown := func(id string, d bool) {
		mu.Lock()
		defer mu.Unlock()
		if d {
			down[id] = true
		} else {
			delete(down, id)
		}
	}
	peers := func(id string) (Replica, bool) {
		l, ok := locals[id]
		if !ok {
			return nil, false
		}
		mu.Lock()
		d := down[id]
		mu.Unlock()
		if d {
			return downReplica{}, true
		}
		return l, true
	}
	c := DefaultConfig()
	c.Self = "n0"
	c.Timeout = 2 * time.Second
	c.Placement = rotPlacement{ids: ids}
	c.Peers = peers
	c.Health = health
	co, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = co.Close() })

	// A key n0 does not own, so that n0 is not a substitute.
	var key []byte
	var owners []string
	for i := 0; ; i++ {
		k := []byte(fmt.Sprintf("k%d", i))
		o := rotPlacement{ids: ids}.AppendPreference(nil, engine.Token(k), 5)
		if !slices.Contains(o[:3], "n0") && o[3] != "n0" {
			key, owners = k, o
			break
		}
	}
	ctx := context.Background()
	if err := co.Put(ctx, []server.Mutation{{Key: key, Value: []byte("v1")}}); err != nil {
		t.Fatal(err)
	}
	sub := owners[3]
	setDown(owners[2], true)
	if _, err := co.Get(ctx, [][]byte{key}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the substitute's repair attempted", func() bool {
		st := co.Stats()
		return st.ReadRepairsSync+st.ReadRepairsBackground+st.ReadRepairFailures > 0
	})
	if _, ok, _ := locals[sub].Engine().Lookup(key); ok {
		t.Fatalf("read repair stored the key as data on substitute %s, which does not own it", sub)
	}
	// Owner back, key deleted everywhere, tombstones purged.
	setDown(owners[2], false)
	if err := co.Put(ctx, []server.Mutation{{Key: key, Delete: true}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "tombstones purged on the owners", func() bool {
		for _, o := range owners[:3] {
			if _, ok, _ := locals[o].Engine().Lookup(key); ok {
				return false
			}
		}
		return true
	})
	setDown(owners[2], true)
	items, err := co.Get(ctx, [][]byte{key})
	if err != nil {
		t.Fatal(err)
	}
	if items[0].Found {
		t.Fatalf("deleted key resurrected: GET = %q", items[0].Value)
	}
}

type downReplica struct{}

func (downReplica) Apply(context.Context, [][]byte, []engine.Record) ([]engine.Version, error) {
	return nil, errInjected
}
func (downReplica) Read(context.Context, [][]byte) (ReadReply, error) {
	return ReadReply{}, errInjected
}

// slowReplica answers every call after a delay.
type slowReplica struct {
	*LocalReplica
	d time.Duration
}

func (s slowReplica) Read(ctx context.Context, keys [][]byte) (ReadReply, error) {
	select {
	case <-time.After(s.d):
	case <-ctx.Done():
		return ReadReply{}, ctx.Err()
	}
	return s.LocalReplica.Read(ctx, keys)
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
	ids := []string{"n0", "n1", "n2", "n3", "n4", "n5"}
	locals := map[string]*LocalReplica{}
	for _, id := range ids {
		locals[id] = NewLocalReplica(openMemEngine(t), nil)
	}
	var key []byte
	var prefs []string
	for i := 0; ; i++ {
		k := []byte(fmt.Sprintf("k%d", i))
		p := rotPlacement{ids: ids}.AppendPreference(nil, engine.Token(k), 6)
		if p[5] == "n0" { // n0 coordinates and is neither owner nor stand-in
			key, prefs = k, p
			break
		}
	}
	owners, down := prefs[:3], map[string]bool{prefs[0]: true, prefs[1]: true}
	peers := func(id string) (Replica, bool) {
		switch {
		case down[id]:
			return downReplica{}, true
		case id == owners[2]:
			return slowReplica{locals[id], 100 * time.Millisecond}, true
		}
		return locals[id], true
	}
	c := DefaultConfig()
	c.Self = "n0"
	c.Placement = rotPlacement{ids: ids}
	c.Peers = peers
	c.Health = func() func(string) bool { return func(id string) bool { return down[id] } }
	co, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = co.Close() })
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

// behindState is a Catching that is always behind.
type behindState struct{}

func (behindState) Behind() bool     { return true }
func (behindState) HintsFrom(string) {}

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
