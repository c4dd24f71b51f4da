package nemesis

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// Synthetic histories: times in milliseconds, the fault phase from 100 to
// 200.

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func set(key, v string, start, end int) Op {
	return Op{Kind: Set, Key: key, Value: v, Start: ms(start), End: ms(end)}
}

func failedSet(key, v string, start, end int) Op {
	op := set(key, v, start, end)
	op.Err = "timeout"
	return op
}

func del(key string, start, end int) Op {
	return Op{Kind: Del, Key: key, Start: ms(start), End: ms(end)}
}

func failedDel(key string, start, end int) Op {
	op := del(key, start, end)
	op.Err = "NOQUORUM not enough replicas acknowledged the write"
	return op
}

func get(key, v string, start, end int) Op {
	return Op{Kind: Get, Key: key, Value: v, Start: ms(start), End: ms(end)}
}

func getNil(key string, start, end int) Op {
	return Op{Kind: Get, Key: key, Nil: true, Start: ms(start), End: ms(end)}
}

func failedGet(key string, start, end int) Op {
	return Op{Kind: Get, Key: key, Start: ms(start), End: ms(end), Err: "timeout"}
}

func holding(v string) []Replica {
	return []Replica{{Node: "node1", Held: true, Value: v}, {Node: "node2", Held: true, Value: v}, {Node: "node3", Held: true, Value: v}}
}

func tombstones() []Replica {
	return []Replica{{Node: "node1", Held: true, Tombstone: true}, {Node: "node2", Held: true, Tombstone: true},
		{Node: "node3", Held: true, Tombstone: true}}
}

// cleanHistory exercises every key class without a violation: an insert,
// a register whose last write failed but took effect, a delete, an insert
// whose SET failed and did not take effect.
func cleanHistory() (History, Final) {
	h := History{FaultStart: ms(100), FaultEnd: ms(200), Ops: []Op{
		set("ins:0:1", "a", 0, 5),
		get("ins:0:1", "a", 10, 12),
		getNil("ins:0:1", 3, 4), // invoked before the acknowledgement
		failedSet("ins:0:2", "b", 20, 30),
		getNil("ins:0:2", 40, 41), // never acknowledged

		set("reg:1:1", "1", 0, 5),
		set("reg:1:1", "2", 6, 10),
		get("reg:1:1", "1", 8, 9), // concurrent with the write of 2
		get("reg:1:1", "2", 11, 12),
		failedSet("reg:1:1", "3", 13, 20),
		get("reg:1:1", "3", 15, 16), // the failed write took effect
		getNil("reg:1:1", 0, 1),     // before any acknowledgement
		failedGet("reg:1:1", 120, 130),

		set("del:2:1", "x", 0, 5),
		get("del:2:1", "x", 6, 7),
		del("del:2:1", 8, 10),
		get("del:2:1", "x", 9, 11), // concurrent with the DEL
		getNil("del:2:1", 11, 12),
		set("del:2:2", "y", 0, 5),
		failedDel("del:2:2", 6, 10),
		get("del:2:2", "y", 11, 12), // the DEL may not have happened
	}}
	f := Final{
		Reads: map[string]FinalRead{
			"ins:0:1": {Value: "a"}, "ins:0:2": {Nil: true},
			"reg:1:1": {Value: "3"},
			"del:2:1": {Nil: true}, "del:2:2": {Value: "y"},
		},
		Replicas: map[string][]Replica{
			"ins:0:1": holding("a"),
			"reg:1:1": holding("3"),
			"del:2:1": tombstones(),
		},
		// Before the repair, one owner lacks the insert: W=2 is enough.
		BeforeRepair: map[string][]Replica{
			"ins:0:1": {{Node: "node1", Held: true, Value: "a"}, {Node: "node2"}, {Node: "node3", Held: true, Value: "a"}},
		},
		W: 2,
		OwnerViews: map[string]map[string][]string{
			"node2": {"ins:0:1": {"node1", "node2", "node3"}, "reg:1:1": {"node1", "node2", "node3"}, "del:2:1": {"node1", "node2", "node3"}},
		},
	}
	return h, f
}

func TestCheckCleanHistoryPasses(t *testing.T) {
	h, f := cleanHistory()
	r := Check(h, f)
	if !r.Pass() {
		t.Fatalf("clean history failed: %+v", r)
	}
	if r.Ops != len(h.Ops) || r.AckedWrites != 6 || r.OwnersChecked != 3 {
		t.Fatalf("ops %d, acked writes %d, owners checked %d; want %d, 6, 3", r.Ops, r.AckedWrites, r.OwnersChecked, len(h.Ops))
	}
	if len(r.Examples) != 0 {
		t.Fatalf("examples for a clean history: %v", r.Examples)
	}
}

