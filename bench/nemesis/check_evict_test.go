package nemesis

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The eviction mode's synthetic histories: cleanHistory, checked as the
// evict scenario's, with a register written once more after its failed
// write and evicted, and an insert evicted.

// readAtMs is when the synthetic owners were read, Unix ms.
const readAtMs = 1_800_000_000_000

// absentOn returns the owners of an evicted key: tombstones on some,
// nothing on the others.
func absentOn() []Replica {
	return []Replica{{Node: "node1", Held: true, Tombstone: true, Version: "1799999999000.5.a"}, {Node: "node2"},
		{Node: "node3", Held: true, Tombstone: true, Version: "1799999999000.5.a"}}
}

func evictHistory() (History, Final) {
	h, f := cleanHistory()
	f.Evict, f.EvictedKeys, f.OwnersReadMs = true, 42, readAtMs
	h.Ops = append(h.Ops,
		set("ins:0:3", "c", 20, 25),
		getNil("ins:0:3", 30, 31),   // evicted before the fault
		getNil("ins:0:3", 150, 151), // during
		set("reg:1:2", "1", 20, 25),
		set("reg:1:2", "2", 26, 30),
		getNil("reg:1:2", 31, 32), // 2 evicted
		set("reg:1:2", "3", 33, 35),
		get("reg:1:2", "3", 36, 37), // the write after the eviction wins
		getNil("reg:1:2", 250, 251), // 3 evicted, after the fault
	)
	f.Reads["ins:0:3"] = FinalRead{Nil: true}
	f.Reads["reg:1:2"] = FinalRead{Nil: true}
	f.Replicas["ins:0:3"] = absentOn()
	f.Replicas["reg:1:2"] = []Replica{{Node: "node1"}, {Node: "node2"}, {Node: "node3"}}
	for _, k := range []string{"ins:0:3", "reg:1:2"} {
		f.OwnerViews["node2"][k] = []string{"node1", "node2", "node3"}
	}
	f.Rewrites = map[string]Rewrite{"ins:0:3": {Value: "rewritten:ins:0:3", Read: "rewritten:ins:0:3"}}
	return h, f
}

func TestCheckEvictPasses(t *testing.T) {
	h, f := evictHistory()
	r := Check(h, f)
	if !r.Pass() {
		t.Fatalf("failed: %+v", r)
	}
	want := Evicted{Reads: [numPhases]int{2, 1, 1}, Keys: 2, ByNodes: 42}
	if r.Evicted == nil || *r.Evicted != want {
		t.Fatalf("evicted %+v, want %+v", r.Evicted, want)
	}
	if len(r.Examples) != 0 {
		t.Fatalf("examples: %v", r.Examples)
	}
	// The same history outside the eviction mode has its nil reads and
	// missing keys counted as violations.
	f.Evict = false
	r = Check(h, f)
	if r.Pass() || r.NilReads != [numPhases]int{2, 1, 1} || r.Lost != 1 || r.Discarded != 1 || r.Evicted != nil {
		t.Fatalf("outside the eviction mode: %+v", r)
	}
}

// TestCheckEvictAllowed lists what the eviction mode allows and the
// others do not.
func TestCheckEvictAllowed(t *testing.T) {
	tests := []struct {
		name   string
		change func(h *History, f *Final)
		keys   int // Evicted.Keys
	}{
		{"an insert absent at the end, on every owner", func(h *History, f *Final) {
			f.Reads["ins:0:1"] = FinalRead{Nil: true}
			f.Replicas["ins:0:1"] = absentOn()
		}, 3},
		{"a register absent at the end, tombstones on every owner", func(h *History, f *Final) {
			f.Reads["reg:1:1"] = FinalRead{Nil: true}
			f.Replicas["reg:1:1"] = tombstones()
		}, 3},
		{"an unsampled insert absent at the end", func(h *History, f *Final) {
			f.Reads["ins:0:1"] = FinalRead{Nil: true}
			delete(f.Replicas, "ins:0:1")
		}, 3},
		{"a nil read of a register during the fault", func(h *History, f *Final) {
			h.Ops = append(h.Ops, getNil("reg:1:1", 150, 151))
		}, 2},
		{"an insert evicted before the repair: its tombstones count as holding it", func(h *History, f *Final) {
			f.BeforeRepair["ins:0:1"] = []Replica{{Node: "node1", Held: true, Tombstone: true}, {Node: "node2"},
				{Node: "node3", Held: true, Value: "a"}}
		}, 2},
		{"a version read less than a second after the owners were read", func(h *History, f *Final) {
			f.Replicas["ins:0:1"][1].Version = "1800000000900.0.1f"
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, f := evictHistory()
			tt.change(&h, &f)
			r := Check(h, f)
			if !r.Pass() {
				t.Fatalf("failed: %+v", r)
			}
			if r.Evicted.Keys != tt.keys {
				t.Fatalf("evicted keys %d, want %d", r.Evicted.Keys, tt.keys)
			}
		})
	}
}

