package engine

import (
	"bytes"
	"encoding/binary"
)

// Keyspace prefixes. All keyspaces live in one Pebble DB; the first byte
// of every Pebble key says which one it belongs to.
const (
	// prefixData: 'd' + token (8 bytes BE) + user key -> encoded Record.
	prefixData = 'd'
	// prefixHint: 'h' + len(target) (1 byte) + target + token (8 bytes BE)
	// + user key -> createdMs (8 bytes BE) + encoded Record. See hints.go.
	prefixHint = 'h'
	// prefixMeta: 'm' + name -> metadata. The engine's own names ("layout",
	// "floor", "floor-drop") never start with metaUser; 'm' + metaUser + name holds
	// PutMeta's.
	prefixMeta = 'm'
	metaUser   = 'u'
	// prefixIndex: 'x' + due ms (8 bytes BE) + kindExpire + data key ->
	// nothing: the expiry index.
	prefixIndex = 'x'
	// prefixPurge: 'y' + due ms (8 bytes BE) + kindPurge + data key ->
	// when this engine stored the tombstone over a record (ms, 8 bytes
	// BE; 0 if none) and its version: the tombstones' purge index.
	// Earlier builds left the value empty; the reclaimer writes such an
	// entry again, with a value, when it is first due. Stores written
	// before the index existed hold purge entries under prefixIndex as
	// well; both are read.
	prefixPurge = 'y'

	tokenLen      = 8
	dataKeyHeader = 1 + tokenLen
	indexHeader   = 1 + 8 + 1

	// maxTargetLen is the longest hint target: its length is one byte.
	maxTargetLen = 255
)

// Index entry kinds: what the reclaimer does when the entry is due.
const (
	// kindExpire: the record expires at the due time; turn it into a
	// tombstone with the same version.
	kindExpire byte = 'e'
	// kindPurge: the tombstone's grace period ends at the due time;
	// delete it physically if PurgeAllowed agrees.
	kindPurge byte = 'p'
)

// metaLayoutKey stores the on-disk layout version so a layout change is
// detected at Open instead of misreading data. Its value is one byte, the
// version; while Open migrates a store it is {from, to} (migrate.go), which
// builds that know only one layout refuse.
var metaLayoutKey = []byte{prefixMeta, 'l', 'a', 'y', 'o', 'u', 't'}

// layoutVersion is the layout this build writes. 1: tokens were the
// xxhash64 of the whole key; 2: Token hashes a key's hash tag.
const layoutVersion = 2

// AppendDataKey appends the Pebble key of userKey ('d' + BE token + key) to
// dst and returns the extended slice.
func AppendDataKey(dst, userKey []byte) []byte {
	return appendDataKeyTok(dst, Token(userKey), userKey)
}

func appendDataKeyTok(dst []byte, tok uint64, userKey []byte) []byte {
	dst = append(dst, prefixData)
	dst = binary.BigEndian.AppendUint64(dst, tok)
	return append(dst, userKey...)
}

// UserKey returns the user key inside a data key (aliasing it), or nil if
// dataKey is not a data key.
func UserKey(dataKey []byte) []byte {
	if len(dataKey) < dataKeyHeader || dataKey[0] != prefixData {
		return nil
	}
	return dataKey[dataKeyHeader:]
}

// dataKeyToken returns the token stored in a data key.
func dataKeyToken(dataKey []byte) uint64 {
	return binary.BigEndian.Uint64(dataKey[1:dataKeyHeader])
}

// tokenBound returns the data key prefix that sorts before every key with
// token tok.
func tokenBound(tok uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixData}, tok)
}

// appendIndexKey appends the index key of kind: 'x' + due + kindExpire +
// data key, or 'y' + due + kindPurge + data key. Purge entries have a
// keyspace of their own so that a walk of the expiry index (Count,
// SampleExpiring) never steps over them: a cluster that evicts fast
// holds many. Due times before the epoch are clamped to 0 so they sort
// first (they are due already).
func appendIndexKey(dst []byte, due int64, kind byte, dataKey []byte) []byte {
	if due < 0 {
		due = 0
	}
	prefix := byte(prefixIndex)
	if kind == kindPurge {
		prefix = prefixPurge
	}
	dst = append(dst, prefix)
	dst = binary.BigEndian.AppendUint64(dst, uint64(due))
	dst = append(dst, kind)
	return append(dst, dataKey...)
}