// TestCheckViolations changes the clean history in one way each and wants
// exactly the named count to move, so that no check can silently never
// fire.
func TestCheckViolations(t *testing.T) {
	tests := []struct {
		name    string
		change  func(h *History, f *Final)
		got     func(r Result) int
		want    int
		example string
	}{
		{"lost: final nil", func(h *History, f *Final) { f.Reads["ins:0:1"] = FinalRead{Nil: true} },
			func(r Result) int { return r.Lost }, 1, "lost"},
		{"lost: final another value", func(h *History, f *Final) { f.Reads["ins:0:1"] = FinalRead{Value: "b"} },
			func(r Result) int { return r.Lost }, 1, "lost"},
		{"discarded: older final value", func(h *History, f *Final) { f.Reads["reg:1:1"] = FinalRead{Value: "1"} },
			func(r Result) int { return r.Discarded }, 1, "discarded"},
		{"discarded: final nil", func(h *History, f *Final) { f.Reads["reg:1:1"] = FinalRead{Nil: true} },
			func(r Result) int { return r.Discarded }, 1, "discarded"},
		{"discarded: an earlier failed write came back", func(h *History, f *Final) {
			h.Ops = append(h.Ops, failedSet("reg:1:1", "4", 30, 40), set("reg:1:1", "5", 41, 45))
			f.Reads["reg:1:1"] = FinalRead{Value: "4"}
			f.Replicas["reg:1:1"] = holding("4")
		}, func(r Result) int { return r.Discarded }, 1, "discarded"},
		{"stale read outside the fault", func(h *History, f *Final) { h.Ops = append(h.Ops, get("reg:1:1", "1", 50, 51)) },
			func(r Result) int { return r.StaleReads[1] }, 1, "stale read"},
		{"stale read during the fault", func(h *History, f *Final) { h.Ops = append(h.Ops, get("reg:1:1", "1", 150, 151)) },
			func(r Result) int { return r.StaleReads[0] }, 1, "stale read"},
		{"undone delete: read after the acknowledgement", func(h *History, f *Final) {
			h.Ops = append(h.Ops, get("del:2:1", "x", 300, 301))
		}, func(r Result) int { return r.UndoneDeletes }, 1, "undone delete"},
		{"undone delete: final value", func(h *History, f *Final) { f.Reads["del:2:1"] = FinalRead{Value: "x"} },
			func(r Result) int { return r.UndoneDeletes }, 1, "undone delete"},
		{"undone delete: FLUSHDB of an acknowledged key", func(h *History, f *Final) {
			flush := del("del:8:1@9", 8, 10)
			flush.Cmd = "FLUSHDB"
			h.Ops = append(h.Ops, set("del:8:1@9", "f", 0, 5), flush, get("del:8:1@9", "f", 300, 301))
			f.Reads["del:8:1@9"] = FinalRead{Nil: true}
		}, func(r Result) int { return r.UndoneDeletes }, 1, "undone delete"},
		{"undone delete: a DEL after a failed SET", func(h *History, f *Final) {
			h.Ops = append(h.Ops, failedSet("del:2:3", "z", 0, 5), del("del:2:3", 8, 10), get("del:2:3", "z", 300, 301))
			f.Reads["del:2:3"] = FinalRead{Value: "z"}
		}, func(r Result) int { return r.UndoneDeletes }, 1, "undone delete"},
		{"undone delete: read and final count once per key", func(h *History, f *Final) {
			h.Ops = append(h.Ops, get("del:2:1", "x", 300, 301))
			f.Reads["del:2:1"] = FinalRead{Value: "x"}
		}, func(r Result) int { return r.UndoneDeletes }, 1, "undone delete"},
		{"nil read of an insert before the fault", func(h *History, f *Final) { h.Ops = append(h.Ops, getNil("ins:0:1", 50, 51)) },
			func(r Result) int { return r.NilReads[Before] }, 1, "nil read"},
		{"nil read of an insert during the fault", func(h *History, f *Final) { h.Ops = append(h.Ops, getNil("ins:0:1", 150, 151)) },
			func(r Result) int { return r.NilReads[During] }, 1, "nil read"},
		{"nil read of a register after the fault", func(h *History, f *Final) { h.Ops = append(h.Ops, getNil("reg:1:1", 250, 251)) },
			func(r Result) int { return r.NilReads[After] }, 1, "nil read"},
		{"not on owners: an owner without the insert", func(h *History, f *Final) { f.Replicas["ins:0:1"][2] = Replica{Node: "node3"} },
			func(r Result) int { return r.NotOnOwners }, 1, "not on owners"},
		{"not on owners: an older register value", func(h *History, f *Final) { f.Replicas["reg:1:1"][0].Value = "2" },
			func(r Result) int { return r.NotOnOwners }, 1, "not on owners"},
		{"not on owners: a value instead of a tombstone", func(h *History, f *Final) {
			f.Replicas["del:2:1"][1] = Replica{Node: "node2", Held: true, Value: "x"}
		}, func(r Result) int { return r.NotOnOwners }, 1, "not on owners"},
		{"not on owners: no record instead of a tombstone", func(h *History, f *Final) {
			f.Replicas["del:2:1"][1] = Replica{Node: "node2"}
		}, func(r Result) int { return r.NotOnOwners }, 1, "not on owners"},
		{"not on owners: a value where the others have nothing", func(h *History, f *Final) {
			f.Replicas["del:2:1"] = []Replica{{Node: "node1"}, {Node: "node2", Held: true, Value: "x"}, {Node: "node3"}}
		}, func(r Result) int { return r.NotOnOwners }, 1, "not on owners"},
		{"under-replicated: an insert on one owner before the repair", func(h *History, f *Final) {
			f.BeforeRepair["ins:0:1"][0] = Replica{Node: "node1"}
		}, func(r Result) int { return r.UnderReplicated }, 1, "under-replicated"},
		{"under-replicated: another value counts as missing", func(h *History, f *Final) {
			f.BeforeRepair["ins:0:1"][2].Value = "b"
		}, func(r Result) int { return r.UnderReplicated }, 1, "under-replicated"},
		{"split owners: a member lists other owners", func(h *History, f *Final) {
			f.OwnerViews["node2"]["reg:1:1"] = []string{"node1", "node2", "node4"}
		}, func(r Result) int { return r.SplitOwners }, 1, "split owners"},
		{"split owners: counted once per key", func(h *History, f *Final) {
			f.OwnerViews["node2"]["reg:1:1"] = []string{"node1", "node2", "node4"}
			f.OwnerViews["node3"] = map[string][]string{"ins:0:1": {"node1", "node2", "node3"}, "reg:1:1": {"node4"},
				"del:2:1": {"node1", "node2", "node3"}}
		}, func(r Result) int { return r.SplitOwners }, 1, "split owners"},
		{"final error: a member's owners not read", func(h *History, f *Final) { delete(f.OwnerViews["node2"], "del:2:1") },
			func(r Result) int { return r.FinalErrors }, 1, "final error"},
		{"bad value: insert", func(h *History, f *Final) { h.Ops = append(h.Ops, get("ins:0:1", "zz", 50, 51)) },
			func(r Result) int { return r.BadValues }, 1, "bad value"},
		{"bad value: register value not yet written", func(h *History, f *Final) { h.Ops = append(h.Ops, get("reg:1:1", "3", 11, 12)) },
			func(r Result) int { return r.BadValues }, 1, "bad value"},
		{"bad value: register final", func(h *History, f *Final) { f.Reads["reg:1:1"] = FinalRead{Value: "9"} },
			func(r Result) int { return r.BadValues }, 1, "bad value"},
		{"final error: failed read", func(h *History, f *Final) { f.Reads["ins:0:1"] = FinalRead{Err: "timeout"} },
			func(r Result) int { return r.FinalErrors }, 1, "final error"},
		{"final error: missing read", func(h *History, f *Final) { delete(f.Reads, "reg:1:1") },
			func(r Result) int { return r.FinalErrors }, 1, "final error"},
		{"final error: failed LOCALGET", func(h *History, f *Final) { f.Replicas["ins:0:1"][1].Err = "timeout" },
			func(r Result) int { return r.FinalErrors }, 1, "final error"},
		{"incomplete step", func(h *History, f *Final) { f.Incomplete = []string{"hints pending"} },
			func(r Result) int { return len(r.Incomplete) }, 1, ""},
		{"no acknowledged write", func(h *History, f *Final) {
			for i := range h.Ops {
				if h.Ops[i].isWrite() {
					h.Ops[i].Err = "connection refused"
				}
			}
		}, func(r Result) int { return len(r.Incomplete) }, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, f := cleanHistory()
			tt.change(&h, &f)
			r := Check(h, f)
			if r.Pass() {
				t.Fatalf("passed: %+v", r)
			}
			if got := tt.got(r); got != tt.want {
				t.Fatalf("count %d, want %d: %+v", got, tt.want, r)
			}
			if tt.example != "" && !slices.ContainsFunc(r.Examples, func(e string) bool { return strings.HasPrefix(e, tt.example+": ") }) {
				t.Fatalf("no %q example in %q", tt.example, r.Examples)
			}
		})
	}
}

