package engine

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble"
)

// batchScratch holds the per-call buffers of ApplyBatch so that the
// pipelined-SET hot path does not allocate per key. Pooled on the Engine.
type batchScratch struct {
	order []int    // input indices sorted by (token, key), stable
	toks  []uint64 // toks[i] is the token of input key i
	held  []uint64 // tokens in sorted order: the stripes to lock
	dkey  []byte   // data key being built
	ikey  []byte   // index key being built
	val   []byte   // encoded record being built
	pval  []byte   // purge entry value being built

	// Written records, for the row cache once the batch is committed:
	// written[i] is the input index of the winner whose data key is
	// wkeys[wends[i-1]:wends[i]].
	written []int
	wkeys   []byte
	wends   []int

	// digs are the digest changes of the batch, applied once committed.
	digs []digestDelta
	// hints are the hint changes of a hint batch, applied once committed.
	hints []hintChange
	// classes are the key class changes, applied once committed.
	classes []classDelta
	// used is the batch's change to UsedBytes, and evicted the live
	// records its eviction tombstones replaced, applied once committed.
	used, evicted int64
	// fresh counts the written keys that were not stored before.
	fresh int64
}

// beginWrite starts a locked write of keys: it registers the call (enter),
// refuses a failed engine, and returns scratch with the keys sorted by
// token and their stripes locked. endWrite undoes it.
func (e *Engine) beginWrite(keys [][]byte) (*batchScratch, error) {
	if err := e.enter(); err != nil {
		return nil, err
	}
	if err := e.Err(); err != nil {
		e.leave()
		return nil, err
	}
	s := e.getScratch(len(keys))
	s.sortByToken(keys)
	e.stripes.lockSorted(s.held)
	return s, nil
}

// endWrite unlocks the stripes of a beginWrite, returns its scratch and
// ends the call.
func (e *Engine) endWrite(s *batchScratch) {
	e.stripes.unlockSorted(s.held)
	e.scratch.Put(s)
	e.leave()
}

func (e *Engine) getScratch(n int) *batchScratch {
	s, _ := e.scratch.Get().(*batchScratch)
	if s == nil {
		s = &batchScratch{}
	}
	s.order = slices.Grow(s.order[:0], n)[:n]
	s.toks = slices.Grow(s.toks[:0], n)[:n]
	s.held = slices.Grow(s.held[:0], n)[:n]
	s.written, s.wkeys, s.wends = s.written[:0], s.wkeys[:0], s.wends[:0]
	s.digs, s.hints, s.classes = s.digs[:0], s.hints[:0], s.classes[:0]
	s.used, s.evicted, s.fresh = 0, 0, 0
	return s
}

// sortByToken fills s.toks and s.order (input indices sorted by (token,
// key), stable) and s.held (the sorted tokens: the stripes to lock).
func (s *batchScratch) sortByToken(keys [][]byte) {
	for i, k := range keys {
		s.toks[i] = Token(k)
		s.order[i] = i
	}
	if len(keys) > 1 {
		slices.SortStableFunc(s.order, func(a, b int) int {
			if c := cmp.Compare(s.toks[a], s.toks[b]); c != 0 {
				return c
			}
			return bytes.Compare(keys[a], keys[b])
		})
	}
	for j, i := range s.order {
		s.held[j] = s.toks[i]
	}
}

// keyRun returns the end of the run of s.order starting at j that is one
// key (sorted order puts a key's records together, in input order).
func (s *batchScratch) keyRun(keys [][]byte, j int) int {
	end := j + 1
	for end < len(s.order) && bytes.Equal(keys[s.order[end]], keys[s.order[j]]) {
		end++
	}
	return end
}

// Apply stores r under key if r.Version is newer than the stored
// record's version (or nothing is stored) and reports whether it did. An
// equal or older version is a no-op, so applying a set of records in any
// order, any number of times, ends in the same state. A version below the
// flush floor (floor.go) loses to it as to a stored one.
func (e *Engine) Apply(key []byte, r Record) (applied bool, err error) {
	keys := [1][]byte{key}
	recs := [1]Record{r}
	n, err := e.ApplyBatch(keys[:], recs[:])
	return n == 1, err
}

// ApplyBatch applies recs[i] to keys[i] for every i with Apply's
// last-write-wins rule, as if applied one after another in slice order,
// and commits all changes in one Pebble batch. It returns how many records
// replaced the stored one. On error nothing was acknowledged.
func (e *Engine) ApplyBatch(keys [][]byte, recs []Record) (applied int, err error) {
	return e.ApplyBatchNewer(keys, recs, nil)
}

