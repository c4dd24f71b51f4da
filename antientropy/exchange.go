package antientropy

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/time/rate"

	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
)

// Peer is the other replica of an exchange: the exchange requests go
// through Call, repaired records through the normal replica Apply and
// Read.
type Peer interface {
	Call(ctx context.Context, op uint8, payload []byte) ([]byte, error)
	Apply(ctx context.Context, keys [][]byte, recs []engine.Record) error
	Read(ctx context.Context, keys [][]byte) ([]engine.Record, []bool, error)
}

// Budget is called with the size of every message before it is sent or
// after it arrived; it blocks to keep the exchange within its bandwidth
// budget. Nil: unbounded.
type Budget func(ctx context.Context, bytes int) error

// RateBudget returns a Budget that spends lim's tokens, one byte each (nil
// lim: unbounded).
func RateBudget(lim *rate.Limiter) Budget {
	if lim == nil {
		return nil
	}
	return func(ctx context.Context, n int) error {
		for n > 0 {
			step := min(n, lim.Burst())
			if err := lim.WaitN(ctx, step); err != nil {
				return err
			}
			n -= step
		}
		return nil
	}
}

// Result is what one exchange with one peer did.
type Result struct {
	// RangesCompared counts the ranges whose roots were compared;
	// RangesDiffering those whose roots differed.
	RangesCompared, RangesDiffering int
	// LeavesDiffering counts the differing leaves found by the descent.
	LeavesDiffering int
	// KeysSent and KeysReceived count the records pushed and pulled.
	KeysSent, KeysReceived int64
	// BytesSent and BytesReceived count every message payload.
	BytesSent, BytesReceived int64
	// KeysTooLarge counts the differing records left unrepaired because
	// no replica frame can carry them (Limits.MaxRecordBytes).
	KeysTooLarge int64
	// BelowFloor counts the local records dropped because the peer's
	// flush floor was above this store's (a FLUSHALL this node missed).
	BelowFloor int64
	// Synced lists the ranges fully compared (and repaired if they
	// differed); a range missing here had an error, or a tombstone too
	// large to move (a range whose tombstones did not all reach the peer
	// proves nothing for the purge).
	Synced []Range
	// Differing lists the ranges whose roots differed.
	Differing []Range
}

// Exchange limits.
const (
	rootsPerRequest   = 1024
	leavesPerRequest  = 256
	recordsPerRequest = 512
)

// Exchange compares the ranges with peer and repairs every difference
// both ways: local records that are newer or missing on the peer are
// pushed, the peer's newer or missing ones are pulled and applied
// locally, all through last-write-wins, in requests within
// DefaultLimits. It returns what it did; an error stops it, with the
// ranges finished so far in Result.Synced.
func Exchange(ctx context.Context, store Store, peer Peer, ranges []Range, budget Budget) (Result, error) {
	return exchangeWithin(ctx, store, peer, ranges, budget, DefaultLimits(), nil)
}

// Synced is told of each range an exchange syncs, as soon as it is
// synced, with the exchange's figures so far; an error it returns stops
// the exchange.
type Synced func(r Range, sofar Result) error

// ExchangeEach is Exchange, telling synced of each range once it is
// synced (a stream records its progress range by range).
func ExchangeEach(ctx context.Context, store Store, peer Peer, ranges []Range, budget Budget, synced Synced) (Result, error) {
	return exchangeWithin(ctx, store, peer, ranges, budget, DefaultLimits(), synced)
}

// exchangeWithin is Exchange with the given limits.
func exchangeWithin(ctx context.Context, store Store, peer Peer, ranges []Range, budget Budget, lim Limits, synced Synced) (Result, error) {
	x := &exchange{store: store, peer: peer, budget: budget, lim: lim, synced: synced}
	if err := x.floors(ctx); err != nil {
		return x.res, err
	}
	for start := 0; start < len(ranges); start += rootsPerRequest {
		chunk := ranges[start:min(start+rootsPerRequest, len(ranges))]
		if err := x.compare(ctx, chunk); err != nil {
			return x.res, err
		}
	}
	return x.res, nil
}

type exchange struct {
	store  Store
	peer   Peer
	budget Budget
	lim    Limits
	res    Result
	synced Synced
	// unsized is set once the peer turned transport.OpEntriesSized down (an older
	// version): its entries are asked with transport.OpEntries, without sizes.
	unsized bool
	// skippedTombstone is set when a tombstone of the current range was
	// too large to move: the range is then not synced.
	skippedTombstone bool
}

