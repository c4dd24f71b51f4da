package transport

import "github.com/ringcache/ringcache/engine"

// Size limits that follow from Config.MaxFrameBytes. A frame's payload is
// one whole request or answer, so a record travels inside one apply
// request (whose header may carry a node id) or one read
// response, and the largest record the cluster can move is a frame less
// the encoding around it. Callers check against these before they build
// a request: a payload over the limit is refused by Call without being
// sent, and a response over it by the peer's server.

const (
	// maxCountLen is the longest uvarint a count or length inside a
	// payload can take: payloads are at most 1 GiB (maxFrameLimit).
	maxCountLen = 5
	// maxTargetPrefix is the most a request puts in front of its items:
	// the flags byte, a node id of at most 255 bytes (maxNodeID) with its
	// uvarint length, and an epoch (a uvarint of at most 10 bytes).
	maxTargetPrefix = 1 + 2 + maxNodeID + 10
	// maxRecordReserve is the margin MaxRecordBytes keeps below large
	// frames. Beyond the exact encoding overhead (minRecordReserve) it
	// leaves room for what a request may carry besides its records in a
	// later version, so the largest value does not change with them.
	maxRecordReserve = 64 << 10
)

// maxRecordHeader is the longest record encoding without its value: the
// engine's header and an expiry.
var maxRecordHeader = engine.Record{ExpireAt: 1}.EncodedLen()

// minRecordReserve is the exact worst case of the bytes around one key
// and value in one frame: an apply request of one item whose header names
// a node (flags, node id, count, key length, record length, record
// header) or a read response of one item (count, found flag, record
// length, record header), the larger of the two.
var minRecordReserve = maxCountLen + maxTargetPrefix + 2*maxCountLen + maxRecordHeader

// MaxRecordBytes returns the largest key plus value that travels in one
// frame of maxFrame payload bytes, whatever request or answer carries it.
// It keeps 64 KiB of the frame free (an eighth of a frame under 512 KiB,
// and never less than the encoding around one record needs): with the
// default 64 MiB frames the limit is 67,043,328 bytes.
func MaxRecordBytes(maxFrame int) int {
	return maxFrame - max(minRecordReserve, min(maxRecordReserve, maxFrame/8))
}

// ApplyItemLen returns the bytes that one key and its record add to an
// apply request (AppendApplyRequest).
func ApplyItemLen(key []byte, r engine.Record) int {
	n := r.EncodedLen()
	return uvarintLen(len(key)) + len(key) + uvarintLen(n) + n
}

// MaxApplyItemsBytes returns the most bytes of items (ApplyItemLen summed)
// that one apply request may carry in a frame of maxFrame payload bytes:
// the frame less the item count and the request's header.
func MaxApplyItemsBytes(maxFrame int) int {
	return maxFrame - maxCountLen - maxTargetPrefix
}

// ReadKeyLen returns the bytes that one key adds to a read request
// (AppendReadRequest).
func ReadKeyLen(key []byte) int { return uvarintLen(len(key)) + len(key) }

// MaxReadKeysBytes returns the most bytes of keys (ReadKeyLen summed) that
// one read request may carry in a frame of maxFrame payload bytes: the
// frame less the key count and the request's header.
func MaxReadKeysBytes(maxFrame int) int { return maxFrame - maxCountLen - maxTargetPrefix }
