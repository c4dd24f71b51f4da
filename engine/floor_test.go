package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
)

// After DropAllAt(floor) no record older than the floor is stored, by
// Apply, by ApplyBatchNewer (which names the floor as the newer version)
// or as a hint; newer records are; the floor survives a reopen and only
// rises, and a drop with a lower floor or none drops all the same.
func TestDropAllAtFloor(t *testing.T) {
	const t0 = 1_700_000_000_000
	fs := vfs.NewMem()
	cfg := memConfig(fs)
	e := mustOpen(t, cfg)
	mustApply(t, e, "old", val(ver(t0, 0, 1), "before the flush"))
	floor := ver(t0+20, 3, 9)
	if err := e.DropAllAt(floor); err != nil {
		t.Fatal(err)
	}
	if got := e.Floor(); got != floor {
		t.Fatalf("Floor = %v, want %v", got, floor)
	}
	// A repair or a hint replay that read "old" before the drop.
	if mustApply(t, e, "old", val(ver(t0, 0, 1), "before the flush")) {
		t.Fatal("a record older than the floor was applied")
	}
	keys := [][]byte{[]byte("a"), []byte("b"), []byte("c")}
	recs := []Record{val(ver(t0+20, 3, 8), "just below"), val(ver(t0+20, 4, 1), "just above"), {Version: ver(t0+5, 0, 1), Tombstone: true}}
	newer := make([]Version, len(keys))
	n, err := e.ApplyBatchNewer(keys, recs, newer)
	if err != nil || n != 1 {
		t.Fatalf("ApplyBatchNewer = %d, %v; want 1 applied", n, err)
	}
	if newer[0] != floor || !newer[1].IsZero() || newer[2] != floor {
		t.Fatalf("newer = %v, want [%v 0 %v]", newer, floor, floor)
	}
	if got := dump(t, e); len(got) != 1 || string(got["b"].Value) != "just above" {
		t.Fatalf("stored %v, want b alone", got)
	}
	if st, err := e.PutHints("node2", keys[:2], recs[:2], t0); err != nil || st != 1 {
		t.Fatalf("PutHints = %d, %v; want the hint above the floor alone", st, err)
	}
	dst, found := make([]Record, 2), make([]bool, 2)
	if err := e.LookupHints("node2", keys[:2], dst, found); err != nil || found[0] || !found[1] {
		t.Fatalf("hints found %v, %v; want b's alone", found, err)
	}

	// A drop with a lower floor (a flush through a node whose clock is
	// behind) drops, and leaves the floor; so does a plain DropAll. A
	// reopen reads the floor back.
	if err := e.DropAllAt(ver(t0, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, e); len(got) != 0 || e.Floor() != floor {
		t.Fatalf("a drop below the floor left %v and floor %v, want nothing and %v", got, e.Floor(), floor)
	}
	mustApply(t, e, "b", val(ver(t0+20, 4, 1), "again"))
	if err := e.DropAll(); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, e); len(got) != 0 {
		t.Fatalf("DropAll left %v", got)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = mustOpen(t, cfg)
	if got := e.Floor(); got != floor {
		t.Fatalf("Floor after reopen = %v, want %v", got, floor)
	}
	if mustApply(t, e, "old", val(ver(t0+19, 0, 1), "still before")) {
		t.Fatal("after a reopen a record older than the floor was applied")
	}
	if !mustApply(t, e, "old", val(ver(t0+21, 0, 1), "after")) {
		t.Fatal("a record newer than the floor was refused")
	}
	higher := ver(t0+30, 0, 2)
	if err := e.DropAllAt(higher); err != nil {
		t.Fatal(err)
	}
	if got := e.Floor(); got != higher {
		t.Fatalf("Floor = %v, want %v", got, higher)
	}
}

// Without a floor (a node alone, or before any cluster flush) old
// versions apply after a drop, as before.
func TestDropAllWithoutFloor(t *testing.T) {
	e := openMem(t)
	if err := e.DropAll(); err != nil {
		t.Fatal(err)
	}
	if !e.Floor().IsZero() {
		t.Fatalf("Floor = %v after DropAll", e.Floor())
	}
	if !mustApply(t, e, "k", val(ver(1, 0, 0), "v")) {
		t.Fatal("a write after DropAll was refused")
	}
}

// RaiseFloor drops the records older than the floor, tombstones
// included, and keeps the newer ones, the counts and the digest exact;
// from then on older records are refused. A floor not above the current
// one changes nothing.
func TestRaiseFloor(t *testing.T) {
	const t0 = 1_700_000_000_000
	// "gone" below is due for purge the moment it is written.
	e := openMem(t, noReclaim)
	expireAt := time.Now().Add(time.Hour).UnixMilli() // not due while the test runs
	for i := range 300 {
		old := val(ver(t0+int64(i%20), 0, 1), "before the flush")
		r := val(ver(t0+21+int64(i%20), 0, 1), "after the flush")
		if i%3 == 0 {
			old.ExpireAt, r.ExpireAt = expireAt, expireAt+int64(i)
		}
		mustApply(t, e, fmt.Sprintf("old%d", i), old)
		mustApply(t, e, fmt.Sprintf("new%d", i), r)
	}
	mustApply(t, e, "gone", Record{Version: ver(t0+5, 0, 1), Tombstone: true})
	floor := ver(t0+20, 3, 9)
	n, err := e.RaiseFloor(floor)
	if err != nil || n != 301 {
		t.Fatalf("RaiseFloor = %d, %v; want 301 dropped", n, err)
	}
	if got := e.Floor(); got != floor {
		t.Fatalf("Floor = %v, want %v", got, floor)
	}
	got := dump(t, e)
	for k := range got {
		if !strings.HasPrefix(k, "new") {
			t.Fatalf("%s is below the floor and still stored", k)
		}
	}
	if len(got) != 300 {
		t.Fatalf("%d records left, want the 300 newer than the floor", len(got))
	}
	checkUsed(t, e, "after RaiseFloor")
	assertDigest(t, e, "after RaiseFloor")
	if n := e.Stats().FloorDropped; n != 301 {
		t.Fatalf("Stats().FloorDropped = %d, want 301", n)
	}
	if n := expiryEntries(t, e); n != 100 { // the dropped records' went with them
		t.Fatalf("%d expiry entries for the 100 records left with an expiry", n)
	}
	if mustApply(t, e, "old1", val(ver(t0+1, 0, 1), "a late repair")) {
		t.Fatal("a record older than the raised floor was applied")
	}
	for _, lower := range []Version{floor, ver(t0, 0, 0), {}} {
		if n, err := e.RaiseFloor(lower); err != nil || n != 0 || e.Floor() != floor {
			t.Fatalf("RaiseFloor(%v) = %d, %v, floor %v; want nothing done", lower, n, err, e.Floor())
		}
	}
	if len(dump(t, e)) != 300 || e.Stats().FloorDropped != 301 {
		t.Fatal("a floor not above the current one dropped records")
	}
}

// A crash after RaiseFloor committed the floor and before its drop
// finished leaves the drop's mark: Open drops what the floor covers.
func TestRaiseFloorFinishesAtOpen(t *testing.T) {
	const t0 = 1_700_000_000_000
	fs := vfs.NewMem()
	cfg := memConfig(fs)
	e := mustOpen(t, cfg)
	mustApply(t, e, "old", val(ver(t0, 0, 1), "before"))
	mustApply(t, e, "new", val(ver(t0+30, 0, 1), "after"))
	floor := ver(t0+20, 0, 0)
	if raised, err := e.commitFloor(floor); err != nil || !raised {
		t.Fatalf("commitFloor = %v, %v", raised, err)
	}
	if err := e.Close(); err != nil { // the drop never ran
		t.Fatal(err)
	}
	e = mustOpen(t, cfg)
	if got := dump(t, e); len(got) != 1 || got["new"].Value == nil {
		t.Fatalf("after the reopen the store holds %v, want new alone", got)
	}
	checkUsed(t, e, "after the reopen")
	assertDigest(t, e, "after the reopen")
	if _, closer, err := e.db.Get(metaFloorDropKey); err == nil {
		closer.Close()
		t.Fatal("the pending drop's mark is still set after Open finished it")
	}
	if e.Floor() != floor {
		t.Fatalf("Floor = %v, want %v", e.Floor(), floor)
	}
}

// A drop cut short (its floor committed, its records not yet dropped) is
// finished by the next RaiseFloor, even with a floor no higher; a
// DropAllAt meanwhile deletes the mark, since it leaves nothing older.
func TestRaiseFloorResumes(t *testing.T) {
	const t0 = 1_700_000_000_000
	fs := vfs.NewMem()
	cfg := memConfig(fs)
	e := mustOpen(t, cfg)
	mustApply(t, e, "old", val(ver(t0, 0, 1), "before"))
	floor := ver(t0+20, 0, 0)
	e.floorDrop.Lock()
	if raised, err := e.commitFloor(floor); err != nil || !raised {
		t.Fatalf("commitFloor = %v, %v", raised, err)
	}
	e.floorDrop.pending = floor // as RaiseFloor leaves it when its drop fails
	e.floorDrop.Unlock()
	if n, err := e.RaiseFloor(floor); err != nil || n != 1 {
		t.Fatalf("RaiseFloor after a cut-short drop = %d, %v; want the 1 record dropped", n, err)
	}
	if got := dump(t, e); len(got) != 0 {
		t.Fatalf("store holds %v after the drop was resumed", got)
	}

	mustApply(t, e, "old2", val(ver(t0+30, 0, 1), "before the second flush"))
	e.floorDrop.Lock()
	if _, err := e.commitFloor(ver(t0+40, 0, 0)); err != nil {
		t.Fatal(err)
	}
	e.floorDrop.Unlock()
	if err := e.DropAllAt(ver(t0+50, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if _, closer, err := e.db.Get(metaFloorDropKey); err == nil {
		closer.Close()
		t.Fatal("DropAllAt left the pending drop's mark")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = mustOpen(t, cfg)
	if got := e.Floor(); got != ver(t0+50, 0, 0) {
		t.Fatalf("Floor after reopen = %v", got)
	}
}
