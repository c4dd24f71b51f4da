package membership

import (
	"errors"
	"log/slog"
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
