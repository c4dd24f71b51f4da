package ring

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ringcache/ringcache/engine"
)

// TestHashTagsShareReplicas: keys that share a Redis Cluster hash tag get
// the same preference list, in any database, because the ring places
// engine.Token and the token of a tagged key is its tag's.
func TestHashTagsShareReplicas(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	r := New(randomNodes(rng, 0, 9), 32)
	const n = 3
	spread := map[string]bool{} // distinct preference lists over all tags
	for tag := range 200 {
		want := r.PreferenceList(engine.Token([]byte(fmt.Sprintf("{user%d}", tag))), n)
		spread[fmt.Sprint(want)] = true
		keys := []string{
			fmt.Sprintf("{user%d}.following", tag),
			fmt.Sprintf("{user%d}.followers", tag),
			fmt.Sprintf("x{user%d}y{z}", tag),
			fmt.Sprintf("\xff\x7b{user%d}", tag),       // database 123, whose prefix is '{'
			fmt.Sprintf("\xff\x00\xff{user%d}:a", tag), // an escaped database-0 key
		}
		for _, k := range keys {
			if got := r.PreferenceList(engine.Token([]byte(k)), n); !slices.Equal(got, want) {
				t.Fatalf("%q: preference %v, want %v (tag user%d)", k, got, want, tag)
			}
		}
	}
	if len(spread) < 10 {
		t.Fatalf("200 tags share %d preference lists: tags do not spread over the ring", len(spread))
	}
}
