package membership

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

func newTestRegistry() (*registry, *recorder, *atomic.Int64) {
	rec := &recorder{}
	var changes atomic.Int64
	return newRegistry(slog.New(rec), func() { changes.Add(1) }), rec, &changes
}

func rawMeta(t *testing.T, id, state string) []byte {
	t.Helper()
	m := sampleMeta()
	m.NodeID = id
	m.NodeState = state
	b, err := encodeMeta(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRegistryAdmit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		setup    func(t *testing.T, r *registry)
		id, addr string
		raw      func(t *testing.T) []byte
		want     error
	}{
		{
			name: "new node", id: "n2", addr: "10.0.0.2:7946",
			raw: func(t *testing.T) []byte { return rawMeta(t, "n2", NodeNormal) },
		},
		{
			name:  "known node same address",
			setup: func(t *testing.T, r *registry) { r.alive("n2", "10.0.0.2:7946", rawMeta(t, "n2", NodeNormal)) },
			id:    "n2", addr: "10.0.0.2:7946",
			raw: func(t *testing.T) []byte { return rawMeta(t, "n2", NodeNormal) },
		},
		{
			name:  "alive id from second address",
			setup: func(t *testing.T, r *registry) { r.alive("n2", "10.0.0.2:7946", rawMeta(t, "n2", NodeNormal)) },
			id:    "n2", addr: "10.0.0.9:7946",
			raw:  func(t *testing.T) []byte { return rawMeta(t, "n2", NodeNormal) },
			want: ErrConflict,
		},
		{
			name: "suspect id from second address",
			setup: func(t *testing.T, r *registry) {
				r.alive("n2", "10.0.0.2:7946", rawMeta(t, "n2", NodeNormal))
				r.suspect("n2")
			},
			id: "n2", addr: "10.0.0.9:7946",
			raw:  func(t *testing.T) []byte { return rawMeta(t, "n2", NodeNormal) },
			want: ErrConflict,
		},
		{
			name: "dead id may come back elsewhere",
			setup: func(t *testing.T, r *registry) {
				r.alive("n2", "10.0.0.2:7946", rawMeta(t, "n2", NodeNormal))
				r.gone("n2", rawMeta(t, "n2", NodeNormal))
			},
			id: "n2", addr: "10.0.0.9:7946",
			raw: func(t *testing.T) []byte { return rawMeta(t, "n2", NodeNormal) },
		},
		{
			name: "garbage metadata", id: "n2", addr: "10.0.0.2:7946",
			raw:  func(*testing.T) []byte { return []byte("\x01\xff\xff") },
			want: ErrBadMeta,
		},
		{
			name: "metadata names another node", id: "n2", addr: "10.0.0.2:7946",
			raw:  func(t *testing.T) []byte { return rawMeta(t, "n3", NodeNormal) },
			want: ErrBadMeta,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, rec, _ := newTestRegistry()
			if tc.setup != nil {
				tc.setup(t, r)
			}
			err := r.admit(tc.id, tc.addr, tc.raw(t))
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("admit = %v, want %v", err, tc.want)
			}
			wantRefused := uint64(0)
			if tc.want != nil {
				wantRefused = 1
			}
			if got := r.counts().Refused; got != wantRefused {
				t.Fatalf("Refused = %d, want %d", got, wantRefused)
			}
			if got := rec.count("refused peer", "id="+tc.id); uint64(got) != wantRefused {
				t.Fatalf("logged %d refusals, want %d", got, wantRefused)
			}
		})
	}
}

func TestRegistryLogsRepeatedRefusalOnce(t *testing.T) {
	r, rec, _ := newTestRegistry()
	for range 5 {
		_ = r.admit("n2", "10.0.0.2:7946", []byte("junk"))
	}
	_ = r.admit("n3", "10.0.0.3:7946", []byte("junk"))
	if got := r.counts().Refused; got != 6 {
		t.Fatalf("Refused = %d, want 6", got)
	}
	if a, b := rec.count("refused peer", "id=n2"), rec.count("refused peer", "id=n3"); a != 1 || b != 1 {
		t.Fatalf("logged n2 %d times, n3 %d times; want once each", a, b)
	}
}