// purgeValueLen is the size of a purge entry's value.
const purgeValueLen = 8 + versionLen

// appendPurgeValue appends a purge entry's value: when the engine stored
// the tombstone over a record of its key (Unix milliseconds; 0 if it held
// none) and the tombstone's version, which tells the entry of a tombstone
// since replaced by a newer one (which has an entry of its own) from the
// current one's.
func appendPurgeValue(dst []byte, storedAt int64, v Version) []byte {
	return appendVersion(binary.BigEndian.AppendUint64(dst, uint64(storedAt)), v)
}

// parsePurgeValue reads a purge entry's value; ok is false for one of
// another size: an earlier build's entry, which it left empty, or a
// damaged one.
func parsePurgeValue(b []byte) (storedAt int64, v Version, ok bool) {
	if len(b) != purgeValueLen {
		return 0, Version{}, false
	}
	return int64(binary.BigEndian.Uint64(b)), readVersion(b[8:]), true
}

// parseIndexKey splits an index key; ok is false for malformed keys.
func parseIndexKey(k []byte) (due int64, kind byte, dataKey []byte, ok bool) {
	if len(k) < indexHeader+dataKeyHeader || (k[0] != prefixIndex && k[0] != prefixPurge) || k[indexHeader] != prefixData {
		return 0, 0, nil, false
	}
	return int64(binary.BigEndian.Uint64(k[1:9])), k[9], k[indexHeader:], true
}

// indexBound returns the expiry index's key prefix of everything due
// before dueMs.
func indexBound(dueMs int64) []byte {
	return appendIndexKey(nil, dueMs, kindExpire, nil)[:9]
}

// purgeBound is indexBound for the purge index.
func purgeBound(dueMs int64) []byte {
	return appendIndexKey(nil, dueMs, kindPurge, nil)[:9]
}

// keyspace bounds for range deletes and scans.
var (
	dataStart  = []byte{prefixData}
	dataEnd    = []byte{prefixData + 1}
	indexStart = []byte{prefixIndex}
	indexEnd   = []byte{prefixIndex + 1}
	purgeStart = []byte{prefixPurge}
	purgeEnd   = []byte{prefixPurge + 1}
	hintStart  = []byte{prefixHint}
	hintEnd    = []byte{prefixHint + 1}
)

// appendHintPrefix appends 'h' + len(target) + target: the prefix of all
// of target's hints. The length byte keeps one target's keys from being a
// prefix range of another's ("a" and "ab" differ at the length byte).
func appendHintPrefix(dst []byte, target string) []byte {
	dst = append(dst, prefixHint, byte(len(target)))
	return append(dst, target...)
}

// appendHintKey appends the Pebble key of target's hint for userKey, whose
// token is tok. Within a target, hints sort by (token, key) like data.
func appendHintKey(dst []byte, target string, tok uint64, userKey []byte) []byte {
	dst = appendHintPrefix(dst, target)
	dst = binary.BigEndian.AppendUint64(dst, tok)
	return append(dst, userKey...)
}

// parseHintKey splits a hint key (aliasing k); ok is false if malformed.
func parseHintKey(k []byte) (target []byte, tok uint64, userKey []byte, ok bool) {
	if len(k) < 2 || k[0] != prefixHint || k[1] == 0 {
		return nil, 0, nil, false
	}
	end := 2 + int(k[1])
	if len(k) < end+tokenLen {
		return nil, 0, nil, false
	}
	return k[2:end], binary.BigEndian.Uint64(k[end : end+tokenLen]), k[end+tokenLen:], true
}

// appendMetaKey appends the Pebble key of the user metadata name.
func appendMetaKey(dst []byte, name string) []byte {
	dst = append(dst, prefixMeta, metaUser)
	return append(dst, name...)
}

// prefixEnd returns the smallest key above every key starting with p, or
// nil (no upper bound) if p is all 0xff.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
