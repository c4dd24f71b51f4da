package engine

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble"
)

// reclaimChunk bounds how many index entries one reclaim step handles, and
// so how many stripes it holds at once.
const reclaimChunk = 256

// purgeRetryMax bounds how long a tombstone whose purge was refused by
// PurgeAllowed waits before it is asked about again.
const purgeRetryMax = time.Minute

// dueEntry is one index entry read by the reclaimer.
type dueEntry struct {
	ikey    []byte
	due     int64
	kind    byte
	dataKey []byte
	tok     uint64
	// storedAt and version are a purge entry's value: when the tombstone
	// was stored over a record (0 if none) and its version; known is
	// false for a value of another size: an entry an earlier build wrote
	// empty, or a damaged one.
	storedAt int64
	version  Version
	known    bool
}

// reclaimPass is what the entries of one reclaim batch share.
type reclaimPass struct {
	now int64 // what is due by now
	// stored is when the batch holds its stripes: a tombstone the pass
	// makes, or first notes the time of, is stored then (no earlier than
	// any write to the keys it locks).
	stored  int64
	key     []byte // index key or record being built
	val     []byte // purge entry value being built
	classes []classDelta
	freed   int64 // bytes of the records expired
}

// reclaimLoop runs reclaimOnce every ReclaimInterval. Owned by the Engine;
// stopped by Close.
func (e *Engine) reclaimLoop() {
	defer e.bg.Done()
	ticks, stop := e.startTicker()
	defer stop()
	for {
		select {
		case <-e.stop:
			return
		case <-ticks:
		}
		if e.Err() != nil {
			continue
		}
		if err := e.reclaimOnce(); err != nil {
			e.cfg.Logger.Warn("engine: reclaim failed", "err", err)
		}
	}
}

// startTicker starts the reclaimer's ticker (Config.NewTicker).
func (e *Engine) startTicker() (<-chan time.Time, func()) {
	if e.cfg.NewTicker != nil {
		return e.cfg.NewTicker(e.cfg.ReclaimInterval)
	}
	t := time.NewTicker(e.cfg.ReclaimInterval)
	return t.C, t.Stop
}

// reclaimOnce handles every index entry due by now, a chunk at a time.
func (e *Engine) reclaimOnce() error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	now := e.cfg.Now().UnixMilli()
	for !e.closing.Load() {
		entries, err := e.dueEntries(now)
		if err != nil {
			return err
		}
		if err := e.reclaimEntries(entries, now); err != nil {
			return err
		}
		if len(entries) < reclaimChunk {
			return nil
		}
	}
	return nil
}

// dueEntries copies up to reclaimChunk index entries due by now: the
// expiry index's first, then the purge index's.
func (e *Engine) dueEntries(now int64) ([]dueEntry, error) {
	entries, err := e.appendDue(nil, indexStart, indexBound(now+1))
	if err == nil && len(entries) < reclaimChunk {
		entries, err = e.appendDue(entries, purgeStart, purgeBound(now+1))
	}
	return entries, err
}

// appendDue appends the entries in [lower, upper) to entries, until it
// holds reclaimChunk.
func (e *Engine) appendDue(entries []dueEntry, lower, upper []byte) ([]dueEntry, error) {
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("engine: reclaim: %w", err)
	}
	for ok := it.First(); ok && len(entries) < reclaimChunk; ok = it.Next() {
		k := slices.Clone(it.Key())
		due, kind, dk, valid := parseIndexKey(k)
		if !valid {
			entries = append(entries, dueEntry{ikey: k}) // dropped below
			continue
		}
		en := dueEntry{ikey: k, due: due, kind: kind, dataKey: dk, tok: dataKeyToken(dk)}
		if kind == kindPurge {
			en.storedAt, en.version, en.known = parsePurgeValue(it.Value())
		}
		entries = append(entries, en)
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("engine: reclaim: %w", err)
	}
	return entries, nil
}

// reclaimEntries applies the due entries in one batch while holding their
// keys' stripes, so it never races with Apply.
func (e *Engine) reclaimEntries(entries []dueEntry, now int64) error {
	if len(entries) == 0 {
		return nil
	}
	// Sorted by token (stripe order), then data key, so that the entries
	// of one key are adjacent.
	slices.SortStableFunc(entries, func(a, b dueEntry) int {
		if c := cmp.Compare(a.tok, b.tok); c != 0 {
			return c
		}
		return bytes.Compare(a.dataKey, b.dataKey)
	})
	toks := make([]uint64, len(entries))
	for i := range entries {
		toks[i] = entries[i].tok
	}
	e.stripes.lockSorted(toks)
	defer e.stripes.unlockSorted(toks)
	pass := &reclaimPass{now: now, stored: max(now, e.cfg.Now().UnixMilli())}

	b := e.db.NewBatch()
	// Every entry is deleted first, so that a purge entry set below (an
	// expired record's tombstone's) wins over the delete of an old entry
	// under the same key: a tombstone and a value written over it in the
	// same millisecond have the same purge due time.
	for _, en := range entries {
		if err := b.Delete(en.ikey, nil); err != nil {
			_ = b.Close()
			return fmt.Errorf("%w: %w", ErrWrite, err)
		}
	}
	var expired, purged int64
	var digs []digestDelta
	var changed []byte // data key of the last record this batch changed
	for _, en := range entries {
		if changed != nil && bytes.Equal(en.dataKey, changed) {
			// Every entry reads the state before the batch, so a second
			// entry of a changed record (e.g. the purge entries of two
			// tombstone versions) would act twice: just drop it.
			en.dataKey = nil
		}
		x, p, h, err := e.reclaimEntry(b, en, pass)
		if err != nil {
			_ = b.Close()
			return err
		}
		if x+p > 0 {
			changed = en.dataKey
		}
		expired += x
		purged += p
		if h != 0 {
			digs = append(digs, digestDelta{tok: en.tok, h: h})
		}
	}
	// Reclaim is redoable from the index, so it never waits for a sync.
	if err := e.commit(b, pebble.NoSync); err != nil {
		return err
	}
	if t := e.clock.tick(); t != 0 {
		for _, en := range entries {
			e.clock.mark(en.tok, t)
		}
	}
	e.live.Add(-expired)
	e.used.Add(-pass.freed)
	if e.classes != nil {
		e.classes.apply(pass.classes)
	}
	e.applyDigest(digs)
	e.counters.expired.Add(uint64(expired))
	e.counters.purged.Add(uint64(purged))
	return nil
}

