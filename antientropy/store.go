package antientropy

import (
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
	// ApplyBatch applies records with last-write-wins.
	ApplyBatch(keys [][]byte, recs []engine.Record) (int, error)
	// LookupBatch reads records (tombstones and expired ones included).
	LookupBatch(keys [][]byte, dst []engine.Record, found []bool) error
}

// leafHashes returns the hash of every leaf of r on store: a whole
// bucket's digest as the engine keeps it, a partial leaf's by scanning
// exactly its tokens.
func leafHashes(store Store, r Range) ([]uint64, error) {
	leaves := Leaves(r)
	out := make([]uint64, len(leaves))
	var digests []uint64
	for i, lf := range leaves {
		if !lf.Partial {
			digests = store.AppendDigests(digests[:0], lf.Bucket, 1)
			out[i] = digests[0]
			continue
		}
		h, err := scanHash(store, lf)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

// scanHash hashes the records of one leaf the way the engine hashes a
// bucket.
func scanHash(store Store, lf Leaf) (uint64, error) {
	var h uint64
	err := scanLeaf(store, lf, func(key []byte, r engine.Record) error {
		h ^= engine.ElementHash(key, r.Version, r.ExpireAt, r.Tombstone)
		return nil
	})
	return h, err
}

// scanLeaf visits the records of one leaf. A leaf's tokens [Lo, Hi] are
// the scan [Lo, Hi+1); Hi+1 wraps to 0, "the top of the ring", for the
// last bucket.
func scanLeaf(store Store, lf Leaf, fn func(key []byte, r engine.Record) error) error {
	return store.Scan(lf.Lo, lf.Hi+1, fn)
}

// tree builds r's tree on store.
func tree(store Store, r Range) (*Tree, error) {
	hs, err := leafHashes(store, r)
	if err != nil {
		return nil, err
	}
	return NewTree(hs), nil
}

// entries returns the entries of the given leaves of r, in leaf order then
// scan order.
func entries(store Store, r Range, leaves []int) ([]Entry, error) {
	var out []Entry
	for _, i := range leaves {
		lf, ok := LeafAt(r, i)
		if !ok {
			return nil, ErrBadRequest
		}
		err := scanLeaf(store, lf, func(key []byte, rec engine.Record) error {
			out = append(out, Entry{Key: append([]byte(nil), key...), Version: rec.Version, ExpireAt: rec.ExpireAt, Tombstone: rec.Tombstone})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