// TestCheckAllowed lists histories that look suspicious but are allowed.
func TestCheckAllowed(t *testing.T) {
	tests := []struct {
		name   string
		change func(h *History, f *Final)
	}{
		{"a read concurrent with the write returns the older value", func(h *History, f *Final) {
			h.Ops = append(h.Ops, get("reg:1:1", "1", 9, 11))
		}},
		{"a failed insert is absent at the end", func(h *History, f *Final) {
			f.Reads["ins:0:2"] = FinalRead{Nil: true}
		}},
		{"a failed insert is present at the end", func(h *History, f *Final) {
			f.Reads["ins:0:2"] = FinalRead{Value: "b"}
		}},
		{"a key written again after its DEL may come back", func(h *History, f *Final) {
			h.Ops = append(h.Ops, set("del:2:1", "z", 20, 25), get("del:2:1", "z", 30, 31))
			f.Reads["del:2:1"] = FinalRead{Value: "z"}
			f.Replicas["del:2:1"] = holding("z")
		}},
		{"a failed SET may surface after a FLUSHDB", func(h *History, f *Final) {
			flush := del("del:8:1@9", 8, 10)
			flush.Cmd = "FLUSHDB"
			h.Ops = append(h.Ops, failedSet("del:8:1@9", "f", 0, 5), flush, getNil("del:8:1@9", 11, 12), get("del:8:1@9", "f", 300, 301))
			f.Reads["del:8:1@9"] = FinalRead{Value: "f"}
		}},
		{"failed operations of every kind", func(h *History, f *Final) {
			h.Ops = append(h.Ops, failedGet("ins:0:1", 150, 160), failedGet("del:2:1", 150, 160))
		}},
		{"a deleted key no owner holds anything of", func(h *History, f *Final) {
			f.Replicas["del:2:1"] = []Replica{{Node: "node1"}, {Node: "node2"}, {Node: "node3"}}
		}},
		{"an unsampled key is not checked on its owners", func(h *History, f *Final) {
			delete(f.Replicas, "ins:0:1")
		}},
		{"a key of no known class", func(h *History, f *Final) {
			h.Ops = append(h.Ops, getNil("other", 50, 51))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, f := cleanHistory()
			tt.change(&h, &f)
			if r := Check(h, f); !r.Pass() {
				t.Fatalf("failed: %+v", r)
			}
		})
	}
}

