package nemesis

import (
	"fmt"
	"slices"
	"testing"
)

func TestFinalKeys(t *testing.T) {
	var ops []Op
	for i := range 10 {
		ops = append(ops,
			Op{Kind: Set, Key: fmt.Sprintf("ins:0:%d", i)},
			Op{Kind: Set, Key: fmt.Sprintf("reg:1:%d", i), Value: "1"},
			Op{Kind: Set, Key: fmt.Sprintf("reg:1:%d", i), Value: "2"},
			Op{Kind: Set, Key: fmt.Sprintf("del:2:%d", i)},
			Op{Kind: Del, Key: fmt.Sprintf("del:2:%d", i)},
			Op{Kind: Get, Key: fmt.Sprintf("ins:0:%d", i)},
		)
	}
	ops = append(ops,
		Op{Kind: Set, Key: "ins:0:failed", Err: "timeout"},
		Op{Kind: Set, Key: "del:2:kept"},                            // SET acknowledged, DEL failed
		Op{Kind: Del, Key: "del:2:kept", Err: "connection refused"}, // not an acknowledged key
		Op{Kind: Get, Key: "ins:0:never-written"},
	)
	all, owners := finalKeys(ops, 9)
	if len(all) != 32 || slices.Contains(all, "ins:0:never-written") || !slices.Contains(all, "ins:0:failed") {
		t.Fatalf("all = %d keys %v: want the 32 keys a write was sent for", len(all), all)
	}
	want := []string{"ins:0:0", "ins:0:3", "ins:0:6", "reg:1:0", "reg:1:3", "reg:1:6", "del:2:0", "del:2:3", "del:2:6"}
	if !slices.Equal(owners, want) {
		t.Fatalf("owners = %v, want %v", owners, want)
	}
	if _, owners := finalKeys(ops, 300); len(owners) != 30 {
		t.Fatalf("a large sample has %d keys, want every one of the 30 acknowledged", len(owners))
	}
}

func TestSpread(t *testing.T) {
	keys := []string{"a", "b", "c", "d", "e", "f"}
	if got := spread(keys, 3); !slices.Equal(got, []string{"a", "c", "e"}) {
		t.Fatalf("spread 3 = %v", got)
	}
	if got := spread(keys, 10); !slices.Equal(got, keys) {
		t.Fatalf("spread 10 = %v", got)
	}
	if got := spread(keys, 0); len(got) != 0 {
		t.Fatalf("spread 0 = %v", got)
	}
}

func TestOwnedByAll(t *testing.T) {
	reps := func(ids ...string) []Replica {
		var out []Replica
		for _, id := range ids {
			out = append(out, Replica{Node: id})
		}
		return out
	}
	replicas := map[string][]Replica{
		"a": reps("node2", "node3", "node4"),
		"b": reps("node4", "node1", "node2"),
		"c": reps("node1", "node3", "node5"),
	}
	if got := ownedByAll(replicas, []string{"node2", "node4"}); got != 2 {
		t.Fatalf("owned by node2 and node4: %d, want 2", got)
	}
	if got := ownedByAll(replicas, []string{"node2", "node5"}); got != 0 {
		t.Fatalf("owned by node2 and node5: %d, want 0", got)
	}
}
