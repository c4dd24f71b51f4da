package engine

import (
	"math"
	"strconv"
)

// Version orders the writes of one key across the whole cluster. It is a
// hybrid logical clock timestamp (wall-clock milliseconds plus a logical
// counter) with the writer's node id as a deterministic tie-break, so two
// different writes never compare equal unless they are the same write.
type Version struct {
	// Wall is the HLC's physical part in Unix milliseconds.
	Wall int64
	// Logical orders writes stamped within one Wall millisecond.
	Logical uint32
	// Node is the writer's node id hash; it only breaks ties.
	Node uint64
}

// Compare returns -1, 0 or +1 as v is older than, the same as, or newer
// than o.
func (v Version) Compare(o Version) int {
	switch {
	case v.Wall != o.Wall:
		return cmpInt(v.Wall < o.Wall)
	case v.Logical != o.Logical:
		return cmpInt(v.Logical < o.Logical)
	case v.Node != o.Node:
		return cmpInt(v.Node < o.Node)
	}
	return 0
}

// IsZero reports whether v is the zero version (no write).
func (v Version) IsZero() bool { return v == Version{} }

func cmpInt(less bool) int {
	if less {
		return -1
	}
	return 1
}

// Record is what the engine stores for one user key: a value or a
// tombstone, the version of the write that produced it, and an absolute
// expiry.
type Record struct {
	// Value is the stored bytes; empty for a tombstone.
	Value []byte
	// Version is the version of the write that produced the record.
	Version Version
	// ExpireAt is the absolute expiry in Unix milliseconds; 0 means none.
	ExpireAt int64
	// Tombstone marks a delete. A tombstone has no value and no expiry.
	Tombstone bool
	// EvictedAt, on a tombstone, marks it as an eviction made at that
	// time (Unix milliseconds); 0 for a delete. An eviction deletes one
	// version: its tombstone carries EvictedVersion of the record it
	// evicts, so a later write of the key wins over it.
	EvictedAt int64
}

// EvictedVersion returns the version of the tombstone that evicts the
// record of version v: the least version newer than v (the same time, the
// next node id), so that a write newer than the evicted one, stamped by
// whatever node, also beats the eviction. The one exception is a write of
// exactly that version, which only a node whose id hashes to the evicted
// writer's plus one could stamp, in the same millisecond and logical tick:
// it would be taken for the eviction and lost.
func EvictedVersion(v Version) Version {
	switch {
	case v.Node != math.MaxUint64:
		v.Node++
	case v.Logical != math.MaxUint32:
		v.Logical, v.Node = v.Logical+1, 0
	default:
		v.Wall, v.Logical, v.Node = v.Wall+1, 0, 0
	}
	return v
}

// ChangedAt is when the record took its state, Unix milliseconds: when
// the eviction was made for an evicted tombstone, and otherwise its
// version's wall time. A tombstone's grace period runs from it.
func (r Record) ChangedAt() int64 {
	return max(r.Version.Wall, r.EvictedAt)
}

// RecordOverhead is what the engine counts for a stored record on top of
// its key and value bytes: the data key's prefix (9), the record header
// (22), Pebble's key trailer (8), and an allowance for the memtable and
// table index entries. A record with an expiry also has an expiry index
// entry: expiryOverhead plus its key again.
const (
	RecordOverhead = 64
	expiryOverhead = 48
)

// RecordBytes is what a live record of keyLen key bytes and valueLen
// value bytes counts in Engine.UsedBytes; tombstones count nothing.
func RecordBytes(keyLen, valueLen int, expires bool) int64 {
	n := int64(keyLen + valueLen + RecordOverhead)
	if expires {
		n += int64(keyLen + expiryOverhead)
	}
	return n
}

// Live reports whether the record is visible to a read at nowMs: not a
// tombstone and not expired.
func (r Record) Live(nowMs int64) bool {
	return !r.Tombstone && (r.ExpireAt == 0 || r.ExpireAt > nowMs)
}

// String formats v as "wall.logical.node" with the node hash in hex, the
// form RINGCACHE LOCALGET shows.
func (v Version) String() string {
	return strconv.FormatInt(v.Wall, 10) + "." + strconv.FormatUint(uint64(v.Logical), 10) + "." +
		strconv.FormatUint(v.Node, 16)
}
