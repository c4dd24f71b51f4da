package membership

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
)

// memStore is a RosterStore in memory.
type memStore struct {
	mu   sync.Mutex
	vals map[string][]byte
	puts int
}

func (s *memStore) GetMeta(name string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vals[name]
	return slices.Clone(v), ok, nil
}

func (s *memStore) PutMeta(name string, val []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vals == nil {
		s.vals = map[string][]byte{}
	}
	s.vals[name] = slices.Clone(val)
	s.puts++
	return nil
}

func (s *memStore) putCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts
}

func sampleRoster() []Member {
	return []Member{
		{ID: "b", GossipAddr: "10.0.0.2:7946", ClientAddr: "10.0.0.2:6379", ClusterAddr: "10.0.0.2:7380", VNodes: 128, NodeState: NodeNormal, State: Alive},
		{ID: "a", GossipAddr: "10.0.0.1:7946", ClientAddr: "10.0.0.1:6379", ClusterAddr: "10.0.0.1:7380", VNodes: 64, NodeState: NodeJoining, State: Suspect},
		{ID: "c", GossipAddr: "10.0.0.3:7946", ClientAddr: "10.0.0.3:6379", ClusterAddr: "10.0.0.3:7380", VNodes: 1, NodeState: NodeLeaving, State: Left},
		{ID: "d", GossipAddr: "10.0.0.4:7946", VNodes: MaxVNodes, NodeState: NodeNormal, State: Dead},
	}
}

