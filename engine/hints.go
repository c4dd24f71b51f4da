package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
)

// Hinted handoff storage. A hint is a write this node accepted on behalf
// of a replica (the target) that could not take it; the cluster layer
// delivers it later. Hints live in their own keyspace, apart from data:
//
//	'h' + len(target) + target + BE64 token + user key -> BE64 createdMs + encoded Record
//
// so one target's hints are one contiguous range, in the same (token, key)
// order as data, and dropping a target is one range delete. A hint is
// written and deleted under its key's stripe, like data, so hint writers
// and data writers of a key never interleave and the in-memory totals
// (hintqueue.go) stay exact.

// hintValueHeader is the createdMs in front of a hint's record.
const hintValueHeader = 8

// HintQueue describes one target's pending hints.
type HintQueue struct {
	// Target is the node id the hints are for.
	Target string
	// Count is the number of pending hints.
	Count int64
	// Bytes is their stored size: Pebble key plus value, summed.
	Bytes int64
	// OldestMs is the createdMs of the oldest pending hint (Unix ms), 0
	// if none.
	OldestMs int64
}

func checkTarget(target string) error {
	if len(target) == 0 || len(target) > maxTargetLen {
		return fmt.Errorf("%w: target of %d bytes, want 1..%d", ErrInvalidHint, len(target), maxTargetLen)
	}
	return nil
}

func appendHintValue(dst []byte, createdMs int64, r Record) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(createdMs))
	return r.AppendEncode(dst)
}

// decodeHintValue splits a hint value; r.Value aliases b. Errors wrap
// ErrCorrupt.
func decodeHintValue(b []byte) (createdMs int64, r Record, err error) {
	if len(b) < hintValueHeader {
		return 0, Record{}, fmt.Errorf("%w: hint of %d bytes", ErrCorrupt, len(b))
	}
	r, err = DecodeRecord(b[hintValueHeader:])
	return int64(binary.BigEndian.Uint64(b)), r, err
}

func validHeader(enc []byte) bool {
	_, _, _, err := DecodeVersion(enc)
	return err == nil
}

// storedHint is what a hint write needs to know about the stored hint.
type storedHint struct {
	created int64
	version Version
	bytes   int64 // len(key) + len(value)
}

// readHint reads the header of the hint under hkey. Undecodable hints
// count as absent (the Open scan leaves them out of the totals too) and
// are overwritten or dropped like any other.
func (e *Engine) readHint(hkey []byte) (h storedHint, found bool, err error) {
	raw, closer, err := e.db.Get(hkey)
	if errors.Is(err, pebble.ErrNotFound) {
		return storedHint{}, false, nil
	}
	if err != nil {
		return storedHint{}, false, fmt.Errorf("engine: read hint: %w", err)
	}
	defer closer.Close()
	if len(raw) < hintValueHeader {
		return storedHint{}, false, nil
	}
	v, _, _, derr := DecodeVersion(raw[hintValueHeader:])
	if derr != nil {
		e.cfg.Logger.Warn("engine: ignoring undecodable hint", "key", hkey, "err", derr)
		return storedHint{}, false, nil
	}
	created := int64(binary.BigEndian.Uint64(raw))
	return storedHint{created: created, version: v, bytes: int64(len(hkey) + len(raw))}, true, nil
}

// PutHints stores recs[i] as a hint for target under keys[i], with
// last-write-wins against target's existing hint for the key: a newer
// version replaces it (keeping the older createdMs: the data has been
// pending since then), an equal or older one is a no-op. Several records
// for one key are applied in slice order, as ApplyBatch does. All changes
// are one commit with the engine's write options, the same durability as
// ApplyBatch: a hint acknowledges a client write. It returns how many
// records were stored. It holds the keys' stripes like ApplyBatch.
func (e *Engine) PutHints(target string, keys [][]byte, recs []Record, createdMs int64) (stored int, err error) {
	return e.PutHintsNewer(target, keys, recs, createdMs, nil)
}

// PutHintsNewer is PutHints that also tells which records lost to a newer
// hint already held for target, as ApplyBatchNewer does for data: newer[i]
// is the held hint's version when it is newer than recs[i]'s, zero
// otherwise. newer must be nil or as long as keys.
func (e *Engine) PutHintsNewer(target string, keys [][]byte, recs []Record, createdMs int64, newer []Version) (stored int, err error) {
	if err := checkTarget(target); err != nil {
		return 0, err
	}
	if len(keys) != len(recs) || (newer != nil && len(newer) != len(keys)) {
		return 0, fmt.Errorf("%w: PutHints with %d keys, %d records and %d versions", ErrInvalidHint, len(keys), len(recs), len(newer))
	}
	clear(newer)
	return e.writeHints(target, keys, func(b *pebble.Batch, s *batchScratch, idx []int) (int, error) {
		return e.mergeHint(b, s, target, keys, recs, idx, createdMs, newer)
	})
}