func TestRegistryStates(t *testing.T) {
	r, _, _ := newTestRegistry()
	r.alive("n1", "10.0.0.1:7946", rawMeta(t, "n1", NodeNormal))
	r.alive("n2", "10.0.0.2:7946", rawMeta(t, "n2", NodeNormal))
	r.alive("n3", "10.0.0.3:7946", rawMeta(t, "n3", NodeNormal))
	r.alive("n4", "10.0.0.4:7946", rawMeta(t, "n4", NodeNormal))

	steps := []struct {
		name string
		do   func()
		want string
	}{
		{"all alive", func() {}, "n1:alive,n2:alive,n3:alive,n4:alive"},
		{"probe of n2 fails", func() { r.suspect("n2") }, "n1:alive,n2:suspect,n3:alive,n4:alive"},
		{"probe of n2 succeeds", func() { r.acked("n2") }, "n1:alive,n2:alive,n3:alive,n4:alive"},
		{"ack of an alive node is no change", func() { r.acked("n3") }, "n1:alive,n2:alive,n3:alive,n4:alive"},
		{"n3 suspected then dead", func() { r.suspect("n3"); r.gone("n3", rawMeta(t, "n3", NodeNormal)) }, "n1:alive,n2:alive,n3:dead,n4:alive"},
		{"dead is not made suspect", func() { r.suspect("n3") }, "n1:alive,n2:alive,n3:dead,n4:alive"},
		{"n4 announces leaving, then goes", func() {
			r.alive("n4", "10.0.0.4:7946", rawMeta(t, "n4", NodeLeaving))
			r.gone("n4", rawMeta(t, "n4", NodeLeaving))
		}, "n1:alive,n2:alive,n3:dead,n4:left"},
		{"n3 comes back", func() { r.alive("n3", "10.0.0.3:7946", rawMeta(t, "n3", NodeNormal)) }, "n1:alive,n2:alive,n3:alive,n4:left"},
		{"unknown node gone is ignored", func() { r.gone("n9", nil) }, "n1:alive,n2:alive,n3:alive,n4:left"},
	}
	for _, s := range steps {
		s.do()
		if got := view(r.members()); got != s.want {
			t.Fatalf("%s: members %s, want %s", s.name, got, s.want)
		}
	}
	st := r.counts()
	if st.Alive != 3 || st.Left != 1 || st.Dead != 0 || st.Suspect != 0 {
		t.Fatalf("counts %+v", st)
	}
	if m, _ := r.get("n4"); m.NodeState != NodeLeaving || m.ClientAddr != sampleMeta().ClientAddr || m.VNodes != 128 {
		t.Fatalf("n4 = %+v", m)
	}
}

func TestRegistryChangeNotifications(t *testing.T) {
	r, _, changes := newTestRegistry()
	r.alive("n1", "10.0.0.1:7946", rawMeta(t, "n1", NodeNormal))
	for _, tc := range []struct {
		name   string
		do     func()
		change bool
	}{
		{"suspect", func() { r.suspect("n1") }, true},
		{"suspect again", func() { r.suspect("n1") }, false},
		{"ack", func() { r.acked("n1") }, true},
		{"ack again", func() { r.acked("n1") }, false},
		{"unknown gone", func() { r.gone("nx", nil) }, false},
		{"garbage join", func() { r.alive("ny", "10.0.0.9:1", []byte{0}) }, false},
		{"dead", func() { r.gone("n1", nil) }, true},
	} {
		before := changes.Load()
		tc.do()
		if got := changes.Load() != before; got != tc.change {
			t.Fatalf("%s: changed = %v, want %v", tc.name, got, tc.change)
		}
	}
	if got := view(r.members()); got != "n1:dead" {
		t.Fatalf("members %s, want n1:dead (garbage join kept out)", got)
	}
}