// ApplyBatchNewer is ApplyBatch that also tells which records lost to a
// newer stored one: newer[i] is set to the version stored under keys[i]
// before the batch (or the flush floor, where nothing newer is stored)
// when that version is newer than recs[i]'s, and left zero otherwise
// (recs[i] applied, was already stored, or lost only to a later record of
// the same batch). A writer that learns its record lost this way knows
// its write is not the newest: the cluster coordinator stamps it again
// above that version. newer must be nil or as long as keys.
func (e *Engine) ApplyBatchNewer(keys [][]byte, recs []Record, newer []Version) (applied int, err error) {
	if len(keys) != len(recs) || (newer != nil && len(newer) != len(keys)) {
		return 0, fmt.Errorf("engine: ApplyBatch with %d keys, %d records and %d versions", len(keys), len(recs), len(newer))
	}
	clear(newer)
	if len(keys) == 0 {
		return 0, nil
	}
	s, err := e.beginWrite(keys)
	if err != nil {
		return 0, err
	}
	defer e.endWrite(s)

	b := e.db.NewBatch()
	var delta int64
	for j := 0; j < len(s.order); {
		// s.order[j:end] is one key, in input order.
		end := s.keyRun(keys, j)
		n, d, err := e.mergeKey(b, s, keys, recs, s.order[j:end], newer)
		if err != nil {
			_ = b.Close()
			return 0, err
		}
		applied += n
		delta += d
		j = end
	}
	if applied > 0 {
		if err := e.commit(b, e.writeOpts); err != nil {
			return 0, err
		}
		e.live.Add(delta)
		e.used.Add(s.used)
		e.counters.evicted.Add(uint64(s.evicted))
		if e.classes != nil {
			e.classes.apply(s.classes)
		}
		e.applyDigest(s.digs)
		start := 0
		for i, win := range s.written {
			dk := s.wkeys[start:s.wends[i]]
			e.cache.put(dk, recs[win], true)
			// Committed, stripes still held: see presence.go.
			e.presence.add(UserKey(dk))
			start = s.wends[i]
		}
		e.presence.grew(s.fresh)
		if t := e.clock.tick(); t != 0 {
			for _, win := range s.written {
				e.clock.mark(s.toks[win], t)
			}
		}
	} else {
		_ = b.Close()
	}
	e.counters.applied.Add(uint64(applied))
	e.counters.stale.Add(uint64(len(keys) - applied))
	return applied, nil
}

// mergeKey folds the records idx (all for one key, in input order) into
// the stored record and adds the winner, if it changed, to b, and its
// digest change to s.digs. It returns how many records were applied and
// the change in live count. newer, when not nil, gets the stored version
// for each record older than it.
func (e *Engine) mergeKey(b *pebble.Batch, s *batchScratch, keys [][]byte, recs []Record, idx []int, newer []Version) (applied int, delta int64, err error) {
	first := idx[0]
	s.dkey = appendDataKeyTok(s.dkey[:0], s.toks[first], keys[first])
	h, exists, err := e.storedHeader(s.dkey)
	if err != nil {
		return 0, 0, err
	}
	cur, exp, tomb := h.v, h.expireAt, h.tomb
	wasLive := exists && !tomb
	var oldHash uint64 // what the stored record contributes to the digest
	if exists && e.digest != nil {
		oldHash = ElementHash(keys[first], cur, exp, tomb)
	}
	beat, held := e.mustBeat(cur, exists)
	if newer != nil && held {
		markOlder(newer, recs, idx, beat)
	}
	win, applied := newest(recs, idx, beat, held)
	if win < 0 {
		return 0, 0, nil
	}
	r := recs[win]
	s.val = r.AppendEncode(s.val[:0])
	if err := b.Set(s.dkey, s.val, nil); err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrWrite, err)
	}
	if due := clampDue(exp); wasLive && exp != 0 && !expiryCurrent(due, r.ExpireAt, r.Tombstone) {
		// The replaced record's expiry entry, which is not the new one's,
		// goes with it rather than stay, stale, until due: eviction's
		// volatile policies sample the index (SampleExpiring), where stale
		// entries cost a read each and may hide the live ones.
		s.ikey = appendIndexKey(s.ikey[:0], exp, kindExpire, s.dkey)
		if err := b.Delete(s.ikey, nil); err != nil {
			return 0, 0, fmt.Errorf("%w: %w", ErrWrite, err)
		}
	}
	if err := e.indexRecord(b, s, r, exists); err != nil {
		return 0, 0, err
	}
	s.written = append(s.written, win)
	s.wkeys = append(s.wkeys, s.dkey...)
	s.wends = append(s.wends, len(s.wkeys))
	if !exists {
		s.fresh++
	}
	if e.digest != nil {
		h := oldHash ^ ElementHash(keys[first], r.Version, r.ExpireAt, r.Tombstone)
		s.digs = append(s.digs, digestDelta{tok: s.toks[first], h: h})
	}
	if !r.Tombstone {
		delta++
		s.used += RecordBytes(len(keys[first]), len(r.Value), r.ExpireAt != 0)
	}
	if wasLive {
		delta--
		s.used -= h.bytes(len(keys[first]))
		if r.Tombstone && r.EvictedAt != 0 {
			s.evicted++
		}
	}
	if k := e.classes.classOf(keys[first]); k >= 0 {
		s.classes = append(s.classes, classDelta{class: k, oldLive: wasLive, oldExp: exp, newLive: !r.Tombstone, newExp: r.ExpireAt})
	}
	return applied, delta, nil
}