// reclaimEntry adds to b what one due entry calls for, and reports whether
// it expired a record or purged a tombstone, and the XOR the change makes
// to the key's digest bucket; an expired record's bytes are added to
// p.freed. The caller has deleted the entry itself; stale entries (the
// record changed since) call for nothing more.
func (e *Engine) reclaimEntry(b *pebble.Batch, en dueEntry, p *reclaimPass) (expired, purged int64, dig uint64, err error) {
	if en.dataKey == nil {
		return 0, 0, 0, nil
	}
	// The record may change below; readers that miss the cache wait for
	// the stripe we hold and then read the committed state.
	e.cache.drop(en.dataKey)
	h, exists, err := e.storedHeader(en.dataKey)
	if err != nil || !exists {
		return 0, 0, 0, err
	}
	v, exp, tomb := h.v, h.expireAt, h.tomb
	key := UserKey(en.dataKey)
	switch {
	case en.kind == kindExpire && expiryCurrent(en.due, exp, tomb) && exp <= p.now:
		// Same version: an older copy from a replica can never win over
		// the tombstone and resurrect the value.
		t := Record{Version: v, Tombstone: true}
		p.key = t.AppendEncode(p.key[:0])
		if err := b.Set(en.dataKey, p.key, nil); err != nil {
			return 0, 0, 0, fmt.Errorf("%w: %w", ErrWrite, err)
		}
		dig = e.elementHash(key, v, exp, false) ^ e.elementHash(key, v, 0, true)
		if k := e.classes.classOf(key); k >= 0 {
			p.classes = append(p.classes, classDelta{class: k, oldLive: true, oldExp: exp})
		}
		p.freed += h.bytes(len(key))
		// Stored now, as far as PurgeAllowed goes: a replica that never
		// got the record may hold an older copy, which only an exchange
		// started after this tombstone existed replaces.
		return 1, 0, dig, e.setPurgeEntry(b, p, e.purgeDue(t), en.dataKey, p.stored, v)
	case en.kind == kindPurge && tomb:
		t := h.record()
		if en.known && en.version != v {
			// A tombstone replaced since by a newer one, which has an
			// entry of its own. Not told apart: an entry of the same
			// version left behind once the tombstone is gone (by a
			// DropRange, or the current tombstone's second entry below)
			// and already moved to a retry, which lends the tombstone its
			// earlier time if the same version is stored again over a
			// copy before that retry.
			return 0, 0, 0, nil
		}
		retry := p.now + min(e.cfg.TombstoneGrace, purgeRetryMax).Milliseconds()
		if !en.known {
			// An earlier build's entry says neither when its tombstone
			// was stored nor which one it is: it may be a stale entry of
			// one since replaced, and would lend the current one its
			// version's time. It becomes the current one's (a second
			// entry, if that one has its own), stored now: never earlier
			// than the truth, at worst a round later.
			return 0, 0, 0, e.setPurgeEntry(b, p, max(e.purgeDue(t), retry), en.dataKey, p.stored, v)
		}
		// A moved entry keeps its value.
		if due := e.purgeDue(t); due > p.now {
			// The grace period grew since the entry was written.
			return 0, 0, 0, e.setPurgeEntry(b, p, due, en.dataKey, en.storedAt, v)
		}
		if !e.cfg.PurgeAllowed(key, t, en.storedAt) {
			return 0, 0, 0, e.setPurgeEntry(b, p, retry, en.dataKey, en.storedAt, v)
		}
		if err := b.Delete(en.dataKey, nil); err != nil {
			return 0, 0, 0, fmt.Errorf("%w: %w", ErrWrite, err)
		}
		return 0, 1, e.elementHash(key, v, 0, true), nil
	}
	return 0, 0, 0, nil
}

// setPurgeEntry adds to b the purge entry of the tombstone of version v
// under dataKey, due at due, stored at storedAt.
func (e *Engine) setPurgeEntry(b *pebble.Batch, p *reclaimPass, due int64, dataKey []byte, storedAt int64, v Version) error {
	p.key = appendIndexKey(p.key[:0], due, kindPurge, dataKey)
	p.val = appendPurgeValue(p.val[:0], storedAt, v)
	if err := b.Set(p.key, p.val, nil); err != nil {
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	return nil
}

// clampDue maps a time to the due time its index entry is stored under.
func clampDue(ms int64) int64 { return max(ms, 0) }

// expiryCurrent reports whether an expiry entry due at due is the one of
// a record in the state exp, tomb: a live record that still carries that
// expiry. A write that changes or drops a record's expiry deletes its
// entry in the same batch (mergeKey), and so do evictions and DropRange;
// only entries that a store written by an earlier build kept go stale,
// until due. Readers still check: they read the index before the record
// (Count, SampleExpiring, the reclaimer's due entries), and a write may
// replace both in between.
func expiryCurrent(due, exp int64, tomb bool) bool {
	return !tomb && exp != 0 && clampDue(exp) == due
}
