package local

import (
	"context"
	"errors"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/engine/enginetest"
	"github.com/ringcache/ringcache/engine/hlc"
	"github.com/ringcache/ringcache/server"
	"github.com/ringcache/ringcache/server/store"
)

// openLocal returns a Store over an in-memory engine whose expiry clock
// is *nowMs (Unix ms).
func openLocal(t *testing.T, nowMs *int64) (*Store, *engine.Engine) {
	t.Helper()
	eng := openMemEngine(t)
	now := func() time.Time { return time.UnixMilli(*nowMs) }
	return New(eng, hlc.New("n1", now), now), eng
}

func TestLocalNodesAndOwners(t *testing.T) {
	ms := time.Now().UnixMilli()
	l, _ := openLocal(t, &ms)
	want := []store.NodeInfo{{ID: DefaultNodeID, State: "alive", Share: 1}}
	if got := l.Nodes(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Nodes before SetNode = %+v, want %+v", got, want)
	}
	l.SetNode("n1", "127.0.0.1:7001")
	want = []store.NodeInfo{{ID: "n1", ClientAddr: "127.0.0.1:7001", State: "alive", Share: 1}}
	if got := l.Nodes(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Nodes = %+v, want %+v", got, want)
	}
	for _, key := range []string{"", "a", "user:42", string(make([]byte, 300))} {
		if got := l.Owners([]byte(key)); !reflect.DeepEqual(got, []string{"n1"}) {
			t.Errorf("Owners(%q) = %v, want [n1]", key, got)
		}
	}
}

// TestLocalSetNodeConcurrent lets the race detector check that SetNode
// may run while the view is being read.
func TestLocalSetNodeConcurrent(t *testing.T) {
	ms := time.Now().UnixMilli()
	l, _ := openLocal(t, &ms)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			l.SetNode("n1", "127.0.0.1:7001")
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			n := l.Nodes()[0]
			if n.ID != DefaultNodeID && n.ID != "n1" {
				t.Errorf("torn node id %q", n.ID)
				return
			}
			if owners := l.Owners([]byte("k")); len(owners) != 1 {
				t.Errorf("Owners = %v", owners)
				return
			}
		}
	}()
	wg.Wait()
}

func TestLocalGet(t *testing.T) {
	ms := time.Now().UnixMilli()
	l, eng := openLocal(t, &ms)
	ctx := context.Background()
	expireAt := ms + time.Hour.Milliseconds()
	put := func(m store.Mutation) {
		t.Helper()
		if err := l.Put(ctx, []store.Mutation{m}); err != nil {
			t.Fatalf("Put %+v: %v", m, err)
		}
	}
	stored := func(key string) engine.Record {
		t.Helper()
		r, ok, err := eng.Lookup([]byte(key))
		if err != nil || !ok {
			t.Fatalf("engine.Lookup(%q) = %v, %v", key, ok, err)
		}
		return r
	}
	put(store.Mutation{Key: []byte("plain"), Value: []byte("v1")})
	put(store.Mutation{Key: []byte("ttl"), Value: []byte("v2"), ExpireAt: expireAt})
	put(store.Mutation{Key: []byte("gone"), Value: []byte("v3")})
	put(store.Mutation{Key: []byte("gone"), Delete: true})

	tests := []struct {
		key  string
		want store.LocalRecord
		ok   bool
	}{
		{key: "missing"},
		{key: "plain", ok: true, want: store.LocalRecord{Value: []byte("v1"), Version: stored("plain").Version.String()}},
		{key: "ttl", ok: true, want: store.LocalRecord{Value: []byte("v2"), Version: stored("ttl").Version.String(), ExpireAt: expireAt}},
		{key: "gone", ok: true, want: store.LocalRecord{Version: stored("gone").Version.String(), Tombstone: true}},
	}
	for _, tt := range tests {
		got, ok, err := l.LocalGet(ctx, []byte(tt.key))
		if err != nil || ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("LocalGet(%q) = %+v, %v, %v; want %+v, %v, nil", tt.key, got, ok, err, tt.want, tt.ok)
		}
	}
	if v1, v2 := stored("plain").Version, stored("ttl").Version; v1.Compare(v2) >= 0 {
		t.Errorf("later write has version %v, not after %v", v2, v1)
	}

	// An expired record is invisible to Get but LocalGet still shows it:
	// it reports what the replica holds, not what a client would read.
	ms = expireAt + 1
	items, err := l.Get(ctx, [][]byte{[]byte("ttl")})
	if err != nil || items[0].Found {
		t.Fatalf("Get of expired key = %+v, %v; want not found", items, err)
	}
	if rec, ok, err := l.LocalGet(ctx, []byte("ttl")); err != nil || !ok || string(rec.Value) != "v2" {
		t.Errorf("LocalGet of expired key = %+v, %v, %v; want the stored record", rec, ok, err)
	}
}

func TestLocalGetCancelled(t *testing.T) {
	ms := time.Now().UnixMilli()
	l, _ := openLocal(t, &ms)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := l.LocalGet(ctx, []byte("k")); !errors.Is(err, context.Canceled) {
		t.Errorf("LocalGet with a cancelled context: err = %v, want context.Canceled", err)
	}
}

