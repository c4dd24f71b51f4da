package engine

import "fmt"

// Scan calls fn for every stored record (tombstones and expired records
// included) whose token lies in the ring range from startToken to
// endToken, in ring order:
//
//   - start < end: tokens in [start, end);
//   - otherwise the range wraps: [start, 2^64) then [0, end). So end == 0
//     means "to the end of the ring" and start == end the whole ring.
//
// key and r.Value alias iterator memory and are valid only during the
// call. Scan reads one consistent point-in-time view (a single Pebble
// iterator) and holds no stripe, so writes proceed meanwhile. An error
// from fn stops the scan and is returned.
func (e *Engine) Scan(startToken, endToken uint64, fn func(key []byte, r Record) error) error {
	spans := []Span{{Start: startToken, End: endToken}} // End 0: to the end of the ring
	if startToken >= endToken && endToken != 0 {
		spans = []Span{{Start: startToken}, {End: endToken}} // wraps
	}
	return e.ScanSpans(spans, func(_ int, key []byte, r Record) error { return fn(key, r) })
}

// DropAll deletes every record, index entry and hint (FLUSHALL on one
// node) and zeroes the digest; metadata stays. It holds every stripe while
// it commits, so it is atomic with respect to Apply, the hint writers and
// the reclaimer.
func (e *Engine) DropAll() error { return e.DropAllAt(Version{}) }

// DropAllAt is DropAll that also raises the flush floor to floor (zero,
// or not above the current floor: leaves it) in the same commit: from
// then on no record older than the floor is stored (floor.go).
func (e *Engine) DropAllAt(floor Version) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	e.stripes.lockAll()
	defer e.stripes.unlockAll()
	raise := !floor.IsZero() && floor.Compare(e.Floor()) > 0
	b := e.db.NewBatch()
	err := b.DeleteRange(dataStart, dataEnd, nil)
	if err == nil {
		err = b.DeleteRange(indexStart, indexEnd, nil)
	}
	if err == nil {
		err = b.DeleteRange(purgeStart, purgeEnd, nil)
	}
	if err == nil {
		err = b.DeleteRange(hintStart, hintEnd, nil)
	}
	if err == nil && raise {
		err = b.Set(metaFloorKey, appendVersion(nil, floor), nil)
	}
	if err == nil {
		err = b.Delete(metaFloorDropKey, nil) // nothing older is left
	}
	if err != nil {
		_ = b.Close()
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	if err := e.commit(b, e.writeOpts); err != nil {
		return err
	}
	if raise {
		e.floor.Store(&floor)
	}
	e.clock.markAll()
	e.live.Store(0)
	e.used.Store(0)
	if e.classes != nil {
		e.classes.reset()
	}
	e.clearDigest()
	e.hints.reset()
	e.cache.clear()
	e.presence.request() // the store is empty: a fresh filter knows it
	return nil
}