// TestRegistryMergeLeft: a peer's word that a run left turns that run,
// held Dead here, Left; not another run of the member, not one alive or
// suspect, not one unknown.
func TestRegistryMergeLeft(t *testing.T) {
	r, _, changes := newTestRegistry()
	meta := func(id, state string, boot uint64) []byte {
		m := sampleMeta()
		m.NodeID, m.NodeState, m.Boot = id, state, boot
		b, err := encodeMeta(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for i, id := range []string{"a", "b", "c", "d"} {
		r.alive(id, fmt.Sprintf("10.0.0.%d:7946", i), meta(id, NodeNormal, uint64(100+i)))
	}
	r.gone("a", meta("a", NodeNormal, 100)) // dead, run 100
	r.gone("b", meta("b", NodeNormal, 101)) // dead, run 101
	r.suspect("c")                          // suspect, run 102
	r.gone("d", meta("d", NodeLeaving, 103))
	if got := r.leftRuns(); !slices.Equal(got, []leftRun{{"d", 103}}) {
		t.Fatalf("leftRuns = %v, want d of run 103", got)
	}
	before := changes.Load()
	r.mergeLeft([]leftRun{{"a", 100}, {"b", 999}, {"c", 102}, {"x", 1}, {"b", 0}})
	states := map[string]State{}
	for _, m := range r.members() {
		states[m.ID] = m.State
	}
	if want := map[string]State{"a": Left, "b": Dead, "c": Suspect, "d": Left}; !maps.Equal(states, want) {
		t.Fatalf("states %v, want %v", states, want)
	}
	if m, _ := r.get("a"); m.NodeState != NodeLeaving {
		t.Fatalf("a merged left with node state %q", m.NodeState)
	}
	if changes.Load() != before+1 {
		t.Fatalf("%d change notices for one merge that changed a member", changes.Load()-before)
	}
	r.mergeLeft([]leftRun{{"a", 100}})
	if changes.Load() != before+1 {
		t.Fatal("a merge that changed nothing was announced")
	}
	// A member back alive in a new run is not its old run's leave.
	r.alive("b", "10.0.0.1:7946", meta("b", NodeNormal, 200))
	r.gone("b", meta("b", NodeNormal, 200))
	r.mergeLeft([]leftRun{{"b", 101}})
	if m, _ := r.get("b"); m.State != Dead {
		t.Fatalf("b of run 200 took run 101's leave: %v", m.State)
	}
}

func TestLeftStateCodec(t *testing.T) {
	runs := []leftRun{{"n1", 1}, {"", 0}, {strings.Repeat("x", 255), 1 << 63}}
	got, err := decodeLeft(encodeLeft(runs))
	if err != nil || !slices.Equal(got, runs) {
		t.Fatalf("round trip = %v, %v", got, err)
	}
	if got, err := decodeLeft(nil); err != nil || got != nil {
		t.Fatalf("empty = %v, %v", got, err)
	}
	good := encodeLeft(runs)
	for i := 1; i < len(good); i++ {
		if _, err := decodeLeft(good[:i]); !errors.Is(err, ErrBadMeta) {
			t.Fatalf("truncated to %d bytes: %v", i, err)
		}
	}
	for name, b := range map[string][]byte{
		"version":  {2, 0},
		"count":    {1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"trailing": append(encodeLeft(runs), 0),
		"long id":  append([]byte{1, 1}, binary.AppendUvarint(nil, 300)...),
	} {
		if _, err := decodeLeft(b); !errors.Is(err, ErrBadMeta) {
			t.Errorf("%s: %v, want ErrBadMeta", name, err)
		}
	}
}

func FuzzDecodeLeft(f *testing.F) {
	f.Add(encodeLeft([]leftRun{{"n1", 7}, {"n2", 1 << 40}}))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		runs, err := decodeLeft(b)
		if err != nil {
			return
		}
		// Varints may be written longer than needed: compare the runs.
		again, err := decodeLeft(encodeLeft(runs))
		if err != nil || !slices.Equal(again, runs) {
			t.Fatalf("%x decodes to %v, which encodes and decodes to %v, %v", b, runs, again, err)
		}
	})
}
