package engine

import (
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble"
)

// Lookup returns the record stored under key as stored: tombstones and
// expired records included (callers decide visibility with Record.Live).
// The returned Value is a private copy.
func (e *Engine) Lookup(key []byte) (Record, bool, error) {
	if err := e.enter(); err != nil {
		return Record{}, false, err
	}
	defer e.leave()
	var kb [64]byte
	r, found, err := e.lookup(AppendDataKey(kb[:0], key), nil)
	if e.cfg.OnRead != nil && found && !r.Tombstone {
		e.cfg.OnRead(key)
	}
	return r, found, err
}

// LookupBatch looks up every key, as Lookup, filling dst[i] and found[i];
// dst and found must be at least len(keys) long. The values of one call
// share a single buffer.
func (e *Engine) LookupBatch(keys [][]byte, dst []Record, found []bool) error {
	if len(dst) < len(keys) || len(found) < len(keys) {
		return fmt.Errorf("engine: LookupBatch with %d keys, %d records, %d found", len(keys), len(dst), len(found))
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	var kb [64]byte
	var vals []byte
	for i, k := range keys {
		r, ok, err := e.lookup(AppendDataKey(kb[:0], k), &vals)
		if err != nil {
			return err
		}
		dst[i], found[i] = r, ok
		if e.cfg.OnRead != nil && ok && !r.Tombstone {
			e.cfg.OnRead(k)
		}
	}
	return nil
}

// lookup reads one data key. The value is copied into *vals (appended, so
// earlier values stay valid) or, if vals is nil, into a new slice.
func (e *Engine) lookup(dataKey []byte, vals *[]byte) (Record, bool, error) {
	if vals == nil {
		var own []byte
		vals = &own
	}
	if e.cache != nil {
		return e.lookupCached(dataKey, vals)
	}
	var r Record
	found, err := e.readStored(dataKey, func(stored Record) {
		r = copyValue(stored, vals)
	})
	return r, found, err
}

// copyValue returns r with its value appended to *vals (earlier values
// stay valid) and sliced with cap == len.
func copyValue(r Record, vals *[]byte) Record {
	if r.Tombstone {
		r.Value = nil
		return r
	}
	start := len(*vals)
	*vals = append(*vals, r.Value...)
	r.Value = (*vals)[start:len(*vals):len(*vals)]
	return r
}

// lookupCached serves a read from the row cache, filling it on a miss. The
// fill reads Pebble under the key's stripe, so it cannot race a write
// into caching a state older than a committed one. The value is
// appended to *vals.
func (e *Engine) lookupCached(dataKey []byte, vals *[]byte) (Record, bool, error) {
	if r, _, present, cached := e.cache.get(dataKey, vals); cached {
		return r, present, nil
	}
	tok := dataKeyToken(dataKey)
	e.stripes.lock(tok)
	defer e.stripes.unlock(tok)
	if r, _, present, cached := e.cache.get(dataKey, vals); cached {
		return r, present, nil
	}
	var r Record
	found, err := e.readStored(dataKey, func(stored Record) {
		e.cache.put(dataKey, stored, true)
		r = copyValue(stored, vals) // out of Pebble's buffer
	})
	if err == nil && !found {
		e.cache.put(dataKey, Record{}, false)
	}
	return r, found, err
}

// readStored reads and decodes dataKey from Pebble and passes the record
// to use, whose Value is valid only during the call.
func (e *Engine) readStored(dataKey []byte, use func(Record)) (found bool, err error) {
	raw, closer, err := e.getData(dataKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("engine: read %q: %w", UserKey(dataKey), err)
	}
	defer closer.Close()
	r, err := DecodeRecord(raw)
	if err != nil {
		return false, fmt.Errorf("key %q: %w", UserKey(dataKey), err)
	}
	use(r)
	return true, nil
}

// getData reads dataKey from Pebble, as db.Get, unless the presence
// filter knows it is not stored: then it answers pebble.ErrNotFound
// without a read.
func (e *Engine) getData(dataKey []byte) ([]byte, io.Closer, error) {
	if e.presence.absent(UserKey(dataKey)) {
		return nil, nil, pebble.ErrNotFound
	}
	return e.db.Get(dataKey)
}