// call sends one request and returns the answer, counting both.
func (x *exchange) call(ctx context.Context, op uint8, req []byte) ([]byte, error) {
	if err := x.spend(ctx, len(req)); err != nil {
		return nil, err
	}
	x.res.BytesSent += int64(len(req))
	resp, err := x.peer.Call(ctx, op, req)
	if err != nil {
		return nil, err
	}
	x.res.BytesReceived += int64(len(resp))
	return resp, x.spend(ctx, len(resp))
}

func (x *exchange) spend(ctx context.Context, n int) error {
	if x.budget == nil {
		return ctx.Err()
	}
	return x.budget(ctx, n)
}

// floors starts an exchange: each side tells the other its flush floor
// and the lower one is raised, so that a replica a FLUSHALL missed drops
// what the flush dropped before the ranges are compared. A peer that
// does not know transport.OpFloor is compared without.
func (x *exchange) floors(ctx context.Context) error {
	resp, err := x.call(ctx, transport.OpFloor, transport.AppendFloor(nil, x.store.Floor()))
	switch {
	case errors.Is(err, transport.ErrUnknownOp):
		return nil
	case err != nil:
		return fmt.Errorf("antientropy: floor: %w", err)
	}
	floor, err := transport.DecodeFloor(resp)
	if err != nil {
		return err
	}
	n, err := x.store.RaiseFloor(floor)
	x.res.BelowFloor += n
	if err != nil {
		return fmt.Errorf("antientropy: raise floor: %w", err)
	}
	return nil
}