// DeleteHints deletes target's hint for keys[i] only if its stored
// version equals versions[i], so a newer hint that arrived while the old
// one was being delivered stays. It returns how many hints were deleted.
func (e *Engine) DeleteHints(target string, keys [][]byte, versions []Version) (deleted int, err error) {
	if err := checkTarget(target); err != nil {
		return 0, err
	}
	if len(keys) != len(versions) {
		return 0, fmt.Errorf("%w: DeleteHints with %d keys and %d versions", ErrInvalidHint, len(keys), len(versions))
	}
	return e.writeHints(target, keys, func(b *pebble.Batch, s *batchScratch, idx []int) (int, error) {
		return e.deleteHint(b, s, target, keys, versions, idx)
	})
}

// writeHints runs one hint write: it locks the keys' stripes, lets merge
// add each key's change to one batch (idx: the key's argument indices, in
// input order), commits, and then records the changes in the totals.
func (e *Engine) writeHints(target string, keys [][]byte,
	merge func(b *pebble.Batch, s *batchScratch, idx []int) (int, error)) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	s, err := e.beginWrite(keys)
	if err != nil {
		return 0, err
	}
	defer e.endWrite(s)

	b := e.db.NewBatch()
	changed := 0
	for j := 0; j < len(s.order); {
		end := s.keyRun(keys, j)
		n, err := merge(b, s, s.order[j:end])
		if err != nil {
			_ = b.Close()
			return 0, err
		}
		changed += n
		j = end
	}
	if len(s.hints) == 0 {
		_ = b.Close()
		return 0, nil
	}
	if err := e.commit(b, e.writeOpts); err != nil {
		return 0, err
	}
	e.hints.apply(target, s.hints)
	return changed, nil
}

// mergeHint folds the records idx (one key, input order) into target's
// stored hint and adds the winner, if any, to b.
func (e *Engine) mergeHint(b *pebble.Batch, s *batchScratch, target string, keys [][]byte, recs []Record, idx []int, createdMs int64, newer []Version) (int, error) {
	first := idx[0]
	s.dkey = appendHintKey(s.dkey[:0], target, s.toks[first], keys[first])
	old, had, err := e.readHint(s.dkey)
	if err != nil {
		return 0, err
	}
	beat, held := e.mustBeat(old.version, had)
	if newer != nil && held {
		markOlder(newer, recs, idx, beat)
	}
	win, stored := newest(recs, idx, beat, held)
	if win < 0 {
		return 0, nil
	}
	created := createdMs
	if had && old.created < created {
		created = old.created
	}
	s.val = appendHintValue(s.val[:0], created, recs[win])
	if err := b.Set(s.dkey, s.val, nil); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrWrite, err)
	}
	s.hints = append(s.hints, hintChange{
		had: had, oldCreated: old.created, oldBytes: old.bytes,
		has: true, newCreated: created, newBytes: int64(len(s.dkey) + len(s.val)),
	})
	return stored, nil
}

// deleteHint adds to b the delete of target's hint for one key (idx: its
// argument indices) if one of the given versions is the stored one.
func (e *Engine) deleteHint(b *pebble.Batch, s *batchScratch, target string, keys [][]byte, versions []Version, idx []int) (int, error) {
	first := idx[0]
	s.dkey = appendHintKey(s.dkey[:0], target, s.toks[first], keys[first])
	old, had, err := e.readHint(s.dkey)
	if err != nil || !had {
		return 0, err
	}
	for _, i := range idx {
		if versions[i] != old.version {
			continue
		}
		if err := b.Delete(s.dkey, nil); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrWrite, err)
		}
		s.hints = append(s.hints, hintChange{had: true, oldCreated: old.created, oldBytes: old.bytes})
		return 1, nil
	}
	return 0, nil
}

