package antientropy

import (
	"cmp"
	"slices"

	"github.com/ringcache/ringcache/engine"
)

// Store is a node's engine as anti-entropy uses it; *engine.Engine
// implements it.
type Store interface {
	// AppendDigests appends the hashes of count digest buckets from first.
	AppendDigests(dst []uint64, first, count int) []uint64
	// Scan visits the records with tokens in [start, end) (wrapping; end 0
	// is the top of the ring) in scan order.
	Scan(start, end uint64, fn func(key []byte, r engine.Record) error) error
	// ScanSpans visits the records of each span in turn through one
	// iterator: many partial leaves cost one pass, not one seek each
	// (a large record is read once, not once per nearby leaf).
	ScanSpans(spans []engine.Span, fn func(i int, key []byte, r engine.Record) error) error
	// ApplyBatch applies records with last-write-wins.
	ApplyBatch(keys [][]byte, recs []engine.Record) (int, error)
	// LookupBatch reads records (tombstones and expired ones included).
	LookupBatch(keys [][]byte, dst []engine.Record, found []bool) error
	// Floor returns the flush floor (zero: none).
	Floor() engine.Version
	// RaiseFloor raises the flush floor to a fellow replica's, dropping
	// the records older than it, and returns how many it dropped.
	RaiseFloor(floor engine.Version) (int64, error)
}

// leafSpan is a leaf's tokens [Lo, Hi] as a scan span [Lo, Hi+1); Hi+1
// wraps to 0, "the top of the ring", for the last bucket.
func leafSpan(lf Leaf) engine.Span { return engine.Span{Start: lf.Lo, End: lf.Hi + 1} }

// trees builds the tree of every range on store: a whole bucket's leaf
// hash is the engine's digest, a partial leaf's is hashed by scanning
// exactly its tokens, the partial leaves of all ranges in one ascending
// pass.
func trees(store Store, ranges []Range) ([]*Tree, error) {
	type partial struct{ r, i int }
	hashes := make([][]uint64, len(ranges))
	var parts []partial
	var spans []engine.Span
	var digests []uint64
	for r, rg := range ranges {
		leaves := Leaves(rg)
		hashes[r] = make([]uint64, len(leaves))
		for i, lf := range leaves {
			if lf.Partial {
				parts = append(parts, partial{r, i})
				spans = append(spans, leafSpan(lf))
				continue
			}
			digests = store.AppendDigests(digests[:0], lf.Bucket, 1)
			hashes[r][i] = digests[0]
		}
	}
	order := ascending(spans)
	sorted := make([]engine.Span, len(spans))
	for k, j := range order {
		sorted[k] = spans[j]
	}
	err := store.ScanSpans(sorted, func(k int, key []byte, rec engine.Record) error {
		p := parts[order[k]]
		hashes[p.r][p.i] ^= engine.ElementHash(key, rec.Version, rec.ExpireAt, rec.Tombstone)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*Tree, len(ranges))
	for r := range ranges {
		out[r] = NewTree(hashes[r])
	}
	return out, nil
}

// ascending returns the indexes of spans in ascending order of Start.
func ascending(spans []engine.Span) []int {
	order := make([]int, len(spans))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(spans[a].Start, spans[b].Start) })
	return order
}

// tree builds r's tree on store.
func tree(store Store, r Range) (*Tree, error) {
	ts, err := trees(store, []Range{r})
	if err != nil {
		return nil, err
	}
	return ts[0], nil
}

// recordSize is an entry's Size: the key's and the value's bytes, capped
// at what a message may carry (any record that large fits in no frame).
func recordSize(key []byte, r engine.Record) int {
	n := len(key)
	if !r.Tombstone {
		n += len(r.Value)
	}
	return min(n, maxEntrySize)
}

// entries returns the entries of the given leaves of r, in leaf order then
// scan order, read in one pass.
func entries(store Store, r Range, leaves []int) ([]Entry, error) {
	spans := make([]engine.Span, len(leaves))
	for k, i := range leaves {
		lf, ok := LeafAt(r, i)
		if !ok {
			return nil, ErrBadRequest
		}
		spans[k] = leafSpan(lf)
	}
	var out []Entry
	err := store.ScanSpans(spans, func(_ int, key []byte, rec engine.Record) error {
		out = append(out, Entry{Key: append([]byte(nil), key...), Version: rec.Version, ExpireAt: rec.ExpireAt,
			Tombstone: rec.Tombstone, Size: recordSize(key, rec)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
