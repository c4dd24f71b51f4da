package antientropy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
)

func TestLimitsBatches(t *testing.T) {
	lim := Limits{BatchBytes: 1000, MaxRecordBytes: 5000}
	mk := func(sizes ...int) []*Entry {
		out := make([]*Entry, len(sizes))
		for i, n := range sizes {
			out[i] = &Entry{Key: []byte{byte(i)}, Size: n}
		}
		return out
	}
	sizesOf := func(bs [][]*Entry) [][]int {
		var out [][]int
		for _, b := range bs {
			var s []int
			for _, e := range b {
				s = append(s, e.Size)
			}
			out = append(out, s)
		}
		return out
	}
	w := 1000 - recordOverhead // the most one record of a batch may hold to fill it
	tests := []struct {
		name     string
		sizes    []int
		maxCount int
		want     [][]int
		big      int
	}{
		{"one batch", []int{10, 20, 30}, 10, [][]int{{10, 20, 30}}, 0},
		{"by bytes", []int{w, 1, w / 2, w / 2}, 10, [][]int{{w}, {1, w / 2}, {w / 2}}, 0},
		{"by count", []int{1, 1, 1, 1, 1}, 2, [][]int{{1, 1}, {1, 1}, {1}}, 0},
		{"larger than a batch goes alone", []int{5, 3000, 5}, 10, [][]int{{5}, {3000}, {5}}, 0},
		{"too large for a frame", []int{5, 5001, 5000, 5}, 10, [][]int{{5}, {5000}, {5}}, 1},
		{"unknown sizes by count", []int{0, 0, 0}, 2, [][]int{{0, 0}, {0}}, 0},
	}
	for _, tt := range tests {
		got, big := lim.batches(mk(tt.sizes...), tt.maxCount)
		if !slices.EqualFunc(sizesOf(got), tt.want, slices.Equal) || len(big) != tt.big {
			t.Errorf("%s: batches %v (%d too large), want %v (%d)", tt.name, sizesOf(got), len(big), tt.want, tt.big)
		}
	}
	if got, _ := (Limits{BatchBytes: 10}).batches(mk(1<<30), 10); len(got) != 1 {
		t.Errorf("without MaxRecordBytes every record is sent: %v", sizesOf(got))
	}
}

// framePeer is a memPeer behind a transport with frames of frame bytes:
// an apply request or read answer larger fails as the transport fails it.
// With old it does not know transport.OpEntriesSized, as a node before it.
type framePeer struct {
	*memPeer
	frame int
	old   bool

	mu      sync.Mutex
	applies [][]int // per apply request, the records' key and value sizes
	reads   int     // read requests
}

func (p *framePeer) Call(ctx context.Context, op uint8, payload []byte) ([]byte, error) {
	if p.old && op == transport.OpEntriesSized {
		return nil, transport.NewRemoteError(op, fmt.Errorf("%w: %d", transport.ErrUnknownOp, op))
	}
	return p.memPeer.Call(ctx, op, payload)
}

func (p *framePeer) Apply(ctx context.Context, keys [][]byte, recs []engine.Record) error {
	sizes := make([]int, len(keys))
	for i := range keys {
		sizes[i] = recordSize(keys[i], recs[i])
	}
	if n := len(transport.AppendApplyRequest(nil, transport.ApplyHeader{}, keys, recs)); n > p.frame {
		return fmt.Errorf("%w: request of %d bytes, limit %d", transport.ErrFrameTooLarge, n, p.frame)
	}
	p.mu.Lock()
	p.applies = append(p.applies, sizes)
	p.mu.Unlock()
	return p.memPeer.Apply(ctx, keys, recs)
}