// TestCheckEvictViolations changes the eviction mode's history in one way
// each and wants exactly the named count to move.
func TestCheckEvictViolations(t *testing.T) {
	tests := []struct {
		name    string
		change  func(h *History, f *Final)
		got     func(r Result) int
		example string
	}{
		{"stale read: older than a write acknowledged before it", func(h *History, f *Final) {
			h.Ops = append(h.Ops, get("reg:1:2", "2", 40, 41))
		}, func(r Result) int { return r.StaleReads[1] }, "stale read"},
		{"stale read during the fault", func(h *History, f *Final) {
			h.Ops = append(h.Ops, get("reg:1:1", "1", 150, 151))
		}, func(r Result) int { return r.StaleReads[0] }, "stale read"},
		{"present on some owners only: final read nil", func(h *History, f *Final) {
			f.Replicas["ins:0:3"][1] = Replica{Node: "node2", Held: true, Value: "c"}
		}, func(r Result) int { return r.NotOnOwners }, "not on owners"},
		{"present on some owners only: final read the value", func(h *History, f *Final) {
			f.Replicas["reg:1:1"][2] = Replica{Node: "node3", Held: true, Tombstone: true}
		}, func(r Result) int { return r.NotOnOwners }, "not on owners"},
		{"present on every owner, but the final read nil", func(h *History, f *Final) {
			f.Reads["reg:1:1"] = FinalRead{Nil: true}
		}, func(r Result) int { return r.NotOnOwners }, "not on owners"},
		{"absent on every owner, but the final read a value", func(h *History, f *Final) {
			f.Replicas["ins:0:1"] = absentOn()
		}, func(r Result) int { return r.NotOnOwners }, "not on owners"},
		{"owners holding another value each", func(h *History, f *Final) {
			f.Replicas["reg:1:1"][0].Value = "2"
		}, func(r Result) int { return r.NotOnOwners }, "not on owners"},
		{"discarded: a final value older than the last acknowledged", func(h *History, f *Final) {
			f.Reads["reg:1:2"] = FinalRead{Value: "2"}
			f.Replicas["reg:1:2"] = holding("2")
		}, func(r Result) int { return r.Discarded }, "discarded"},
		{"lost: an insert with another value at the end", func(h *History, f *Final) {
			f.Reads["ins:0:3"] = FinalRead{Value: "b"}
			f.Replicas["ins:0:3"] = holding("b")
		}, func(r Result) int { return r.Lost }, "lost"},
		{"undone delete", func(h *History, f *Final) {
			h.Ops = append(h.Ops, get("del:2:1", "x", 300, 301))
		}, func(r Result) int { return r.UndoneDeletes }, "undone delete"},
		{"undone delete: final value", func(h *History, f *Final) { f.Reads["del:2:1"] = FinalRead{Value: "x"} },
			func(r Result) int { return r.UndoneDeletes }, "undone delete"},
		{"bad value", func(h *History, f *Final) { h.Ops = append(h.Ops, get("ins:0:3", "zz", 50, 51)) },
			func(r Result) int { return r.BadValues }, "bad value"},
		{"split owners", func(h *History, f *Final) {
			f.OwnerViews["node2"]["reg:1:1"] = []string{"node1", "node2", "node4"}
		}, func(r Result) int { return r.SplitOwners }, "split owners"},
		{"under-replicated: nothing on two owners before the repair", func(h *History, f *Final) {
			f.BeforeRepair["ins:0:1"] = []Replica{{Node: "node1"}, {Node: "node2"}, {Node: "node3", Held: true, Tombstone: true}}
		}, func(r Result) int { return r.UnderReplicated }, "under-replicated"},
		{"future version: an eviction's tombstone an hour ahead", func(h *History, f *Final) {
			f.Replicas["ins:0:3"][2].Version = "1800003599000.5.a"
		}, func(r Result) int { return r.FutureVersions }, "future version"},
		{"rewrite lost: found nothing", func(h *History, f *Final) {
			f.Rewrites["reg:1:2"] = Rewrite{Value: "rewritten:reg:1:2", Nil: true}
		}, func(r Result) int { return r.RewritesLost }, "rewrite lost"},
		{"rewrite lost: found another value", func(h *History, f *Final) {
			f.Rewrites["ins:0:3"] = Rewrite{Value: "rewritten:ins:0:3", Read: "c"}
		}, func(r Result) int { return r.RewritesLost }, "rewrite lost"},
		{"final error: a rewrite failed", func(h *History, f *Final) {
			f.Rewrites["ins:0:3"] = Rewrite{Value: "rewritten:ins:0:3", Err: "SET: timeout"}
		}, func(r Result) int { return r.FinalErrors }, "final error"},
		{"no eviction at all", func(h *History, f *Final) { f.EvictedKeys = 0 },
			func(r Result) int { return len(r.Incomplete) }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, f := evictHistory()
			tt.change(&h, &f)
			r := Check(h, f)
			if r.Pass() {
				t.Fatalf("passed: %+v", r)
			}
			if got := tt.got(r); got != 1 {
				t.Fatalf("count %d, want 1: %+v", got, r)
			}
			if tt.example != "" && !slices.ContainsFunc(r.Examples, func(e string) bool { return strings.HasPrefix(e, tt.example+": ") }) {
				t.Fatalf("no %q example in %q", tt.example, r.Examples)
			}
		})
	}
}

