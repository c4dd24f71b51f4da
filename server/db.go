package server

import (
	"encoding/binary"

	"github.com/ringcache/ringcache/server/store"
)

// Databases (SELECT). The database is part of a key's identity in the
// store: a key of database n > 0 is stored as the byte dbMark, n as a
// uvarint, then the key; a key of database 0 as itself, unless it starts
// with dbMark, in which case dbMark and a zero byte go in front. So the
// encoding is one-to-one, a database 0 key costs nothing, and everything
// below the server (replication, hints, repair, LOCALGET, SCAN) carries
// the database without knowing of it. 0xFF starts no UTF-8 text, so the
// escape is rare. The engine knows this convention (engine.StoreKeyMark):
// a key's hash tag is looked for after the database prefix.
const dbMark = 0xFF

// maxDatabases bounds --databases.
const maxDatabases = 1 << 20

// KeyDatabase returns the database of a store key, or -1 for a store key
// no database encodes. A node sorts its engine's keys into databases with
// it (engine.Config.Classify).
func KeyDatabase(storeKey []byte) int {
	db, _, ok := splitDBKey(storeKey)
	if !ok {
		return -1
	}
	return db
}

// appendDBKey appends the store key of key in database db to dst.
func appendDBKey(dst []byte, db int, key []byte) []byte {
	if db == 0 && (len(key) == 0 || key[0] != dbMark) {
		return append(dst, key...)
	}
	dst = append(dst, dbMark)
	dst = binary.AppendUvarint(dst, uint64(db))
	return append(dst, key...)
}

// splitDBKey returns the database and key a store key encodes; ok is
// false for a store key no database encodes (a non-minimal number).
func splitDBKey(sk []byte) (db int, key []byte, ok bool) {
	if len(sk) == 0 || sk[0] != dbMark {
		return 0, sk, true
	}
	d, n := binary.Uvarint(sk[1:])
	if n <= 0 || d >= maxDatabases || n != uvarintLen(d) {
		return 0, nil, false
	}
	return int(d), sk[1+n:], true
}

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// plainKeys reports whether keys are their own store keys in database db.
func plainKeys(db int, keys [][]byte) bool {
	if db != 0 {
		return false
	}
	for _, k := range keys {
		if len(k) > 0 && k[0] == dbMark {
			return false
		}
	}
	return true
}

// storeKeys returns the store keys of keys in database db: keys itself
// when they are their own (database 0), else new copies. Never a buffer
// used again: the store may keep the keys after it returns (Store).
func storeKeys(db int, keys [][]byte) [][]byte {
	if plainKeys(db, keys) {
		return keys
	}
	buf := make([]byte, 0, dbKeysLen(db, keys, func(k []byte) []byte { return k }))
	out := make([][]byte, len(keys))
	for i, k := range keys {
		start := len(buf)
		buf = appendDBKey(buf, db, k)
		out[i] = buf[start:len(buf):len(buf)]
	}
	return out
}

// storeMuts is storeKeys for mutations: muts itself, or a new slice of
// them with new keys.
func storeMuts(db int, muts []store.Mutation) []store.Mutation {
	plain := db == 0
	for i := 0; plain && i < len(muts); i++ {
		plain = len(muts[i].Key) == 0 || muts[i].Key[0] != dbMark
	}
	if plain {
		return muts
	}
	buf := make([]byte, 0, dbKeysLen(db, muts, func(m store.Mutation) []byte { return m.Key }))
	out := make([]store.Mutation, len(muts))
	for i, m := range muts {
		start := len(buf)
		buf = appendDBKey(buf, db, m.Key)
		m.Key = buf[start:len(buf):len(buf)]
		out[i] = m
	}
	return out
}

// dbKeysLen bounds the length of the store keys of items in database db,
// for one allocation of them all.
func dbKeysLen[T any](db int, items []T, key func(T) []byte) int {
	var tmp [binary.MaxVarintLen64]byte
	n := len(items) * (1 + binary.PutUvarint(tmp[:], uint64(db)))
	for _, it := range items {
		n += len(key(it))
	}
	return n
}
