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