// LookupHints fills dst[i] and found[i] with target's hint for keys[i];
// dst and found must be at least len(keys) long. The values of one call
// share a single buffer.
func (e *Engine) LookupHints(target string, keys [][]byte, dst []Record, found []bool) error {
	if err := checkTarget(target); err != nil {
		return err
	}
	if len(dst) < len(keys) || len(found) < len(keys) {
		return fmt.Errorf("%w: LookupHints with %d keys, %d records, %d found", ErrInvalidHint, len(keys), len(dst), len(found))
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	var kb [128]byte
	var vals []byte
	for i, k := range keys {
		r, ok, err := e.lookupHint(appendHintKey(kb[:0], target, Token(k), k), &vals)
		if err != nil {
			return err
		}
		dst[i], found[i] = r, ok
	}
	return nil
}

// lookupHint reads one hint, copying its value to the end of *vals.
func (e *Engine) lookupHint(hkey []byte, vals *[]byte) (Record, bool, error) {
	raw, closer, err := e.db.Get(hkey)
	if errors.Is(err, pebble.ErrNotFound) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("engine: read hint: %w", err)
	}
	defer closer.Close()
	_, r, err := decodeHintValue(raw)
	if err != nil {
		return Record{}, false, fmt.Errorf("engine: hint %x: %w", hkey, err)
	}
	if !r.Tombstone {
		start := len(*vals)
		*vals = append(*vals, r.Value...)
		r.Value = (*vals)[start:len(*vals):len(*vals)]
	}
	return r, true, nil
}

// ScanHints calls fn for target's hints in (token, key) order, starting
// strictly after the user key after (nil: from the start; an empty non-nil
// slice is the empty key). key and r.Value alias iterator memory and are
// valid only during the call; fn returns false to stop. Like Scan it reads
// one point-in-time view and holds no stripe.
func (e *Engine) ScanHints(target string, after []byte, fn func(key []byte, r Record, createdMs int64) bool) error {
	if err := checkTarget(target); err != nil {
		return err
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	prefix := appendHintPrefix(nil, target)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("engine: scan hints: %w", err)
	}
	ok := it.First()
	if after != nil {
		start := appendHintKey(nil, target, Token(after), after)
		if ok = it.SeekGE(start); ok && bytes.Equal(it.Key(), start) {
			ok = it.Next()
		}
	}
	for ; ok; ok = it.Next() {
		_, _, key, valid := parseHintKey(it.Key())
		created, r, derr := decodeHintValue(it.Value())
		if !valid || derr != nil {
			err := fmt.Errorf("engine: scan hint %x: %w", it.Key(), errors.Join(ErrCorrupt, derr))
			return errors.Join(err, it.Close())
		}
		if !fn(key, r, created) {
			break
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("engine: scan hints: %w", err)
	}
	return nil
}

// DropHints deletes all of target's hints (one range delete) and returns
// how many there were. It holds every stripe, like DropAll, so that no
// hint write of the target interleaves with it.
func (e *Engine) DropHints(target string) (int64, error) {
	if err := checkTarget(target); err != nil {
		return 0, err
	}
	if err := e.enter(); err != nil {
		return 0, err
	}
	defer e.leave()
	if err := e.Err(); err != nil {
		return 0, err
	}
	e.stripes.lockAll()
	defer e.stripes.unlockAll()
	prefix := appendHintPrefix(nil, target)
	b := e.db.NewBatch()
	if err := b.DeleteRange(prefix, prefixEnd(prefix), nil); err != nil {
		_ = b.Close()
		return 0, fmt.Errorf("%w: %w", ErrWrite, err)
	}
	if err := e.commit(b, e.writeOpts); err != nil {
		return 0, err
	}
	return e.hints.drop(target), nil
}

// HintQueues returns every target with pending hints, sorted by target.
// It reads the in-memory totals only.
func (e *Engine) HintQueues() []HintQueue { return e.hints.snapshot() }

// HintQueue returns target's queue (zero figures if it has no hints).
func (e *Engine) HintQueue(target string) HintQueue { return e.hints.one(target) }

// loadHints fills the hint totals by one scan of the hint keyspace. Run
// once by Open, before any writer exists.
func (e *Engine) loadHints() error {
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: hintStart, UpperBound: hintEnd})
	if err != nil {
		return fmt.Errorf("engine: load hints: %w", err)
	}
	var changes []hintChange
	target := ""
	for ok := it.First(); ok; ok = it.Next() {
		t, _, _, valid := parseHintKey(it.Key())
		raw := it.Value()
		if !valid || len(raw) < hintValueHeader || !validHeader(raw[hintValueHeader:]) {
			// Left out of the totals, as readHint treats it as absent.
			e.cfg.Logger.Warn("engine: ignoring undecodable hint", "key", it.Key())
			continue
		}
		if string(t) != target {
			e.hints.apply(target, changes)
			target, changes = string(t), changes[:0]
		}
		changes = append(changes, hintChange{has: true,
			newCreated: int64(binary.BigEndian.Uint64(raw)), newBytes: int64(len(it.Key()) + len(raw))})
	}
	e.hints.apply(target, changes)
	if err := it.Close(); err != nil {
		return fmt.Errorf("engine: load hints: %w", err)
	}
	return nil
}
