package antientropy

import (
	"context"
	"fmt"

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
	// Synced lists the ranges fully compared (and repaired if they
	// differed); a range missing here had an error.
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
// locally, all through last-write-wins. It returns what it did; an error
// stops it, with the ranges finished so far in Result.Synced.
func Exchange(ctx context.Context, store Store, peer Peer, ranges []Range, budget Budget) (Result, error) {
	x := &exchange{store: store, peer: peer, budget: budget}
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
	res    Result
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

// compare compares the roots of a chunk of ranges and repairs the ranges
// that differ.
func (x *exchange) compare(ctx context.Context, ranges []Range) error {
	resp, err := x.call(ctx, OpRoots, AppendRootsRequest(nil, RootsRequest{Ranges: ranges}))
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
	for i, r := range ranges {
		local, err := tree(x.store, r)
		if err != nil {
			return err
		}
		x.res.RangesCompared++
		if local.Root() != roots.Roots[i] {
			x.res.RangesDiffering++
			x.res.Differing = append(x.res.Differing, r)
			if err := x.repairRange(ctx, r, local, roots.Roots[i]); err != nil {
				return err
			}
		}
		x.res.Synced = append(x.res.Synced, r)
	}
	return nil
}

// repairRange descends into a differing range and repairs the keys of the
// leaves that differ.
func (x *exchange) repairRange(ctx context.Context, r Range, local *Tree, remoteRoot uint64) error {
	leaves, _, err := Diff(local, remoteRoot, func(level int, idx []int) ([]uint64, error) {
		resp, err := x.call(ctx, OpNodes, AppendNodesRequest(nil, NodesRequest{Range: r, Level: level, Indices: idx}))
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
		resp, err := x.call(ctx, OpEntries, AppendEntriesRequest(nil, EntriesRequest{Range: r, Leaves: chunk}))
		if err != nil {
			return fmt.Errorf("antientropy: entries: %w", err)
		}
		remote, err := DecodeEntriesResponse(resp)
		if err != nil {
			return err
		}
		mine, err := entries(x.store, r, chunk)
		if err != nil {
			return err
		}
		push, pull := Reconcile(mine, remote.Entries)
		if err := x.push(ctx, push); err != nil {
			return err
		}
		if err := x.pull(ctx, pull); err != nil {
			return err
		}
	}
	return nil
}

// push sends the local records of keys to the peer.
func (x *exchange) push(ctx context.Context, keys [][]byte) error {
	for start := 0; start < len(keys); start += recordsPerRequest {
		chunk := keys[start:min(start+recordsPerRequest, len(keys))]
		recs := make([]engine.Record, len(chunk))
		found := make([]bool, len(chunk))
		if err := x.store.LookupBatch(chunk, recs, found); err != nil {
			return err
		}
		ks, rs, size := present(chunk, recs, found)
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

// pull reads keys from the peer and applies them locally.
func (x *exchange) pull(ctx context.Context, keys [][]byte) error {
	for start := 0; start < len(keys); start += recordsPerRequest {
		chunk := keys[start:min(start+recordsPerRequest, len(keys))]
		recs, found, err := x.peer.Read(ctx, chunk)
		if err != nil {
			return fmt.Errorf("antientropy: pull: %w", err)
		}
		if len(recs) != len(chunk) || len(found) != len(chunk) {
			return fmt.Errorf("%w: %d records for %d keys", ErrBadAnswer, len(recs), len(chunk))
		}
		ks, rs, size := present(chunk, recs, found)
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

// present keeps the keys that were found, with their records, and
// returns their size in bytes (key plus encoded record).
func present(keys [][]byte, recs []engine.Record, found []bool) (ks [][]byte, rs []engine.Record, size int) {
	for i := range keys {
		if found[i] {
			ks, rs = append(ks, keys[i]), append(rs, recs[i])
			size += len(keys[i]) + recs[i].EncodedLen()
		}
	}
	return ks, rs, size
}