// compare compares the roots of a chunk of ranges and repairs the ranges
// that differ.
func (x *exchange) compare(ctx context.Context, ranges []Range) error {
	resp, err := x.call(ctx, transport.OpRoots, AppendRootsRequest(nil, RootsRequest{Ranges: ranges}))
	if err != nil {
		return fmt.Errorf("antientropy: roots: %w", err)
	}
	roots, err := DecodeRootsResponse(resp)
	if err != nil {
		return err
	}
	if len(roots.Roots) != len(ranges) {
		return fmt.Errorf("%w: %d roots for %d ranges", ErrBadAnswer, len(roots.Roots), len(ranges))
	}
	locals, err := trees(x.store, ranges)
	if err != nil {
		return err
	}
	for i, r := range ranges {
		local := locals[i]
		x.res.RangesCompared++
		x.skippedTombstone = false
		if local.Root() != roots.Roots[i] {
			x.res.RangesDiffering++
			x.res.Differing = append(x.res.Differing, r)
			if err := x.repairRange(ctx, r, local, roots.Roots[i]); err != nil {
				return err
			}
		}
		if !x.skippedTombstone {
			x.res.Synced = append(x.res.Synced, r)
			if x.synced != nil {
				if err := x.synced(r, x.res); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// repairRange descends into a differing range and repairs the keys of the
// leaves that differ.
func (x *exchange) repairRange(ctx context.Context, r Range, local *Tree, remoteRoot uint64) error {
	leaves, _, err := Diff(local, remoteRoot, func(level int, idx []int) ([]uint64, error) {
		resp, err := x.call(ctx, transport.OpNodes, AppendNodesRequest(nil, NodesRequest{Range: r, Level: level, Indices: idx}))
		if err != nil {
			return nil, err
		}
		nr, err := DecodeNodesResponse(resp)
		return nr.Hashes, err
	})
	if err != nil {
		return err
	}
	x.res.LeavesDiffering += len(leaves)
	for start := 0; start < len(leaves); start += leavesPerRequest {
		chunk := leaves[start:min(start+leavesPerRequest, len(leaves))]
		remote, err := x.remoteEntries(ctx, r, chunk)
		if err != nil {
			return err
		}
		mine, err := entries(x.store, r, chunk)
		if err != nil {
			return err
		}
		push, pull := reconcile(mine, remote)
		if err := x.push(ctx, push); err != nil {
			return err
		}
		if err := x.pull(ctx, pull); err != nil {
			return err
		}
	}
	return nil
}

// remoteEntries asks the peer for the entries of leaves of r, with their
// sizes unless the peer does not know transport.OpEntriesSized.
func (x *exchange) remoteEntries(ctx context.Context, r Range, leaves []int) ([]Entry, error) {
	req := AppendEntriesRequest(nil, EntriesRequest{Range: r, Leaves: leaves})
	if !x.unsized {
		resp, err := x.call(ctx, transport.OpEntriesSized, req)
		if !errors.Is(err, transport.ErrUnknownOp) {
			if err != nil {
				return nil, fmt.Errorf("antientropy: entries: %w", err)
			}
			m, err := DecodeEntriesResponse(resp)
			return m.Entries, err
		}
		x.unsized = true
	}
	resp, err := x.call(ctx, transport.OpEntries, req)
	if err != nil {
		return nil, fmt.Errorf("antientropy: entries: %w", err)
	}
	m, err := DecodeEntriesResponse(resp)
	return m.Entries, err
}

// skip counts records left unrepaired because no frame carries them.
func (x *exchange) skip(n int, tombstone bool) {
	x.res.KeysTooLarge += int64(n)
	x.skippedTombstone = x.skippedTombstone || tombstone
}

// skipEntries is skip for entries.
func (x *exchange) skipEntries(es []*Entry) {
	for _, e := range es {
		x.skip(1, e.Tombstone)
	}
}

// push sends the local records of es to the peer, in batches within the
// limits.
func (x *exchange) push(ctx context.Context, es []*Entry) error {
	batches, big := x.lim.batches(es, recordsPerRequest)
	x.skipEntries(big)
	for _, b := range batches {
		keys := keysOf(b)
		recs := make([]engine.Record, len(keys))
		found := make([]bool, len(keys))
		if err := x.store.LookupBatch(keys, recs, found); err != nil {
			return err
		}
		ks, rs, size := x.present(keys, recs, found, true)
		if len(ks) == 0 {
			continue
		}
		if err := x.spend(ctx, size); err != nil {
			return err
		}
		if err := x.peer.Apply(ctx, ks, rs); err != nil {
			return fmt.Errorf("antientropy: push: %w", err)
		}
		x.res.KeysSent += int64(len(ks))
		x.res.BytesSent += int64(size)
	}
	return nil
}

// pull reads the records of es from the peer and applies them locally,
// in batches within the limits.
func (x *exchange) pull(ctx context.Context, es []*Entry) error {
	batches, big := x.lim.batches(es, recordsPerRequest)
	x.skipEntries(big)
	for _, b := range batches {
		keys := keysOf(b)
		recs, found, err := x.read(ctx, keys, b)
		if err != nil {
			return err
		}
		ks, rs, size := x.present(keys, recs, found, false)
		if err := x.spend(ctx, size); err != nil {
			return err
		}
		x.res.BytesReceived += int64(size)
		if len(ks) == 0 {
			continue
		}
		if _, err := x.store.ApplyBatch(ks, rs); err != nil {
			return fmt.Errorf("antientropy: apply pulled records: %w", err)
		}
		x.res.KeysReceived += int64(len(ks))
	}
	return nil
}

// read reads keys (the keys of es) from the peer. A request whose answer
// does not fit in a frame (the peer's sizes were unknown or have grown)
// is asked again in halves; a single record that fits in no answer is
// skipped, reported as not found.
func (x *exchange) read(ctx context.Context, keys [][]byte, es []*Entry) ([]engine.Record, []bool, error) {
	recs, found, err := x.peer.Read(ctx, keys)
	if errors.Is(err, transport.ErrFrameTooLarge) && ctx.Err() == nil {
		if len(keys) == 1 {
			x.skip(1, es[0].Tombstone)
			return make([]engine.Record, 1), make([]bool, 1), nil
		}
		mid := len(keys) / 2
		r1, f1, err := x.read(ctx, keys[:mid], es[:mid])
		if err != nil {
			return nil, nil, err
		}
		r2, f2, err := x.read(ctx, keys[mid:], es[mid:])
		if err != nil {
			return nil, nil, err
		}
		return append(r1, r2...), append(f1, f2...), nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("antientropy: pull: %w", err)
	}
	if len(recs) != len(keys) || len(found) != len(keys) {
		return nil, nil, fmt.Errorf("%w: %d records for %d keys", ErrBadAnswer, len(recs), len(keys))
	}
	return recs, found, nil
}

// present keeps the keys that were found, with their records, and
// returns their size in bytes (key plus encoded record). With toSend, a
// record that grew too large for a frame since its entry was read is
// skipped (a pulled record has arrived already).
func (x *exchange) present(keys [][]byte, recs []engine.Record, found []bool, toSend bool) (ks [][]byte, rs []engine.Record, size int) {
	for i := range keys {
		if !found[i] {
			continue
		}
		if toSend && x.lim.tooLarge(recordSize(keys[i], recs[i])) {
			x.skip(1, recs[i].Tombstone)
			continue
		}
		ks, rs = append(ks, keys[i]), append(rs, recs[i])
		size += len(keys[i]) + recs[i].EncodedLen()
	}
	return ks, rs, size
}

func keysOf(es []*Entry) [][]byte {
	out := make([][]byte, len(es))
	for i, e := range es {
		out[i] = e.Key
	}
	return out
}