func (p *framePeer) Read(ctx context.Context, keys [][]byte) ([]engine.Record, []bool, error) {
	p.mu.Lock()
	p.reads++
	p.mu.Unlock()
	recs, found, err := p.memPeer.Read(ctx, keys)
	if err != nil {
		return nil, nil, err
	}
	if n := len(transport.AppendReadResponse(nil, recs, found, false)); n > p.frame {
		return nil, nil, transport.NewRemoteError(transport.OpRead,
			fmt.Errorf("%w: response of %d bytes, limit %d", transport.ErrFrameTooLarge, n, p.frame))
	}
	return recs, found, nil
}

// smallRange is a range of a few whole buckets, and the pool's keys in
// it: exchanges over it are quick.
func smallRange() (Range, [][]byte) {
	const first, n = 1000, 40
	p := testPool()
	var keys [][]byte
	for b := first; b < first+n; b++ {
		for _, id := range p.byBucket[b] {
			keys = append(keys, p.keys[id])
		}
	}
	return Range{Start: uint64(first)<<bucketShift - 1, End: uint64(first+n)<<bucketShift - 1}, keys
}

// storeValues writes keys[first:first+n] with values of size bytes into
// e, at version wall, and returns them.
func storeValues(t *testing.T, e *engine.Engine, keys [][]byte, first, n, size int, wall int64) [][]byte {
	t.Helper()
	for i, k := range keys[first : first+n] {
		r := engine.Record{Value: bytes.Repeat([]byte{byte(i)}, size), Version: ver(wall, 0, 1)}
		if _, err := e.Apply(k, r); err != nil {
			t.Fatal(err)
		}
	}
	return keys[first : first+n]
}

// Records near the frame size: with batches bounded by record count the
// first push or pull of a few of them exceeds the frame and the exchange
// fails, round after round. Bounded by bytes, every request fits, both
// directions, whether the peer reports sizes or not.
func TestExchangeLargeRecordsInByteBoundedBatches(t *testing.T) {
	const frame = 64 << 10
	for _, old := range []bool{false, true} {
		t.Run(fmt.Sprint("peer without sizes=", old), func(t *testing.T) {
			t.Parallel()
			ea, eb := openMemEngine(t), openMemEngine(t)
			now := time.Now().UnixMilli()
			rg, keys := smallRange()
			pushed := storeValues(t, ea, keys, 0, 12, 40_000, now)
			pulled := storeValues(t, eb, keys, 100, 12, 40_000, now)
			small := storeValues(t, ea, keys, 200, 50, 10, now)
			peer := &framePeer{memPeer: newMemPeer(eb), frame: frame, old: old}
			lim := Limits{BatchBytes: frame / 2, MaxRecordBytes: transport.MaxRecordBytes(frame)}

			// Batches the frame cannot hold (here the default 4 MiB over
			// 64 KiB frames, as 512 records were over 64 MiB ones) fail
			// the exchange before anything is repaired.
			if _, err := Exchange(context.Background(), ea, peer, []Range{rg}, nil); !errors.Is(err, transport.ErrFrameTooLarge) {
				t.Fatalf("an exchange in 4 MiB batches over 64 KiB frames: %v", err)
			}

			res, err := exchangeWithin(context.Background(), ea, peer, []Range{rg}, nil, lim, nil)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if res.KeysTooLarge != 0 || len(res.Synced) != 1 {
				t.Fatalf("result %+v", res)
			}
			for _, k := range slices.Concat(pushed, pulled, small) {
				a, okA, _ := ea.Lookup(k)
				b, okB, _ := eb.Lookup(k)
				if !okA || !okB || !sameRecord(a, b) {
					t.Fatalf("key %s not repaired: A %v, B %v", k, okA, okB)
				}
			}
			for _, req := range peer.applies {
				sum := 0
				for _, n := range req {
					sum += n + recordOverhead
				}
				if len(req) > 1 && sum > lim.BatchBytes {
					t.Fatalf("a push of %d records and %d bytes, BatchBytes %d", len(req), sum, lim.BatchBytes)
				}
			}
			t.Logf("%d pushes, %d reads", len(peer.applies), peer.reads)
		})
	}
}

