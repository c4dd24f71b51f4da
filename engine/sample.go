package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

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
		if derr == nil && !h.tomb && len(k) >= dataKeyHeader && !fn(sampledOf(k, h, clock)) {
			return
		}
		ok = it.Next()
	}
}

// SampleExpiring is Sample for the records with an expiry, drawn through
// the expiry index: it calls fn with the live records that carry an expiry
// (expired ones included until reclaimed), in the order of their expiry
// from a starting point that from picks (the due time from/2^64 of the way
// from the index's first entry to its last), wrapping past the end once,
// until fn returns false or maxScan expiry entries were looked at.
// Tombstones' purge entries have an index of their own; those a store
// written by an earlier build keeps in this one are stepped over, at most
// 32*maxScan entries in all. Eviction's volatile policies use it when keys
// with a TTL are too few among the others for Sample's windows to find.
//
// A write that replaces a record deletes its expiry entry, so the
// entries are the records' own; a stale one (see expiryCurrent) counts
// against maxScan and costs a point read, and is not shown.
func (e *Engine) SampleExpiring(from uint64, maxScan int, fn func(s Sampled) bool) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	clock := e.clock.now() // before the reads: see writeclock.go
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: indexStart, UpperBound: indexEnd})
	if err != nil {
		return fmt.Errorf("engine: sample expiring: %w", err)
	}
	err = e.sampleIndex(it, from, maxScan, clock, fn)
	return errors.Join(err, it.Close())
}

func (e *Engine) sampleIndex(it *pebble.Iterator, from uint64, maxScan int, clock uint64, fn func(Sampled) bool) error {
	if !it.First() {
		return it.Error()
	}
	first, _, _, _ := parseIndexKey(it.Key())
	if !it.Last() {
		return it.Error()
	}
	last, _, _, _ := parseIndexKey(it.Key())
	off, _ := bits.Mul64(from, uint64(max(last-first, 0))+1)
	seek := indexBound(first + int64(off))
	ok, wrapped := it.SeekGE(seek), false
	for n, steps := 0, 0; n < maxScan && steps < 32*maxScan; steps++ {
		if !ok {
			if wrapped {
				break
			}
			if ok, wrapped = it.First(), true; !ok {
				break
			}
		}
		k := it.Key()
		if wrapped && bytes.Compare(k, seek) >= 0 {
			break // round the whole index
		}
		if due, kind, dk, valid := parseIndexKey(k); valid && kind == kindExpire {
			n++
			more, err := e.sampleIndexed(dk, due, clock, fn)
			if err != nil || !more {
				return err
			}
		}
		ok = it.Next()
	}
	return it.Error()
}

// sampleIndexed shows fn the record of dataKey if it is live and still
// carries the expiry its index entry was made for (due).
func (e *Engine) sampleIndexed(dataKey []byte, due int64, clock uint64, fn func(Sampled) bool) (bool, error) {
	val, closer, err := e.db.Get(dataKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("engine: sample expiring: %w", err)
	}
	defer closer.Close()
	h, derr := decodeHeader(val)
	if derr != nil || !expiryCurrent(due, h.expireAt, h.tomb) {
		return true, nil
	}
	return fn(sampledOf(dataKey, h, clock)), nil
}

// sampledOf is the Sampled of the live record dataKey with header h.
func sampledOf(dataKey []byte, h header, clock uint64) Sampled {
	key := UserKey(dataKey)
	return Sampled{Key: key, Token: dataKeyToken(dataKey), Version: h.v, ExpireAt: h.expireAt, Bytes: h.bytes(len(key)),
		valueLen: h.valueLen, clock: clock}
}
