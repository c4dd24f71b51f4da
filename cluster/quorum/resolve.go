package quorum

import "github.com/ringcache/ringcache/engine"

// Reply is one replica's answer to a read of one key.
type Reply struct {
	// Found reports whether the replica holds any record for the key:
	// live, expired or a tombstone.
	Found bool
	// Record is the replica's record; meaningful only when Found.
	Record engine.Record
}

// Compare orders two replies by how new what they hold is: no record is
// older than any record, and records order by version. Expiry and
// tombstones play no part: they are properties of a version, and the
// engine keeps an expired record's version when it turns it into a
// tombstone, so equal versions mean the same write.
func Compare(a, b Reply) int {
	switch {
	case a.Found != b.Found:
		if a.Found {
			return 1
		}
		return -1
	case !a.Found:
		return 0
	}
	return a.Record.Version.Compare(b.Record.Version)
}

// Resolution is the outcome of a quorum read of one key.
type Resolution struct {
	// Found reports whether any replier holds a record for the key.
	Found bool
	// Newest is the index of the reply holding the newest record (the
	// first one among equals), or -1 when none was found.
	Newest int
	// Record is the newest record, the one every replica should hold.
	Record engine.Record
	// Stale lists, ascending, the indices of replies older than Newest:
	// the replicas read repair must send Record to.
	Stale []int
}

// Resolve picks the newest of the replies and lists the stale ones. Pass
// only replies that arrived: a replica that failed or timed out is neither
// up to date nor known to be stale. stale is reused for Resolution.Stale
// when it has room (pass nil to allocate).
//
// An expired or deleted newest record still makes older replicas stale:
// repairing them with it (instead of leaving an older live value) is what
// keeps a deleted or expired key from coming back once the newer record
// is purged.
func Resolve(replies []Reply, stale []int) Resolution {
	res := Resolution{Newest: -1, Stale: stale[:0]}
	for i, r := range replies {
		if r.Found && (res.Newest < 0 || Compare(r, replies[res.Newest]) > 0) {
			res.Newest = i
		}
	}
	if res.Newest < 0 {
		return res
	}
	res.Found, res.Record = true, replies[res.Newest].Record
	for i, r := range replies {
		if Compare(r, replies[res.Newest]) < 0 {
			res.Stale = append(res.Stale, i)
		}
	}
	return res
}

// Live reports whether the read returns a value at nowMs (Unix
// milliseconds): the newest record exists, is not a tombstone and has not
// expired.
func (res Resolution) Live(nowMs int64) bool {
	return res.Found && res.Record.Live(nowMs)
}

// IsStale reports whether a reply that arrived after res was computed (a
// late replier) holds an older record than res and needs repair. A late
// reply newer than res is not stale; Compare tells the caller that the
// other replicas are.
func (res Resolution) IsStale(late Reply) bool {
	return res.Found && Compare(late, Reply{Found: true, Record: res.Record}) < 0
}