// A record larger than a frame is neither pushed nor pulled; it is
// counted, the rest of its range is repaired, and the range counts as
// synced (a value left behind does not weaken the tombstone proof).
func TestExchangeSkipsRecordsTooLargeForAFrame(t *testing.T) {
	const frame = 16 << 10
	for _, old := range []bool{false, true} {
		t.Run(fmt.Sprint("peer without sizes=", old), func(t *testing.T) {
			t.Parallel()
			ea, eb := openMemEngine(t), openMemEngine(t)
			now := time.Now().UnixMilli()
			rg, keys := smallRange()
			bigA := storeValues(t, ea, keys, 0, 1, frame, now)
			bigB := storeValues(t, eb, keys, 10, 1, frame, now)
			smallA := storeValues(t, ea, keys, 20, 30, 100, now)
			smallB := storeValues(t, eb, keys, 60, 30, 100, now)
			peer := &framePeer{memPeer: newMemPeer(eb), frame: frame, old: old}
			lim := Limits{BatchBytes: 4 << 10, MaxRecordBytes: transport.MaxRecordBytes(frame)}
			res, err := exchangeWithin(context.Background(), ea, peer, []Range{rg}, nil, lim, nil)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if res.KeysTooLarge != 2 || res.KeysSent != 30 || res.KeysReceived != 30 || len(res.Synced) != 1 {
				t.Fatalf("result %+v, want 30 sent, 30 received, 2 too large, the range synced", res)
			}
			for _, k := range slices.Concat(smallA, smallB) {
				if _, ok, _ := ea.Lookup(k); !ok {
					t.Fatalf("%s missing on A", k)
				}
				if _, ok, _ := eb.Lookup(k); !ok {
					t.Fatalf("%s missing on B", k)
				}
			}
			if _, ok, _ := eb.Lookup(bigA[0]); ok {
				t.Fatal("the record larger than a frame reached B")
			}
			if _, ok, _ := ea.Lookup(bigB[0]); ok {
				t.Fatal("the record larger than a frame reached A")
			}
		})
	}
}

// A tombstone that cannot move keeps its range out of Synced: the purge
// proof needs every tombstone on every replica.
func TestExchangeTooLargeTombstoneLeavesRangeUnsynced(t *testing.T) {
	ea, eb := openMemEngine(t), openMemEngine(t)
	key := bytes.Repeat([]byte("k"), 3000) // the key alone is over the limit
	if _, err := ea.Apply(key, engine.Record{Tombstone: true, Version: ver(time.Now().UnixMilli(), 0, 1)}); err != nil {
		t.Fatal(err)
	}
	peer := &framePeer{memPeer: newMemPeer(eb), frame: 4096}
	res, err := exchangeWithin(context.Background(), ea, peer, []Range{{Start: 1, End: 1}}, nil, Limits{BatchBytes: 1024, MaxRecordBytes: 2000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.KeysTooLarge != 1 || len(res.Synced) != 0 || res.RangesDiffering != 1 {
		t.Fatalf("result %+v, want the tombstone counted and the range not synced", res)
	}
}

// The repairer's limits default to the transport's frame and are
// validated.
func TestRepairerConfigLimits(t *testing.T) {
	if d := DefaultConfig().Limits; d != DefaultLimits() || d.MaxRecordBytes != 64<<20-64<<10 || d.BatchBytes != 4<<20 {
		t.Fatalf("default limits %+v", d)
	}
	e := openMemEngine(t)
	cfg := DefaultConfig()
	cfg.Store, cfg.Meta, cfg.Ring = e, e, fakeRingForValidate{}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for _, lim := range []Limits{{BatchBytes: 0}, {BatchBytes: 1, MaxRecordBytes: -1}} {
		c := cfg
		c.Limits = lim
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("Limits %+v: %v", lim, err)
		}
	}
}

// fakeRingForValidate is a Ring that Validate accepts; it is never used.
type fakeRingForValidate struct{ Ring }
