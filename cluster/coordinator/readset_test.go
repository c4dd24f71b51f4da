package coordinator

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/topology"
)

// readPlan builds batches from each key's replica ids, as plan does.
func readPlan(replicas [][]string) []batch {
	f := &fanout{}
	none := topology.New(topology.Spec{Self: membership.Member{ID: "self", State: membership.Alive}, VNodes: 8}, nil)
	for i, ids := range replicas {
		for _, id := range ids {
			f.add(f.batchOf(id, "", false, false, none), i, []byte(fmt.Sprint(i)))
		}
	}
	return f.batches
}

func TestReadTargetsSingleKey(t *testing.T) {
	batches := readPlan([][]string{{"a", "self", "b"}})
	need := []int{2}
	seen := map[string]int{}
	for rot := range uint64(6) {
		ask := readTargets(batches, need, "self", rot, nil)
		var ids []string
		for b, ok := range ask {
			if ok {
				ids = append(ids, batches[b].id)
			}
		}
		if len(ids) != 2 || !slices.Contains(ids, "self") {
			t.Fatalf("rot %d: asked %v, want self and one other", rot, ids)
		}
		for _, id := range ids {
			seen[id]++
		}
	}
	if seen["a"] == 0 || seen["b"] == 0 {
		t.Fatalf("rotation never asked both other replicas: %v", seen)
	}
}

func TestReadTargetsNotAReplica(t *testing.T) {
	batches := readPlan([][]string{{"a", "b", "c"}})
	ask := readTargets(batches, []int{2}, "self", 0, nil)
	if n := count(ask); n != 2 {
		t.Fatalf("asked %d replicas, want 2", n)
	}
	if ask := readTargets(batches, []int{3}, "self", 1, nil); count(ask) != 3 {
		t.Fatalf("need 3 (ALL): asked %v", ask)
	}
	if ask := readTargets(batches, []int{5}, "self", 1, nil); count(ask) != 3 {
		t.Fatalf("need beyond the replicas: asked %v, want all 3", ask)
	}
}

// TestReadTargetsProperty: over random multi-key plans every key gets at
// least min(need, replicas) asked batches, and this node's batches are
// always asked.
func TestReadTargetsProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	nodes := []string{"self", "a", "b", "c", "d", "e"}
	for iter := range 2000 {
		keys := 1 + r.IntN(20)
		replicas := make([][]string, keys)
		need := make([]int, keys)
		for i := range replicas {
			perm := r.Perm(len(nodes))
			n := 1 + r.IntN(4)
			for _, p := range perm[:n] {
				replicas[i] = append(replicas[i], nodes[p])
			}
			need[i] = 1 + r.IntN(4)
		}
		batches := readPlan(replicas)
		var lag []bool
		if iter%2 == 0 {
			lag = make([]bool, len(batches))
			for b := range lag {
				lag[b] = r.IntN(3) == 0
			}
		}
		ask := readTargets(batches, need, "self", r.Uint64(), lag)
		for b := range batches {
			if batches[b].id == "self" && !ask[b] {
				t.Fatalf("iter %d: this node's batch not asked", iter)
			}
		}
		for i := range need {
			got := 0
			for b := range batches {
				if _, ok := slices.BinarySearch(batches[b].idx, i); ok && ask[b] {
					got++
				}
			}
			if want := min(need[i], len(replicas[i])); got < want {
				t.Fatalf("iter %d key %d: %d asked, want at least %d (replicas %v)", iter, i, got, want, replicas[i])
			}
		}
	}
}

func count(ask []bool) int {
	n := 0
	for _, ok := range ask {
		if ok {
			n++
		}
	}
	return n
}

// TestReadTargetsAvoidsLaggingReplicas: a replica that stopped answering
// is asked first only when no other replica of the key is left.
func TestReadTargetsAvoidsLaggingReplicas(t *testing.T) {
	batches := readPlan([][]string{{"self", "a", "b"}})
	var lagA []bool
	for b := range batches {
		lagA = append(lagA, batches[b].id == "a")
	}
	for rot := range uint64(6) {
		ask := readTargets(batches, []int{2}, "self", rot, lagA)
		for b, ok := range ask {
			if ok && batches[b].id == "a" {
				t.Fatalf("rot %d: the lagging replica was asked first", rot)
			}
		}
		if count(ask) != 2 {
			t.Fatalf("rot %d: asked %v", rot, ask)
		}
	}
	all := []bool{false, true, true}
	if ask := readTargets(batches, []int{3}, "self", 0, all); count(ask) != 3 {
		t.Fatalf("need 3 with two lagging: asked %v, want all three", ask)
	}
}