func TestLocalGetClosedEngine(t *testing.T) {
	ms := time.Now().UnixMilli()
	l, eng := openLocal(t, &ms)
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := l.LocalGet(context.Background(), []byte("k")); err == nil || ok {
		t.Errorf("LocalGet on a closed engine = %v, %v; want an error", ok, err)
	}
}

// TestLocalThroughServer checks the RINGCACHE commands end to end on a
// real engine behind the RESP server.
func TestLocalThroughServer(t *testing.T) {
	ms := time.Now().UnixMilli()
	l, _ := openLocal(t, &ms)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.SetNode("n1", ln.Addr().String())
	srv, err := server.New(server.DefaultConfig(), l)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("Serve = %v", err)
		}
	})
	c := redis.NewClient(&redis.Options{Addr: ln.Addr().String()})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()

	nodes, err := c.Do(ctx, "ringcache", "nodes").Result()
	want := []any{[]any{"n1", ln.Addr().String(), "alive", int64(0), "1.0000", "normal"}}
	if err != nil || !reflect.DeepEqual(nodes, want) {
		t.Errorf("RINGCACHE NODES = %#v, %v; want %#v", nodes, err, want)
	}
	if got, err := c.Do(ctx, "ringcache", "owners", "k").Result(); err != nil || !reflect.DeepEqual(got, []any{"n1"}) {
		t.Errorf("RINGCACHE OWNERS = %#v, %v", got, err)
	}
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	rec, _, _ := l.LocalGet(ctx, []byte("k"))
	got, err := c.Do(ctx, "ringcache", "localget", "k").Result()
	if want := []any{"v", rec.Version, int64(0), int64(0)}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("RINGCACHE LOCALGET = %#v, %v; want %#v", got, err, want)
	}
	if err := c.Del(ctx, "k").Err(); err != nil {
		t.Fatal(err)
	}
	got, err = c.Do(ctx, "ringcache", "localget", "k").Result()
	if arr, ok := got.([]any); err != nil || !ok || len(arr) != 4 || arr[0] != nil || arr[3] != int64(1) {
		t.Errorf("RINGCACHE LOCALGET after DEL = %#v, %v; want a tombstone", got, err)
	}
	if _, err := c.Do(ctx, "ringcache", "localget", "never").Result(); err != redis.Nil {
		t.Errorf("RINGCACHE LOCALGET of a missing key: err = %v, want nil reply", err)
	}
	if _, err := c.Do(ctx, "ringcache", "consistency", "one", "all").Result(); err == nil ||
		err.Error() != "ERR RINGCACHE CONSISTENCY needs cluster mode" {
		t.Errorf("RINGCACHE CONSISTENCY without a hook: err = %v", err)
	}
}

func TestEngineInfo(t *testing.T) {
	secs := EngineInfo(openMemEngine(t))
	if len(secs) != 1 || secs[0].Name != "Engine" || len(secs[0].Fields) == 0 {
		t.Fatalf("sections %+v", secs)
	}
}

// A Store is the server's store, with INFO and the cluster views.
var (
	_ server.Store        = (*Store)(nil)
	_ server.InfoProvider = (*Store)(nil)
	_ server.ClusterView  = (*Store)(nil)
)

// openMemEngine opens a small in-memory engine, closed when the test ends.
func openMemEngine(t testing.TB) *engine.Engine { return enginetest.Open(t) }

// A data directory with a flush floor ahead of this node's clock (a
// cluster member's, flushed by a node whose clock ran ahead): writes are
// stamped above the floor, at once for a store opened on it, and by a
// restamp for one whose engine took the floor later. None is dropped.
func TestLocalWritesAboveTheFlushFloor(t *testing.T) {
	ms := time.Now().UnixMilli()
	eng := openMemEngine(t)
	ctx := context.Background()
	clock := hlc.New("n1", func() time.Time { return time.UnixMilli(ms) })
	l := New(eng, clock, nil)
	ahead := engine.Version{Wall: ms + 5000, Node: 7}
	if err := eng.DropAllAt(ahead); err != nil {
		t.Fatal(err)
	}
	if err := l.Put(ctx, []store.Mutation{{Key: []byte("k"), Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	r, ok, err := eng.Lookup([]byte("k"))
	if err != nil || !ok || string(r.Value) != "v" || r.Version.Compare(ahead) <= 0 {
		t.Fatalf("after a write below the floor: %+v, %v, %v; want v above %v", r, ok, err, ahead)
	}
	// A store opened on the engine stamps above the floor from the start.
	later := engine.Version{Wall: ms + 9000, Node: 7}
	if err := eng.DropAllAt(later); err != nil {
		t.Fatal(err)
	}
	clock2 := hlc.New("n1", func() time.Time { return time.UnixMilli(ms) })
	New(eng, clock2, nil)
	if v := clock2.Now(); v.Compare(later) <= 0 {
		t.Fatalf("a store opened on a floor of %v stamps %v", later, v)
	}
}