func TestEvictBudget(t *testing.T) {
	for name, tt := range map[string]struct {
		c        Config
		min, max int64
	}{"short": {ShortConfig(), 40_000, 60_000}, "full": {DefaultConfig(), 160_000, 240_000}} {
		b := tt.c.EvictBudget()
		if b < tt.min || b > tt.max {
			t.Errorf("%s: budget %d, want %d-%d", name, b, tt.min, tt.max)
		}
		sc := scenarios[ScenarioEvict]
		args := sc.nodeArgs(&tt.c, false)
		if i := slices.Index(args, "--maxmemory"); i < 0 || args[i+1] != strconv.FormatInt(b, 10) ||
			!slices.Contains(args, "allkeys-lru") {
			t.Errorf("%s: node args %v", name, args)
		}
		kill := scenarios[ScenarioKillOne]
		if slices.Contains(kill.nodeArgs(&tt.c, false), "--maxmemory") {
			t.Errorf("%s: kill9-one evicts", name)
		}
	}
	c := ShortConfig()
	c.Warmup = time.Second
	if b := c.EvictBudget(); b != minEvictBudget {
		t.Errorf("a short warm-up's budget %d, want the least, %d", b, minEvictBudget)
	}
}

func TestLineEvict(t *testing.T) {
	r := ScenarioResult{Scenario: "evict", Status: StatusPass, Seconds: 40, Result: Result{
		Ops: 100, AckedWrites: 50, Evicted: &Evicted{Reads: [3]int{1, 2, 3}, Keys: 4, ByNodes: 5000},
	}}
	if got := r.Line(); !strings.Contains(got, " not_on_owners=0 evicted_reads=1/2/3 evicted_absent=4 evicted_keys=5000 avail_w=") {
		t.Fatalf("line %q", got)
	}
}
