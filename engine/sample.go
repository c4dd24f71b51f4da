package engine

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble"
)

// Sampled is one stored live record as Sample shows it: its header and
// size, not its value.
type Sampled struct {
	// Key is the user key; valid only during the callback.
	Key []byte
	// Token is the key's ring token.
	Token    uint64
	Version  Version
	ExpireAt int64
	// Bytes is what the record counts in UsedBytes.
	Bytes int64

	valueLen int
	clock    uint64 // the write clock's tick before the sample's iterator opened
}

// Sample draws records from one iterator: for each i, it calls fn(i, s)
// with the stored live records (not tombstones; expired records included
// until reclaimed) in token order from token froms[i], wrapping past the
// end once, until fn returns false or maxScan records (tombstones
// included) were looked at. Since tokens are hashes, the records after a
// random token are a random sample of the keys: this is how eviction
// draws its candidates without an index of its own. It reads a snapshot
// without locks: a record may change as soon as fn sees it.
func (e *Engine) Sample(froms []uint64, maxScan int, fn func(i int, s Sampled) bool) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	clock := e.clock.now() // before the iterator opens: see writeclock.go
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: dataStart, UpperBound: dataEnd})
	if err != nil {
		return fmt.Errorf("engine: sample: %w", err)
	}
	for i, from := range froms {
		sampleFrom(it, from, maxScan, clock, func(s Sampled) bool { return fn(i, s) })
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("engine: sample: %w", err)
	}
	return nil
}

func sampleFrom(it *pebble.Iterator, from uint64, maxScan int, clock uint64, fn func(Sampled) bool) {
	var seek [dataKeyHeader]byte
	seek[0] = prefixData
	binary.BigEndian.PutUint64(seek[1:], from)
	ok, wrapped := it.SeekGE(seek[:]), false
	for n := 0; n < maxScan; n++ {
		if !ok {
			if wrapped || from == 0 {
				return
			}
			if ok, wrapped = it.First(), true; !ok {
				return
			}
		}
		k := it.Key()
		if wrapped && dataKeyToken(k) >= from {
			return // round the whole keyspace
		}
		h, derr := decodeHeader(it.Value())
		if derr == nil && !h.tomb && len(k) >= dataKeyHeader {
			key := UserKey(k)
			if !fn(Sampled{Key: key, Token: dataKeyToken(k), Version: h.v, ExpireAt: h.expireAt, Bytes: h.bytes(len(key)),
				valueLen: h.valueLen, clock: clock}) {
				return
			}
		}
		ok = it.Next()
	}
}