func TestCheckAvailability(t *testing.T) {
	h := History{FaultStart: ms(100), FaultEnd: ms(200), Ops: []Op{
		set("ins:0:1", "a", 0, 5),
		failedSet("ins:0:2", "b", 100, 105), // invoked at the fault's start: during
		set("ins:0:3", "c", 150, 160),
		get("ins:0:1", "a", 99, 120), // invoked before the fault
		failedGet("ins:0:1", 199, 220),
		get("ins:0:1", "a", 200, 201),
	}}
	f := Final{Reads: map[string]FinalRead{"ins:0:1": {Value: "a"}, "ins:0:3": {Value: "c"}}}
	r := Check(h, f)
	wantW := [numPhases]Ratio{{1, 1}, {1, 2}, {0, 0}}
	wantR := [numPhases]Ratio{{1, 1}, {0, 1}, {1, 1}}
	if r.Writes != wantW || r.Reads != wantR {
		t.Fatalf("writes %v reads %v, want %v %v", r.Writes, r.Reads, wantW, wantR)
	}
	if !r.Pass() {
		t.Fatalf("failed: %+v", r)
	}
}

func TestRatioString(t *testing.T) {
	for _, tt := range []struct {
		r    Ratio
		want string
	}{{Ratio{0, 0}, "-"}, {Ratio{5, 5}, "100.0"}, {Ratio{1999, 2000}, "99.9"}, {Ratio{0, 3}, "0.0"}, {Ratio{963, 1000}, "96.3"}} {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%v: %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestExamplesBoundedPerKind(t *testing.T) {
	h, f := cleanHistory()
	for i := range 10 {
		h.Ops = append(h.Ops, getNil("ins:0:1", 50+i, 51+i), get("reg:1:1", "1", 50+i, 51+i))
	}
	r := Check(h, f)
	if r.NilReads[Before] != 10 || r.StaleReads[1] != 10 {
		t.Fatalf("nil reads %v, stale reads %v, want 10 each", r.NilReads, r.StaleReads)
	}
	if len(r.Examples) != 2*examplesPerKind {
		t.Fatalf("%d examples, want %d: %q", len(r.Examples), 2*examplesPerKind, r.Examples)
	}
}