// newest applies last-write-wins to the records idx of one key, in input
// order, against the stored version cur (exists: one is stored). It
// returns the winner (-1 if none beats the stored record) and how many of
// them replaced the record before them.
func newest(recs []Record, idx []int, cur Version, exists bool) (win, replaced int) {
	win = -1
	for _, i := range idx {
		if !exists || recs[i].Version.Compare(cur) > 0 {
			win, cur, exists = i, recs[i].Version, true
			replaced++
		}
	}
	return win, replaced
}

// markOlder sets newer[i] to cur for each record idx older than cur.
func markOlder(newer []Version, recs []Record, idx []int, cur Version) {
	for _, i := range idx {
		if recs[i].Version.Compare(cur) < 0 {
			newer[i] = cur
		}
	}
}

// indexRecord adds the reclaimer's index entry for r (stored under
// s.dkey, over a record of the key if replaced), if r needs one: its
// expiry, or the end of a tombstone's grace.
//
// A tombstone's entry notes when it was stored over a record this node
// held: from then on, its peers may hold a copy of that record that only
// an exchange which carries the tombstone replaces (see
// Config.PurgeAllowed). Stored where the node held nothing for the key,
// it notes 0: PurgeAllowed then counts from the tombstone's version, as
// for a tombstone stored on time. This is the tombstone a peer that still
// held it hands back to a replica that had just purged it, and counting
// from its arrival would keep the two handing it to each other. Holding
// nothing, the node has no copy to lose, and any copy a peer held when
// the two last synced would have come here; a copy that reached a peer
// since, or one too large to transfer, is the limit (README).
func (e *Engine) indexRecord(b *pebble.Batch, s *batchScratch, r Record, replaced bool) error {
	var val []byte
	switch {
	case r.Tombstone:
		s.ikey = appendIndexKey(s.ikey[:0], e.purgeDue(r), kindPurge, s.dkey)
		var storedAt int64
		if replaced {
			storedAt = e.cfg.Now().UnixMilli()
		}
		s.pval = appendPurgeValue(s.pval[:0], storedAt, r.Version)
		val = s.pval
	case r.ExpireAt != 0:
		s.ikey = appendIndexKey(s.ikey[:0], r.ExpireAt, kindExpire, s.dkey)
	default:
		return nil
	}
	if err := b.Set(s.ikey, val, nil); err != nil {
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	return nil
}

// purgeDue is when tombstone t may be purged: its grace period runs from
// when it was written or, for an eviction, made.
func (e *Engine) purgeDue(t Record) int64 {
	if t.EvictedAt != 0 {
		return t.ChangedAt() + min(e.cfg.EvictionGrace, e.cfg.TombstoneGrace).Milliseconds()
	}
	return t.ChangedAt() + e.cfg.TombstoneGrace.Milliseconds()
}

// storedHeader reads the header of the record under dataKey (exists:
// one is stored); undecodable records count as absent.
func (e *Engine) storedHeader(dataKey []byte) (h header, exists bool, err error) {
	// The presence filter first: the caller holds the key's stripe, so a
	// key it does not know is stored nowhere, the row cache included
	// (presence.go), and a new key, the common write, is answered
	// without a lookup in the row cache's index.
	if e.presence.absent(UserKey(dataKey)) {
		return header{}, false, nil
	}
	if r, vlen, present, cached := e.cache.get(dataKey, nil); cached {
		return header{v: r.Version, expireAt: r.ExpireAt, evictedAt: r.EvictedAt, tomb: r.Tombstone, valueLen: vlen}, present, nil
	}
	val, closer, err := e.db.Get(dataKey) // the filter was asked above
	if errors.Is(err, pebble.ErrNotFound) {
		return header{}, false, nil
	}
	if err != nil {
		return header{}, false, fmt.Errorf("engine: read %q: %w", UserKey(dataKey), err)
	}
	h, derr := decodeHeader(val)
	_ = closer.Close()
	if derr != nil {
		e.cfg.Logger.Warn("engine: ignoring undecodable record", "key", UserKey(dataKey), "err", derr)
		return header{}, false, nil
	}
	return h, true, nil
}
