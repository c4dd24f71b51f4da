package coordinator

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/server"
	"github.com/ringcache/ringcache/server/store"
)

func TestCheckRecordSizesBoundaries(t *testing.T) {
	const limit = 1000
	mut := func(key, value int) store.Mutation {
		return store.Mutation{Key: bytes.Repeat([]byte("k"), key), Value: bytes.Repeat([]byte("v"), value)}
	}
	del := func(key int) store.Mutation {
		m := mut(key, 5000) // a delete's value is never stored
		m.Delete = true
		return m
	}
	tests := []struct {
		name  string
		muts  []store.Mutation
		limit int
		size  int // 0: accepted
	}{
		{"exactly at the limit", []store.Mutation{mut(10, limit-10)}, limit, 0},
		{"one byte over", []store.Mutation{mut(10, limit-9)}, limit, limit + 1},
		{"the key counts", []store.Mutation{mut(limit+1, 0)}, limit, limit + 1},
		{"key alone at the limit", []store.Mutation{mut(limit, 0)}, limit, 0},
		{"value alone one over", []store.Mutation{mut(0, limit+1)}, limit, limit + 1},
		{"a delete counts its key only", []store.Mutation{del(limit)}, limit, 0},
		{"a delete with a key over", []store.Mutation{del(limit + 1)}, limit, limit + 1},
		{"one of many over", []store.Mutation{mut(1, 1), mut(1, limit-1), mut(3, limit)}, limit, limit + 3},
		{"many at the limit", []store.Mutation{mut(1, limit-1), mut(500, 500)}, limit, 0},
		{"no limit", []store.Mutation{mut(10, 1<<20)}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkRecordSizes(tt.muts, tt.limit)
			if tt.size == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ve *ValueTooLargeError
			if !errors.As(err, &ve) || !errors.Is(err, replica.ErrValueTooLarge) || ve.Size != tt.size || ve.Limit != tt.limit {
				t.Fatalf("err %v, want a ValueTooLargeError of %d bytes, limit %d", err, tt.size, tt.limit)
			}
		})
	}
}

// The client reads one -ERR line naming the size and the limit.
func TestValueTooLargeReply(t *testing.T) {
	limit := transport.MaxRecordBytes(64 << 20)
	var err error = &ValueTooLargeError{Size: 70_000_003, Limit: limit}
	var re server.RESPError
	if !errors.As(err, &re) {
		t.Fatal("ValueTooLargeError is not a RESPError")
	}
	want := "ERR value too large for the cluster: key and value of 70000003 bytes, the limit is 67043328 bytes (cluster frame size)"
	if got := re.RESPError(); got != want {
		t.Fatalf("reply %q\nwant  %q", got, want)
	}
}

// A write over the limit is refused before any replica is called, and a
// write at the limit goes through; a Node's limit is its frame's.
func TestPutRefusesOversizedRecordsBeforeSending(t *testing.T) {
	const limit = 4096
	tc := newTestCluster(t, 3, func(c *Config) { c.MaxRecordBytes = limit })
	co := tc.coords["n0"]
	ctx := context.Background()
	big := []store.Mutation{
		{Key: []byte("small"), Value: []byte("v")},
		{Key: []byte("big"), Value: bytes.Repeat([]byte("x"), limit-2)},
	}
	if err := co.Put(ctx, big); !errors.Is(err, replica.ErrValueTooLarge) {
		t.Fatalf("Put over the limit: %v, want replica.ErrValueTooLarge", err)
	}
	for _, id := range tc.ids {
		if _, applies := tc.net.calls(id); applies != 0 {
			t.Fatalf("%s got %d apply calls for a refused write", id, applies)
		}
		if _, ok := tc.stored(id, "small"); ok {
			t.Fatalf("%s stored a key of a refused write", id)
		}
	}
	big[1].Value = big[1].Value[:limit-3]
	if err := co.Put(ctx, big); err != nil {
		t.Fatalf("Put at the limit: %v", err)
	}
	if st := co.Stats(); st.WriteQuorumFailures != 0 {
		t.Fatalf("stats %+v", st)
	}
}
