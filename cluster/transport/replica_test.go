package transport

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ringcache/ringcache/engine"
)

// memReplica is a last-write-wins map, enough to drive the typed helpers.
type memReplica struct {
	mu   sync.Mutex
	recs map[string]engine.Record
}

func (m *memReplica) ApplyBatch(_ context.Context, items []ApplyItem) ([]ApplyResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	res := make([]ApplyResult, len(items))
	for i, it := range items {
		if string(it.Key) == "poison" {
			res[i].Err = errors.New("cannot store poison")
			continue
		}
		cur, ok := m.recs[string(it.Key)]
		if ok && cur.Version.Compare(it.Record.Version) >= 0 {
			continue
		}
		r := it.Record
		r.Value = append([]byte(nil), r.Value...)
		m.recs[string(it.Key)] = r
		res[i].Applied = true
	}
	return res, nil
}

func (m *memReplica) ReadBatch(_ context.Context, keys [][]byte) ([]ReadResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	res := make([]ReadResult, len(keys))
	for i, k := range keys {
		r, ok := m.recs[string(k)]
		res[i] = ReadResult{Found: ok, Record: r}
	}
	return res, nil
}

func TestReplicaOperations(t *testing.T) {
	rep := &memReplica{recs: map[string]engine.Record{}}
	skew := 10 * time.Second
	_, addr := startServer(t, NewReplicaMux(rep, func() time.Time { return time.Now().Add(skew) }), testConfig())
	c := newClient(t, addr, testConfig())
	ctx := ctxTimeout(t, 10*time.Second)

	v1 := engine.Version{Wall: 100, Node: 1}
	v2 := engine.Version{Wall: 200, Node: 1}
	res, err := Apply(ctx, c, []ApplyItem{
		{Key: []byte("a"), Record: engine.Record{Value: []byte("new"), Version: v2}},
		{Key: []byte("b"), Record: engine.Record{Version: v1, Tombstone: true}},
		{Key: []byte("poison"), Record: engine.Record{Version: v1}},
	})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if !res[0].Applied || !res[1].Applied || res[2].Applied || !errors.Is(res[2].Err, ErrRemote) {
		t.Fatalf("apply results %+v", res)
	}
	// An older version loses: not applied, and not an error.
	res, err = Apply(ctx, c, []ApplyItem{{Key: []byte("a"), Record: engine.Record{Value: []byte("old"), Version: v1}}})
	if err != nil || res[0].Applied || res[0].Err != nil {
		t.Fatalf("stale apply: %+v %v", res, err)
	}

	got, err := Read(ctx, c, [][]byte{[]byte("a"), []byte("b"), []byte("missing")})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	want := []ReadResult{
		{Found: true, Record: engine.Record{Value: []byte("new"), Version: v2}},
		{Found: true, Record: engine.Record{Version: v1, Tombstone: true}},
		{},
	}
	for i := range want {
		if got[i].Found != want[i].Found || !recEqual(got[i].Record, want[i].Record) {
			t.Fatalf("read %d: %+v, want %+v", i, got[i], want[i])
		}
	}

	p, err := Ping(ctx, c)
	if err != nil {
		t.Fatalf("Ping: %v", err)
	}
	// The estimate is off by at most RTT/2 plus rounding; allow a wide
	// margin, this checks the sign and scale, not the precision.
	if d := p.Offset - skew; d < -time.Second || d > time.Second || p.RTT <= 0 {
		t.Fatalf("ping %+v: offset should be about %v", p, skew)
	}
}

// TestHelpersRejectWrongResultCount checks the helpers against a peer that
// answers with the wrong number of results.
func TestHelpersRejectWrongResultCount(t *testing.T) {
	liar := CallerFunc(func(_ context.Context, op uint8, _ []byte) ([]byte, error) {
		switch op {
		case OpApply:
			return AppendApplyResponse(nil, nil), nil
		case OpRead:
			return AppendReadResponse(nil, []ReadResult{{}, {}}), nil
		}
		return []byte{1}, nil
	})
	ctx := context.Background()
	if _, err := Apply(ctx, liar, []ApplyItem{{Key: []byte("k")}}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Apply: %v", err)
	}
	if _, err := Read(ctx, liar, [][]byte{[]byte("k")}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Read: %v", err)
	}
	if _, err := Ping(ctx, liar); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Ping: %v", err)
	}
}