func TestRosterRoundTrip(t *testing.T) {
	in := sampleRoster()
	raw, err := encodeRoster(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRoster(raw)
	if err != nil {
		t.Fatal(err)
	}
	// Sorted by id; liveness reduced to Left or Dead.
	want := []string{"a:dead:normal", "b:dead:normal", "c:left:leaving", "d:dead:normal"}
	var have []string
	for _, m := range got {
		have = append(have, m.ID+":"+m.State.String()+":"+m.NodeState)
	}
	if !slices.Equal(have, want) {
		t.Fatalf("decoded %v, want %v", have, want)
	}
	if !slices.Equal(got, rosterOf(in)) {
		t.Fatalf("decoded %+v, want %+v", got, rosterOf(in))
	}
	if got[0].ClusterAddr != "10.0.0.1:7380" || got[0].ClientAddr != "10.0.0.1:6379" || got[0].GossipAddr != "10.0.0.1:7946" || got[0].VNodes != 64 {
		t.Fatalf("addresses or vnodes lost: %+v", got[0])
	}
	// Liveness alone does not change the roster.
	live := slices.Clone(in)
	live[0].State, live[1].State = Dead, Alive
	if !slices.Equal(rosterOf(live), rosterOf(in)) {
		t.Fatal("a liveness change changed the roster")
	}
}

func TestRosterDecodeRefusesDamage(t *testing.T) {
	good, err := encodeRoster(sampleRoster())
	if err != nil {
		t.Fatal(err)
	}
	dup, err := encodeRoster(sampleRoster()[:1])
	if err != nil {
		t.Fatal(err)
	}
	dup[1] = 2 // count 2, then the one member twice
	dup = append(dup, dup[2:]...)
	for name, raw := range map[string][]byte{
		"empty":           nil,
		"unknown version": append([]byte{9}, good[1:]...),
		"truncated":       good[:len(good)-3],
		"huge count":      {rosterVersion1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"bad id":          {rosterVersion1, 1, 0, 8, 3, 'a', ' ', 'b', 0, 0, 0},
		"zero vnodes":     {rosterVersion1, 1, 0, 0, 1, 'a', 0, 0, 0},
		"duplicate id":    dup,
	} {
		t.Run(name, func(t *testing.T) {
			if ms, err := decodeRoster(raw); !errors.Is(err, ErrBadRoster) {
				t.Fatalf("decodeRoster = %+v, %v; want ErrBadRoster", ms, err)
			}
		})
	}
}

func FuzzDecodeRoster(f *testing.F) {
	good, err := encodeRoster(sampleRoster())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{rosterVersion1, 0})
	f.Add([]byte{rosterVersion1, 1, 1, 5, 1, 'x', 0, 0, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		ms, err := decodeRoster(raw)
		if err != nil {
			if !errors.Is(err, ErrBadRoster) {
				t.Fatalf("error %v does not wrap ErrBadRoster", err)
			}
			return
		}
		again, err := encodeRoster(ms)
		if err != nil {
			t.Fatalf("re-encoding a decoded roster: %v", err)
		}
		back, err := decodeRoster(again)
		if err != nil || !slices.Equal(back, ms) {
			t.Fatalf("round trip of %+v = %+v, %v", ms, back, err)
		}
	})
}

func TestLoadRoster(t *testing.T) {
	st := &memStore{}
	if ms, err := LoadRoster(st); ms != nil || err != nil {
		t.Fatalf("LoadRoster of an empty store = %v, %v", ms, err)
	}
	if err := saveRoster(st, sampleRoster()); err != nil {
		t.Fatal(err)
	}
	ms, err := LoadRoster(st)
	if err != nil || !slices.Equal(ms, rosterOf(sampleRoster())) {
		t.Fatalf("LoadRoster = %+v, %v", ms, err)
	}
	st.vals[rosterMetaName] = []byte{rosterVersion1, 3}
	if _, err := LoadRoster(st); !errors.Is(err, ErrBadRoster) {
		t.Fatalf("LoadRoster of a damaged value = %v, want ErrBadRoster", err)
	}
}

func TestRegistrySeedAndAddrs(t *testing.T) {
	r, _, changes := newTestRegistry()
	r.alive("a", "10.0.0.1:7946", rawMeta(t, "a", NodeNormal))
	r.seed(sampleRoster(), "d")
	got := map[string]string{}
	for _, m := range r.members() {
		got[m.ID] = m.State.String() + "@" + m.GossipAddr
	}
	want := map[string]string{
		"a": "alive@10.0.0.1:7946", // already known from gossip: kept
		"b": "dead@10.0.0.2:7946",  // known from the roster only
		"c": "left@10.0.0.3:7946",  // left for good
		// d is this node: not seeded
	}
	if !maps.Equal(got, want) {
		t.Fatalf("members after seed = %v, want %v", got, want)
	}
	alive, lost := r.addrs()
	if !maps.Equal(alive, map[string]bool{"10.0.0.1:7946": true}) || !slices.Equal(lost, []string{"10.0.0.2:7946"}) {
		t.Fatalf("addrs = %v, %v", alive, lost)
	}
	// Gossip reporting a seeded member makes it alive like any other.
	n := changes.Load()
	r.alive("b", "10.0.0.2:7946", rawMeta(t, "b", NodeNormal))
	if m, _ := r.get("b"); m.State != Alive || changes.Load() != n+1 {
		t.Fatalf("b after gossip = %+v", m)
	}
	if _, lost := r.addrs(); len(lost) != 0 {
		t.Fatalf("lost after b came back = %v", lost)
	}
}

// TestRosterPersistedAndRestored: a node with a Store persists every
// member it saw; restarted with that roster as Known, it lists them (Dead
// until gossip reports them), and a node whose only seed is itself finds
// the cluster again through them.
func TestRosterPersistedAndRestored(t *testing.T) {
	stores := []*memStore{{}, {}, {}}
	var nodes []*node
	for i := range 3 {
		cfg := testConfig(fmt.Sprintf("p%d", i+1))
		cfg.Store = stores[i]
		if i > 0 {
			cfg.Seeds = []string{nodes[0].addr()}
		}
		nodes = append(nodes, startNode(t, cfg))
	}
	waitFor(t, deadline, seesAlive(nodes, "p1", "p2", "p3"))
	waitFor(t, deadline, func() string {
		for i, st := range stores {
			ms, err := LoadRoster(st)
			if err != nil || len(ms) != 3 {
				return fmt.Sprintf("p%d persisted %+v, %v", i+1, ms, err)
			}
		}
		return ""
	})
	puts := stores[0].putCount()

	// p1 (no seeds at all) restarts on its address with what it persisted.
	addr := nodes[0].addr()
	nodes[0].crash()
	known, err := LoadRoster(stores[0])
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig("p1")
	cfg.GossipAddr = addr
	cfg.Seeds = []string{addr}
	cfg.Known = known
	cfg.Store = stores[0]
	back := startNode(t, cfg)
	if back.Seeded() {
		t.Fatal("a node seeded with itself only reports Seeded")
	}
	// From its first list on it knows the other two.
	if ms := back.Members(); len(ms) != 3 {
		t.Fatalf("restarted node lists %s, want all three", view(ms))
	}
	waitFor(t, deadline, seesAlive([]*node{back, nodes[1], nodes[2]}, "p1", "p2", "p3"))
	// Liveness changes are not written; nothing else changed.
	if got := stores[0].putCount(); got != puts {
		t.Fatalf("%d roster writes after the restart, want none (the roster did not change)", got-puts)
	}
}
