package engine

import (
	"encoding/binary"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// DigestBits is the number of token bits that choose a digest bucket.
const DigestBits = 16

// DigestBuckets is the number of digest buckets (the Merkle tree's
// leaves); a token's bucket is token >> (64 - DigestBits).
const DigestBuckets = 1 << DigestBits

// A bucket must lie inside one stripe, so that the writers of a bucket are
// already serialized by the stripe they hold (see xorDigest).
const _ = uint(DigestBits - stripeBits)

// DigestBucket returns the digest bucket of a token.
func DigestBucket(token uint64) int { return int(token >> (64 - DigestBits)) }

// digests holds one XOR-of-hashes per bucket. XOR makes the digest
// independent of the order records arrived in and lets one change be
// undone by XOR-ing the same hash again.
type digests [DigestBuckets]atomic.Uint64

// digestDelta is the XOR a committed change applies to tok's bucket.
type digestDelta struct {
	tok uint64
	h   uint64
}

// ElementHash is what one stored record contributes to its bucket:
// xxhash64 over the key (BE32 length, then the bytes), the version (Wall
// BE64, Logical BE32, Node BE64), the expiry (BE64, 0 for tombstones) and
// the tombstone flag (one byte), so that every node computes the same
// value. Including the version means a replica's stale copy never hashes
// like the new one; the value is left out because equal versions mean
// equal writes.
func ElementHash(key []byte, v Version, expireAt int64, tombstone bool) uint64 {
	const fixed = 8 + 4 + 8 + 8 + 1
	var tail [fixed]byte
	if tombstone {
		expireAt = 0 // a tombstone is stored without expiry
	}
	binary.BigEndian.PutUint64(tail[0:], uint64(v.Wall))
	binary.BigEndian.PutUint32(tail[8:], v.Logical)
	binary.BigEndian.PutUint64(tail[12:], v.Node)
	binary.BigEndian.PutUint64(tail[20:], uint64(expireAt))
	if tombstone {
		tail[28] = 1
	}
	// Short keys (the common case) are hashed in one call from the stack;
	// the streaming digest gives the same hash for longer ones.
	var buf [128]byte
	if 4+len(key)+fixed <= len(buf) {
		b := binary.BigEndian.AppendUint32(buf[:0], uint32(len(key)))
		b = append(b, key...)
		b = append(b, tail[:]...)
		return xxhash.Sum64(b)
	}
	d := xxhash.New()
	_, _ = d.Write(binary.BigEndian.AppendUint32(buf[:0], uint32(len(key))))
	_, _ = d.Write(key)
	_, _ = d.Write(tail[:])
	return d.Sum64()
}

// elementHash is ElementHash, or 0 when the digest is off.
func (e *Engine) elementHash(key []byte, v Version, expireAt int64, tombstone bool) uint64 {
	if e.digest == nil {
		return 0
	}
	return ElementHash(key, v, expireAt, tombstone)
}

// AppendDigests appends the hashes of count buckets starting at bucket
// first (wrapping past the last) to dst. Bucket b is the XOR of
// ElementHash over every stored data record whose token is in b:
// tombstones and expired-but-unreclaimed records included, hints
// excluded. It reads without locks; under concurrent writes each bucket is
// a committed state. With Config.NoDigest it appends zeros.
func (e *Engine) AppendDigests(dst []uint64, first, count int) []uint64 {
	for i := range count {
		var h uint64
		if e.digest != nil {
			h = e.digest[(first+i)&(DigestBuckets-1)].Load()
		}
		dst = append(dst, h)
	}
	return dst
}

// xorDigest folds h into tok's bucket. The caller holds tok's stripe (or
// every stripe) and has committed the change h describes: every writer of
// a bucket holds its stripe, so load-then-store loses no update, and
// readers see either the old or the new value.
func (e *Engine) xorDigest(tok, h uint64) {
	if e.digest == nil || h == 0 {
		return
	}
	b := &e.digest[DigestBucket(tok)]
	b.Store(b.Load() ^ h)
}

// applyDigest applies a committed batch's changes.
func (e *Engine) applyDigest(ds []digestDelta) {
	for _, d := range ds {
		e.xorDigest(d.tok, d.h)
	}
}

// clearDigest zeroes every bucket; the caller holds every stripe.
func (e *Engine) clearDigest() {
	if e.digest == nil {
		return
	}
	for i := range e.digest {
		e.digest[i].Store(0)
	}
}
