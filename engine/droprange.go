package engine

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble"
)

// dropChunk is how many records DropRange deletes per batch (and per
// stripe hold).
const dropChunk = 1024

// errDropChunk stops the scan that collects a chunk.
var errDropChunk = errors.New("engine: chunk full")

// DropRange deletes the records whose token lies in the ring range
// [start, end) (as Scan: end <= start wraps, end 0 runs to the end of the
// ring) and whose version is older than before, keeping the live count
// and the digest exact; records written since (a newer version) stay.
// A dropped record's expiry entry goes with it; its purge entry (a
// tombstone's) is dropped by the reclaimer when due.
// It works dropChunk records at a time, each chunk under its keys'
// stripes with every record read again under them, so a write racing the
// drop is either older (dropped) or kept whole; hold, when not nil, runs
// around each chunk (a caller's lock that must not change meanwhile) and
// may refuse it by returning false, which stops the drop. It returns how
// many records it dropped.
func (e *Engine) DropRange(start, end uint64, before Version, hold func(drop func() error) (bool, error)) (int64, error) {
	var total int64
	from := start
	for {
		var keys [][]byte
		last := uint64(0)
		err := e.Scan(from, end, func(key []byte, r Record) error {
			if r.Version.Compare(before) >= 0 {
				return nil
			}
			if len(keys) == dropChunk {
				return errDropChunk
			}
			keys = append(keys, appendDataKeyTok(nil, Token(key), key))
			last = Token(key)
			return nil
		})
		if err != nil && !errors.Is(err, errDropChunk) {
			return total, err
		}
		if len(keys) == 0 {
			return total, nil
		}
		var n int64
		drop := func() error {
			var derr error
			n, derr = e.dropKeys(keys, before)
			return derr
		}
		if hold == nil {
			err = drop()
		} else {
			var ok bool
			ok, err = hold(drop)
			if !ok && err == nil {
				return total, nil
			}
		}
		total += n
		if err != nil || len(keys) < dropChunk {
			return total, err
		}
		// The next chunk starts at the last token seen: records sharing it
		// that were not dropped are skipped by the version test again.
		from = last
	}
}

// dropKeys deletes the records under dataKeys older than before, under
// their stripes, in one batch.
func (e *Engine) dropKeys(dataKeys [][]byte, before Version) (int64, error) {
	items := make([]dropItem, len(dataKeys))
	for i, dk := range dataKeys {
		items[i] = dropItem{dataKey: dk, before: before}
	}
	return e.dropItems(items, false)
}

// EvictLocal deletes the records of keys whose stored version is older
// than versions[i], the eviction's (EvictedVersion of the victim's),
// physically: the eviction of a single node, which has no replica a
// tombstone must reach. Records written since stay. It returns how many
// live records it deleted, which count as evicted.
func (e *Engine) EvictLocal(keys [][]byte, versions []Version) (int64, error) {
	if len(keys) != len(versions) {
		return 0, fmt.Errorf("engine: EvictLocal with %d keys and %d versions", len(keys), len(versions))
	}
	items := make([]dropItem, len(keys))
	for i, k := range keys {
		items[i] = dropItem{dataKey: AppendDataKey(nil, k), before: versions[i]}
	}
	return e.dropItems(items, true)
}

// EvictSampled is EvictLocal for records as Sample returned them: it
// deletes each victim's record if it is still the one sampled (or older),
// and returns how many it deleted. A victim whose key did not change since
// it was sampled, as the write clock tells (writeclock.go), is deleted
// without reading its record back; the others are read, as by EvictLocal.
func (e *Engine) EvictSampled(victims []Sampled) (int64, error) {
	items := make([]dropItem, len(victims))
	for i := range victims {
		v := &victims[i]
		items[i] = dropItem{dataKey: appendDataKeyTok(nil, v.Token, v.Key), before: EvictedVersion(v.Version), seen: v}
	}
	return e.dropItems(items, true)
}

// dropItem is a data key to drop if its record is older than before. seen,
// if set, is the record as sampled: dropItems takes it for the stored one
// when the write clock says the key did not change since.
type dropItem struct {
	dataKey []byte
	before  Version
	seen    *Sampled
}

// dropItems deletes the records of items older than their bound, under
// their stripes, in one batch; evicted counts the live ones dropped as
// evictions and returns their number instead of all dropped.
func (e *Engine) dropItems(items []dropItem, evicted bool) (int64, error) {
	if err := e.enter(); err != nil {
		return 0, err
	}
	defer e.leave()
	slices.SortFunc(items, func(a, b dropItem) int { return bytes.Compare(a.dataKey, b.dataKey) })
	// A key given twice is dropped once, below the higher bound: every
	// item reads the state from before the batch.
	items = slices.CompactFunc(items, func(a, b dropItem) bool {
		if !bytes.Equal(a.dataKey, b.dataKey) {
			return false
		}
		if b.before.Compare(a.before) > 0 {
			a.before = b.before
		}
		a.seen = nil // read it: the two may have seen different records
		return true
	})
	toks := make([]uint64, len(items))
	for i, it := range items {
		toks[i] = dataKeyToken(it.dataKey)
	}
	e.stripes.lockSorted(toks)
	defer e.stripes.unlockSorted(toks)
	b := e.db.NewBatch()
	var dropped, live, used int64
	var digs []digestDelta
	var classes []classDelta
	for i, it := range items {
		dk := it.dataKey
		var h header
		var exists bool
		var err error
		if s := it.seen; s != nil && !e.clock.changedSince(toks[i], s.clock) {
			h, exists = header{v: s.Version, expireAt: s.ExpireAt, valueLen: s.valueLen}, true
		} else {
			h, exists, err = e.storedHeader(dk)
		}
		v, exp, tomb := h.v, h.expireAt, h.tomb
		if err != nil {
			_ = b.Close()
			return 0, err
		}
		if !exists || v.Compare(it.before) >= 0 || (evicted && tomb) {
			continue
		}
		if err := b.Delete(dk, nil); err != nil {
			_ = b.Close()
			return 0, fmt.Errorf("%w: %w", ErrWrite, err)
		}
		if exp != 0 && !tomb {
			// Its expiry entry goes too, rather than wait, stale, until
			// it is due: eviction samples the index (SampleExpiring).
			if err := b.Delete(appendIndexKey(nil, exp, kindExpire, dk), nil); err != nil {
				_ = b.Close()
				return 0, fmt.Errorf("%w: %w", ErrWrite, err)
			}
		}
		e.cache.drop(dk)
		if dh := e.elementHash(UserKey(dk), v, exp, tomb); dh != 0 {
			digs = append(digs, digestDelta{tok: toks[i], h: dh})
		}
		if !tomb {
			live++
			used += h.bytes(len(UserKey(dk)))
			if k := e.classes.classOf(UserKey(dk)); k >= 0 {
				classes = append(classes, classDelta{class: k, oldLive: true, oldExp: exp})
			}
		}
		dropped++
	}
	// Dropped data is redoable: a crash before the next sync leaves it,
	// and the next cleanup drops it again. (An eviction lost so is made
	// again if the dataset is still past its budget.)
	if err := e.commit(b, pebble.NoSync); err != nil {
		return 0, err
	}
	if t := e.clock.tick(); t != 0 {
		for _, tok := range toks {
			e.clock.mark(tok, t)
		}
	}
	e.live.Add(-live)
	e.used.Add(-used)
	if e.classes != nil {
		e.classes.apply(classes)
	}
	e.applyDigest(digs)
	if evicted {
		e.counters.evicted.Add(uint64(live))
		return live, nil
	}
	return dropped, nil
}
