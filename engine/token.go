package engine

import (
	"bytes"
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
)

// Store keys. The keys the engine is given are the server's store keys,
// and every layer below the server (replication, hints, anti-entropy,
// SCAN) sees them, not the client's keys: a key of database n > 0 is
// stored as StoreKeyMark, n as a minimal uvarint, then the client's key;
// a database-0 key is stored as itself, unless it starts with
// StoreKeyMark, in which case StoreKeyMark and a zero byte go in front.
// The engine stores keys as opaque bytes; only Token looks inside, to
// find a hash tag in the client's key rather than in the database prefix,
// whose uvarint can hold '{' or '}' (database 123 is the byte '{').
const StoreKeyMark = 0xFF

// Token returns the ring position of a store key. It is the one token
// function: data keys are ordered by it, and the ring (cluster/ring) and
// anti-entropy's ranges place keys by it, so a token range of the ring is
// one contiguous span of the engine's keyspace.
//
// The token is the xxhash64 of HashSlot(key): the key's Redis Cluster hash
// tag if it has one, else the whole key. So keys that share a tag share a
// token, and with it their replicas, their stripe and their place in
// token order: the same replicas hold every key of a tag.
// Two keys are in the same slot exactly when their tokens are equal.
func Token(key []byte) uint64 { return xxhash.Sum64(HashSlot(key)) }

// HashSlot returns the bytes of key that Token hashes, aliasing key. It
// follows Redis Cluster's rule on the client's key (the store key less its
// database prefix, see StoreKeyMark): if the key holds a '{', a '}' later,
// and at least one byte between the first '{' and the first '}' after it,
// those bytes are the hash tag and HashSlot returns them. Otherwise it
// returns the whole store key, database prefix included, so that an
// untagged key hashes as it did before tags existed and the same untagged
// key in two databases keeps two tokens. A tag hashes alone: the same tag
// in two databases shares a token.
//
//	{user1000}.following -> user1000
//	foo{}{bar}           -> foo{}{bar} (the first tag is empty)
//	foo{{bar}}zap        -> {bar
//	foo{bar}{zap}        -> bar
func HashSlot(key []byte) []byte {
	client := key
	if len(key) > 0 && key[0] == StoreKeyMark { // rare: keep the call off the common path
		client = key[dbPrefixLen(key):]
	}
	open := bytes.IndexByte(client, '{')
	if open < 0 {
		return key
	}
	tag := client[open+1:]
	end := bytes.IndexByte(tag, '}')
	if end <= 0 { // no '}', or an empty tag
		return key
	}
	return tag[:end]
}

// dbPrefixLen returns the length of key's database prefix: StoreKeyMark
// and a minimal uvarint, or 0 if key does not start with one. It accepts
// any minimal uvarint, not just the server's database numbers, so that a
// store key's slot never depends on a server setting.
func dbPrefixLen(key []byte) int {
	if len(key) < 2 || key[0] != StoreKeyMark {
		return 0
	}
	d, n := binary.Uvarint(key[1:])
	if n <= 0 || n != uvarintLen(d) {
		return 0
	}
	return 1 + n
}

// uvarintLen returns the length of v's minimal uvarint encoding.
func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}
