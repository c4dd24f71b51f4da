package coordinator

import (
	"math/rand/v2"
	"testing"

	"github.com/ringcache/ringcache/cluster/quorum"
)

// event is one replica batch answer: the keys it carried and its success.
type event struct {
	idx []int
	ok  bool
}

func TestKeyTallyTable(t *testing.T) {
	tests := []struct {
		name     string
		need     []int
		asked    []int
		events   []event
		expire   bool
		want     quorum.Result
		got, req int // worst key
	}{
		{name: "single key W=2 two acks", need: []int{2}, asked: []int{3},
			events: []event{{[]int{0}, true}, {[]int{0}, true}}, want: quorum.Won, got: 2, req: 2},
		{name: "single key pending after one ack", need: []int{2}, asked: []int{3},
			events: []event{{[]int{0}, true}}, want: quorum.Pending, got: 1, req: 2},
		{name: "lost as soon as two of three fail", need: []int{2}, asked: []int{3},
			events: []event{{[]int{0}, false}, {[]int{0}, false}}, want: quorum.Lost, got: 0, req: 2},
		{name: "one failure still pending", need: []int{2}, asked: []int{3},
			events: []event{{[]int{0}, true}, {[]int{0}, false}}, want: quorum.Pending, got: 1, req: 2},
		{name: "two keys one batch each side", need: []int{2, 2}, asked: []int{3, 3},
			events: []event{{[]int{0, 1}, true}, {[]int{0}, true}}, want: quorum.Pending, got: 1, req: 2},
		{name: "two keys both won", need: []int{2, 2}, asked: []int{3, 3},
			events: []event{{[]int{0, 1}, true}, {[]int{0}, true}, {[]int{1}, true}}, want: quorum.Won, got: 2, req: 2},
		{name: "one key lost loses the request", need: []int{1, 2}, asked: []int{3, 2},
			events: []event{{[]int{0}, true}, {[]int{1}, false}}, want: quorum.Lost, got: 0, req: 2},
		{name: "expire fails the outstanding", need: []int{2}, asked: []int{3},
			events: []event{{[]int{0}, true}}, expire: true, want: quorum.Lost, got: 1, req: 2},
		{name: "expire after win keeps win", need: []int{1}, asked: []int{3},
			events: []event{{[]int{0}, true}}, expire: true, want: quorum.Won, got: 1, req: 1},
		{name: "need above asked lost from the start", need: []int{3}, asked: []int{2},
			want: quorum.Lost, got: 0, req: 3},
		{name: "no keys is won", want: quorum.Won},
		{name: "duplicate key in a batch counts twice", need: []int{2}, asked: []int{2},
			events: []event{{[]int{0, 0}, true}}, want: quorum.Won, got: 2, req: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newKeyTally(tt.need, tt.asked)
			for _, e := range tt.events {
				k.record(e.idx, e.ok)
			}
			if tt.expire {
				k.expire()
				if k.outstanding() {
					t.Fatal("outstanding replicas after expire")
				}
			}
			if got := k.outcome(); got != tt.want {
				t.Fatalf("outcome %v, want %v", got, tt.want)
			}
			if got, req := k.worst(); got != tt.got || req != tt.req {
				t.Fatalf("worst %d of %d, want %d of %d", got, req, tt.got, tt.req)
			}
		})
	}
}

// TestKeyTallyOracle checks random multi-key requests against a naive
// oracle that recounts everything after every answer.
func TestKeyTallyOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 2000; iter++ {
		keys := 1 + rng.IntN(6)
		replicas := 1 + rng.IntN(5)
		// Each replica holds a random non-empty subset of the keys.
		var batches [][]int
		asked := make([]int, keys)
		for r := 0; r < replicas; r++ {
			var idx []int
			for i := 0; i < keys; i++ {
				if rng.IntN(3) > 0 {
					idx = append(idx, i)
					asked[i]++
				}
			}
			batches = append(batches, idx)
		}
		need := make([]int, keys)
		for i := range need {
			need[i] = rng.IntN(asked[i] + 2) // sometimes 0, sometimes above asked
		}
		k := newKeyTally(need, asked)
		ok := make([]int, keys)
		open := append([]int(nil), asked...)
		oracle := func() quorum.Result {
			won := true
			for i := range need {
				if ok[i]+open[i] < need[i] {
					return quorum.Lost
				}
				if ok[i] < need[i] {
					won = false
				}
			}
			if won {
				return quorum.Won
			}
			return quorum.Pending
		}
		prev := k.outcome()
		if prev != oracle() {
			t.Fatalf("iter %d: initial %v, oracle %v (need %v asked %v)", iter, prev, oracle(), need, asked)
		}
		for _, b := range rng.Perm(len(batches)) {
			success := rng.IntN(2) == 0
			k.record(batches[b], success)
			for _, i := range batches[b] {
				open[i]--
				if success {
					ok[i]++
				}
			}
			got, want := k.outcome(), oracle()
			// Lost is final, even if later successes would have carried
			// the other keys: a lost key stays lost.
			if prev == quorum.Lost {
				want = quorum.Lost
			}
			if got != want {
				t.Fatalf("iter %d: outcome %v, oracle %v", iter, got, want)
			}
			if prev != quorum.Pending && got != prev {
				t.Fatalf("iter %d: final outcome %v changed to %v", iter, prev, got)
			}
			prev = got
		}
		if k.outstanding() {
			t.Fatalf("iter %d: outstanding after every replica answered", iter)
		}
	}
}
