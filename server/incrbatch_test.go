package server

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestIncrPipelineAsSequence: pipelines of INCR, DECR, INCRBY and DECRBY
// (repeated keys, malformed amounts, a key holding text, overflow) answer
// and leave the keys as the commands run one after another would, on one
// node and through a node that forwards some keys to their primaries.
func TestIncrPipelineAsSequence(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		cl   func(t *testing.T) (*redis.Client, *redis.Client)
	}{
		{"one node", func(t *testing.T) (*redis.Client, *redis.Client) {
			ts := defaultTestServer(t)
			return ts.client(t, nil), ts.client(t, nil)
		}},
		{"forwarded", func(t *testing.T) (*redis.Client, *redis.Client) {
			rn := startRouted(t, map[string]string{"a": "b", "b": "b", "c": "b"})
			return rn.client(t, "a", nil), rn.client(t, "b", nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl, check := tc.cl(t)
			model := map[string]string{"text": "abc", "big": strconv.FormatInt(math.MaxInt64-1, 10)}
			for k, v := range model {
				if err := cl.Set(ctx, k, v, 0).Err(); err != nil {
					t.Fatal(err)
				}
			}
			rng := rand.New(rand.NewPCG(1, 2))
			keys := []string{"a", "b", "c:x", "c:y", "text", "big"}
			for round := range 50 {
				pipe := cl.Pipeline()
				var want []string
				var cmds []*redis.Cmd
				for range 2 + rng.IntN(20) {
					k := keys[rng.IntN(len(keys))]
					var args []any
					var delta int64
					var bad error
					switch rng.IntN(5) {
					case 0:
						args, delta = []any{"INCR", k}, 1
					case 1:
						args, delta = []any{"DECR", k}, -1
					case 2:
						n := rng.Int64N(100) - 50
						args, delta = []any{"INCRBY", k, n}, n
					case 3:
						n := rng.Int64N(100) - 50
						args, delta = []any{"DECRBY", k, n}, -n
					default:
						args, bad = []any{"INCRBY", k, "x"}, fmt.Errorf("ERR value is not an integer or out of range")
					}
					cmds = append(cmds, pipe.Do(ctx, args...))
					want = append(want, applyIncr(model, k, delta, bad))
				}
				if _, err := pipe.Exec(ctx); err != nil && err.Error() == "" {
					t.Fatal(err)
				}
				for i, c := range cmds {
					got := fmt.Sprint(c.Val())
					if c.Err() != nil {
						got = c.Err().Error()
					}
					if got != want[i] {
						t.Fatalf("round %d, %v = %s, want %s", round, c.Args(), got, want[i])
					}
				}
			}
			for k, v := range model {
				if got, err := check.Get(ctx, k).Result(); err != nil || got != v {
					t.Fatalf("%s = %q, %v; the model holds %q", k, got, err, v)
				}
			}
		})
	}
}

// applyIncr is one INCR-family command on the model; it returns the
// reply as go-redis shows it.
func applyIncr(m map[string]string, k string, delta int64, bad error) string {
	if bad != nil {
		return bad.Error()
	}
	cur := int64(0)
	if v, ok := m[k]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "ERR value is not an integer or out of range"
		}
		cur = n
	}
	next, ok := addInt64(cur, delta)
	if !ok {
		return "ERR increment or decrement would overflow"
	}
	m[k] = strconv.FormatInt(next, 10)
	return m[k]
}
