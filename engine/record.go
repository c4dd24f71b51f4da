package engine

import "strconv"

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
