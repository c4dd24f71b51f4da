package engine

import (
	"fmt"

	"github.com/cockroachdb/pebble"
)

// countLive sets the live counter and UsedBytes and rebuilds the digest by one scan of
// the data keyspace, decoding each record's header once. Run once by Open,
// before any writer exists. Undecodable records count as absent, as they
// do for Apply (storedHeader).
func (e *Engine) countLive() error {
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: dataStart, UpperBound: dataEnd})
	if err != nil {
		return fmt.Errorf("engine: count: %w", err)
	}
	var n, used int64
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		h, err := decodeHeader(it.Value())
		if err != nil || len(k) < dataKeyHeader {
			continue
		}
		if !h.tomb {
			n++
			used += h.bytes(len(UserKey(k)))
			e.classes.add(e.classes.classOf(UserKey(k)), h.expireAt, 1)
		}
		if e.digest != nil {
			e.xorDigest(dataKeyToken(k), ElementHash(UserKey(k), h.v, h.expireAt, h.tomb))
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("engine: count: %w", err)
	}
	e.live.Store(n)
	e.used.Store(used)
	return nil
}

// Count returns the number of keys visible at nowMs: stored records that
// are neither tombstones nor expired by nowMs. It does not scan the data:
// it takes the live counter and subtracts the records whose expiry is due
// by nowMs but which the reclaimer has not turned into tombstones yet,
// found through the expiry index (normally a handful). Under concurrent
// writes the result is a close snapshot, exact once writes pause.
func (e *Engine) Count(nowMs int64) (int64, error) {
	if err := e.enter(); err != nil {
		return 0, err
	}
	defer e.leave()
	n := e.live.Load()
	if err := e.dueExpiries(nowMs, func([]byte, int64) { n-- }); err != nil {
		return 0, fmt.Errorf("engine: count: %w", err)
	}
	return max(n, 0), nil
}

// dueExpiries calls fn with the data key and expiry of every live record
// whose expiry is due by nowMs, found through the expiry index, that the
// reclaimer has not turned into a tombstone yet.
func (e *Engine) dueExpiries(nowMs int64, fn func(dataKey []byte, exp int64)) error {
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: indexStart, UpperBound: indexBound(nowMs + 1)})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		due, kind, dk, ok := parseIndexKey(it.Key())
		if !ok || kind != kindExpire {
			continue
		}
		// The entry is stale unless the record still carries this expiry.
		if val, closer, err := e.db.Get(dk); err == nil {
			_, exp, tomb, derr := DecodeVersion(val)
			_ = closer.Close()
			if derr == nil && expiryCurrent(due, exp, tomb) {
				fn(dk, exp)
			}
		}
	}
	return it.Error()
}
