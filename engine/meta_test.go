package engine

import (
	"errors"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
)

func TestMeta(t *testing.T) {
	cfg := memConfig(vfs.NewMem())
	e := mustOpen(t, cfg)
	steps := []struct {
		op, name, val string
		want          string
		wantFound     bool
	}{
		{"get", "ring", "", "", false},
		{"put", "ring", "v1", "v1", true},
		{"put", "ring", "v2", "v2", true},
		{"put", "empty", "", "", true},
		{"put", "layout", "not the engine's", "not the engine's", true},
		{"delete", "ring", "", "", false},
		{"delete", "never-set", "", "", false},
		{"put", "ring", "v3", "v3", true},
	}
	for i, s := range steps {
		var err error
		switch s.op {
		case "put":
			err = e.PutMeta(s.name, []byte(s.val))
		case "delete":
			err = e.DeleteMeta(s.name)
		}
		if err != nil {
			t.Fatalf("step %d %s %s: %v", i, s.op, s.name, err)
		}
		v, ok, err := e.GetMeta(s.name)
		if err != nil || ok != s.wantFound || string(v) != s.want {
			t.Fatalf("step %d: GetMeta(%s) = %q %v %v, want %q %v", i, s.name, v, ok, err, s.want, s.wantFound)
		}
	}
	// GetMeta returns a copy.
	v, _, _ := e.GetMeta("ring")
	v[0] = 'X'
	if v2, _, _ := e.GetMeta("ring"); string(v2) != "v3" {
		t.Fatalf("GetMeta aliases storage: %q", v2)
	}
	// Metadata is neither data nor hints, and FLUSHALL keeps it.
	if d := dump(t, e); len(d) != 0 {
		t.Fatalf("Scan sees metadata: %v", d)
	}
	if err := e.DropAll(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopen: the engine's own layout key is intact (Open checks it) and
	// the metadata survived.
	e2 := mustOpen(t, cfg)
	for name, want := range map[string]string{"ring": "v3", "layout": "not the engine's", "empty": ""} {
		if v, ok, err := e2.GetMeta(name); err != nil || !ok || string(v) != want {
			t.Fatalf("after reopen %s = %q %v %v, want %q", name, v, ok, err, want)
		}
	}
}

func TestScanMeta(t *testing.T) {
	e := openMem(t)
	for _, n := range []string{"repair/2", "repair/10", "ring", "repair/1", "repair", "repais", "node\xff"} {
		if err := e.PutMeta(n, []byte("v-"+n)); err != nil {
			t.Fatal(err)
		}
	}
	scan := func(prefix string, limit int) []string {
		var got []string
		err := e.ScanMeta(prefix, func(name string, val []byte) bool {
			if string(val) != "v-"+name {
				t.Fatalf("%s = %q", name, val)
			}
			got = append(got, name)
			return len(got) < limit
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	tests := []struct {
		prefix string
		limit  int
		want   []string
	}{
		{"repair/", 100, []string{"repair/1", "repair/10", "repair/2"}},
		{"repair", 100, []string{"repair", "repair/1", "repair/10", "repair/2"}},
		{"repair/", 2, []string{"repair/1", "repair/10"}},
		{"node\xff", 100, []string{"node\xff"}},
		{"", 100, []string{"node\xff", "repair", "repair/1", "repair/10", "repair/2", "repais", "ring"}},
		{"zzz", 100, nil},
	}
	for _, tt := range tests {
		if got := scan(tt.prefix, tt.limit); !slices.Equal(got, tt.want) {
			t.Errorf("ScanMeta(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}

func TestMetaInvalidAndClosed(t *testing.T) {
	e := openMem(t)
	if err := e.PutMeta("", []byte("x")); !errors.Is(err, ErrInvalidMeta) {
		t.Fatalf("PutMeta empty name = %v", err)
	}
	if _, _, err := e.GetMeta(""); !errors.Is(err, ErrInvalidMeta) {
		t.Fatalf("GetMeta empty name = %v", err)
	}
	if err := e.DeleteMeta(""); !errors.Is(err, ErrInvalidMeta) {
		t.Fatalf("DeleteMeta empty name = %v", err)
	}
	_ = e.Close()
	if err := e.PutMeta("a", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("PutMeta after Close = %v", err)
	}
	if err := e.ScanMeta("", func(string, []byte) bool { return true }); !errors.Is(err, ErrClosed) {
		t.Fatalf("ScanMeta after Close = %v", err)
	}
	if _, err := e.PutHints("n", [][]byte{[]byte("k")}, []Record{{}}, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("PutHints after Close = %v", err)
	}
}

// TestMetaDurableEverySec: in the mode that defers the WAL fsync, a
// PutMeta that returned survives a power loss (MemFS crash clone).
func TestMetaDurableEverySec(t *testing.T) {
	for _, mode := range []FsyncMode{FsyncEverySec, FsyncNo} {
		t.Run(mode.String(), func(t *testing.T) {
			fs := newStrictMem(t)
			cfg := memConfig(fs)
			cfg.Fsync = mode
			e := mustOpen(t, cfg)
			if err := e.PutMeta("node-id", []byte("n7")); err != nil {
				t.Fatal(err)
			}
			fs.SetIgnoreSyncs(true) // power loss: nothing later reaches the disk
			_ = e.Close()
			fs.ResetToSyncedState()
			fs.SetIgnoreSyncs(false)
			e2 := mustOpen(t, cfg)
			if v, ok, err := e2.GetMeta("node-id"); err != nil || !ok || string(v) != "n7" {
				t.Fatalf("after power loss: %q %v %v", v, ok, err)
			}
		})
	}
}

// TestCommitMeta: a batch's puts, deletes and range deletions land
// together, durably (power loss right after the commit keeps all of
// them), and a bad batch changes nothing.
func TestCommitMeta(t *testing.T) {
	fs := newStrictMem(t)
	cfg := memConfig(fs)
	cfg.Fsync = FsyncEverySec
	e := mustOpen(t, cfg)
	for _, n := range []string{"log/1", "log/2", "log/3", "log/4", "state"} {
		if err := e.PutMeta(n, []byte("old")); err != nil {
			t.Fatal(err)
		}
	}
	var b MetaBatch
	b.DeleteRange("log/2", "log/4")
	b.Put("log/5", []byte("new"))
	b.Put("state", []byte("new"))
	b.Delete("log/1")
	if err := e.CommitMeta(&b); err != nil {
		t.Fatal(err)
	}
	var bad MetaBatch
	bad.Put("state", []byte("bad"))
	bad.DeleteRange("log/9", "log/1")
	if err := e.CommitMeta(&bad); !errors.Is(err, ErrInvalidMeta) {
		t.Fatalf("CommitMeta of an empty range = %v, want ErrInvalidMeta", err)
	}
	fs.SetIgnoreSyncs(true)
	_ = e.Close()
	fs.ResetToSyncedState()
	fs.SetIgnoreSyncs(false)
	e2 := mustOpen(t, cfg)
	var got []string
	if err := e2.ScanMeta("", func(n string, v []byte) bool {
		got = append(got, n+"="+string(v))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"log/4=old", "log/5=new", "state=new"}
	if !slices.Equal(got, want) {
		t.Fatalf("after commit and power loss: %q, want %q", got, want)
	}
}
