package antientropy

import (
	"github.com/ringcache/ringcache/cluster/ring"
	"github.com/ringcache/ringcache/engine"
)

// BucketBits is the number of high token bits that select a digest
// bucket: the engine keeps 1<<BucketBits buckets and a token t belongs to
// bucket t >> (64 - BucketBits).
const BucketBits = engine.DigestBits

// Buckets is the number of digest buckets.
const Buckets = 1 << BucketBits

// MaxLeaves bounds the number of leaves of any range: every bucket once,
// plus a second leaf for the bucket a range both starts and ends in
// (the whole ring with an unaligned start, or a range that leaves out
// only a few tokens of one bucket).
const MaxLeaves = Buckets + 1

const (
	bucketShift = 64 - BucketBits
	bucketMask  = 1<<bucketShift - 1 // token bits below the bucket number
)

// Range is the ring's range: the tokens t with Start < t <= End, wrapping
// past 2^64-1 when End < Start; Start == End covers the whole ring. It is
// the ring's own type, so replicas compare exactly the ranges the ring
// hands out.
type Range = ring.Range

// Leaf is one leaf of a range's tree: the tokens [Lo, Hi] (inclusive,
// never wrapping) of bucket Bucket that lie in the range.
type Leaf struct {
	// Bucket is the digest bucket the leaf's tokens belong to.
	Bucket int
	// Lo and Hi are the leaf's first and last token.
	Lo, Hi uint64
	// Partial reports that [Lo, Hi] is not the whole bucket: the engine's
	// bucket digest cannot be used and the caller hashes exactly these
	// tokens by scanning them.
	Partial bool
}

// BucketOf returns the digest bucket of token t.
func BucketOf(t uint64) int { return int(t >> bucketShift) }

// Leaves lists r's leaves in ring order, starting with the bucket that
// holds Start+1. Each bucket the range touches gives one leaf holding the
// bucket's tokens that are in the range, so only the first and the last
// leaf can be partial. When the range starts and ends inside the same
// bucket but wraps around the whole ring (the whole ring itself with an
// unaligned Start+1, or a range missing only part of one bucket), that
// bucket gives two partial leaves, the first and the last, so that leaves
// stay contiguous in ring order: the whole ring has Buckets leaves when
// Start+1 is bucket-aligned and MaxLeaves otherwise.
//
// Both replicas derive the same leaves from the same range, which is what
// makes their trees comparable position by position.
func Leaves(r Range) []Leaf {
	lo := r.Start + 1
	// remain is the number of tokens still to cover minus one, so that the
	// whole ring (2^64 tokens) fits: End-Start-1 wraps to 2^64-1.
	remain := r.End - r.Start - 1
	out := make([]Leaf, 0, leafCount(lo, remain))
	for {
		bucketHi := lo | bucketMask
		if remain <= bucketHi-lo {
			hi := lo + remain
			return append(out, newLeaf(lo, hi))
		}
		out = append(out, newLeaf(lo, bucketHi))
		remain -= bucketHi - lo + 1
		lo = bucketHi + 1 // wraps to 0 after the last bucket
	}
}

// leafCount is the number of leaves of a range with first token lo and
// remain+1 tokens.
func leafCount(lo, remain uint64) int {
	return int(offsetLeaf(lo, remain)) + 1
}

func newLeaf(lo, hi uint64) Leaf {
	return Leaf{
		Bucket:  BucketOf(lo),
		Lo:      lo,
		Hi:      hi,
		Partial: lo&bucketMask != 0 || hi&bucketMask != bucketMask,
	}
}

// LeafOf returns the index in Leaves(r) of the leaf holding token t, or -1
// if t is not in r. It does not build the leaves.
func LeafOf(r Range, t uint64) int {
	if !r.Contains(t) {
		return -1
	}
	return int(offsetLeaf(r.Start+1, t-(r.Start+1)))
}

// offsetLeaf returns the index of the leaf holding the token d positions
// after first. Leaf boundaries fall on bucket boundaries, so the index is
// the number of bucket boundaries crossed between first and first+d:
// ((first mod bucket size) + d) / bucket size, split to avoid overflow.
func offsetLeaf(first, d uint64) uint64 {
	return d>>bucketShift + (first&bucketMask+d&bucketMask)>>bucketShift
}

// LeafAt returns leaf i of Leaves(r) without building the list, as a
// replica serving an EntriesRequest needs it, and false if r has no leaf
// i.
func LeafAt(r Range, i int) (Leaf, bool) {
	first := r.Start + 1
	n := leafCount(first, r.End-r.Start-1)
	if i < 0 || i >= n {
		return Leaf{}, false
	}
	lo := first
	if i > 0 {
		// Bucket arithmetic wraps modulo 2^64, i.e. past the last bucket.
		lo = (first>>bucketShift + uint64(i)) << bucketShift
	}
	hi := lo | bucketMask
	if i == n-1 {
		hi = r.End
	}
	return newLeaf(lo, hi), true
}
