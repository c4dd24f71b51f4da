package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
)

// Layout migration. Layout 1 placed every key at the xxhash64 of the
// whole key; layout 2 (Token) hashes a key's hash tag. Keys without a tag
// keep their token, so only the data records, index entries and hints of
// tagged keys sit at the wrong position in a layout-1 store, and its
// purge entries in the expiry index (the purge index came later). Open
// moves them before it counts records or serves anything:
//
//  1. The layout value becomes {1, 2}: "moving from 1 to 2". Builds that
//     read only layout 1 refuse it, so none can write at old positions
//     into a half-moved store.
//  2. Three passes, over data, the expiry index and hints, move each key
//     whose token changed, and each purge entry into the purge index
//     (which a layout-1 store does not have, so no pass reads it): one
//     batch deletes the old key and sets the new one, so a key is at
//     exactly one place whenever a batch commits. A batch holds many
//     whole moves and is committed without waiting for an fsync.
//  3. The layout value becomes {2}, synced.
//
// A crash before step 3 leaves a store whose layout is still {1} (nothing
// moved) or {1, 2}, and the next Open runs the passes again. They are
// idempotent: a moved key is at its destination and is skipped. The WAL is
// replayed as a prefix, so any move that survives a crash survives with
// the marker before it, and a recorded {2} with every move before it.
// The passes are independent: a record and its index entries may sit at
// different positions between passes, but nothing reads the store before
// step 3, and after the passes every one of them is at its new position.
//
// The destination of a move is normally empty. Should it hold an entry
// anyway (a store changed outside these rules), the move merges
// last-write-wins instead of overwriting, as Apply and PutHints would.
//
// The cost is one read of the data, index and hint keyspaces at the first
// Open of a layout-1 store, and a write of every tagged key and purge
// entry.

// migrateBatchBytes bounds one migration batch. The pass opens a new
// iterator after each commit, so it never pins more than this much of
// its own writes in memtables.
const migrateBatchBytes = 1 << 20

// layoutMigrating is the layout value while Open moves a layout-1 store.
var layoutMigrating = []byte{1, layoutVersion}

// movePass moves the keys of one keyspace: move adds the changes for one
// Pebble key (aliasing iterator memory) to the batch, reading the store
// through r, and reports whether it moved it.
type movePass struct {
	name         string
	lower, upper []byte
	move         func(r pebble.Reader, b *pebble.Batch, k, v []byte) (bool, error)
}

var layout1Passes = []movePass{
	{"records", dataStart, dataEnd, moveRecord},
	{"index entries", indexStart, indexEnd, moveIndexEntry},
	{"hints", hintStart, hintEnd, moveHint},
}

// migrateLayout1 moves a layout-1 store (layout value cur: {1}, or
// {1, 2} if a migration was interrupted) to layout 2.
func (e *Engine) migrateLayout1(cur []byte) error {
	if len(cur) == 1 {
		if err := e.setLayout(layoutMigrating); err != nil {
			return err
		}
	}
	for _, p := range layout1Passes {
		n, err := e.runPass(p)
		if err != nil {
			return fmt.Errorf("engine: migrate layout 1 to %d: %s: %w", layoutVersion, p.name, err)
		}
		e.cfg.Logger.Info("engine: migrated to layout 2", "moved", p.name, "count", n)
	}
	if err := e.setLayout([]byte{layoutVersion}); err != nil {
		return err
	}
	return e.syncWAL()
}

// setLayout records the layout value, committed with pebble.Sync.
func (e *Engine) setLayout(v []byte) error {
	return e.guard(func() error { return e.db.Set(metaLayoutKey, v, pebble.Sync) })
}

// runPass runs p over its keyspace a batch at a time and returns how many
// keys it moved.
func (e *Engine) runPass(p movePass) (moved int, err error) {
	for from := p.lower; from != nil; {
		b := e.db.NewBatch()
		var n int
		n, from, err = e.passPage(p, b, from)
		if err != nil {
			return moved, errors.Join(err, b.Close())
		}
		if b.Empty() {
			_ = b.Close()
			continue
		}
		if err := e.commit(b, pebble.NoSync); err != nil {
			return moved, err
		}
		moved += n
	}
	return moved, nil
}

// passPage adds to b the moves of p's keys from from on, until b is full,
// and returns how many it added and where the next page starts (nil: the
// keyspace is done).
func (e *Engine) passPage(p movePass, b *pebble.Batch, from []byte) (moved int, next []byte, err error) {
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: from, UpperBound: p.upper})
	if err != nil {
		return 0, nil, err
	}
	for ok := it.First(); ok; ok = it.Next() {
		m, err := p.move(e.db, b, it.Key(), it.Value())
		if err != nil {
			return 0, nil, errors.Join(err, it.Close())
		}
		if m {
			moved++
		}
		if b.Len() >= migrateBatchBytes {
			// The successor of this key: the next page starts after it.
			next = append(bytes.Clone(it.Key()), 0)
			break
		}
	}
	return moved, next, it.Close()
}

// moveRecord moves the data record under dk to its key's token.
func moveRecord(r pebble.Reader, b *pebble.Batch, dk, val []byte) (bool, error) {
	if len(dk) < dataKeyHeader {
		return false, nil
	}
	key := UserKey(dk)
	tok := Token(key)
	if tok == dataKeyToken(dk) {
		return false, nil
	}
	dst := appendDataKeyTok(nil, tok, key)
	held, found, err := getCopy(r, dst)
	if err != nil {
		return false, err
	}
	if !found || newerRecord(val, held) {
		if err := b.Set(dst, val, nil); err != nil {
			return false, err
		}
	}
	return true, b.Delete(dk, nil)
}

// moveIndexEntry moves the index entry ik to the data key's new position,
// and a purge entry into the purge index; the entry is the same (due,
// kind) for the same record.
func moveIndexEntry(_ pebble.Reader, b *pebble.Batch, ik, val []byte) (bool, error) {
	due, kind, dk, ok := parseIndexKey(ik)
	if !ok {
		return false, nil // malformed: the reclaimer drops it
	}
	key := UserKey(dk)
	dst := appendIndexKey(nil, due, kind, appendDataKeyTok(nil, Token(key), key))
	if bytes.Equal(dst, ik) {
		return false, nil
	}
	if err := b.Set(dst, val, nil); err != nil {
		return false, err
	}
	return true, b.Delete(ik, nil)
}

// moveHint moves the hint under hk to its key's token, within its target.
func moveHint(r pebble.Reader, b *pebble.Batch, hk, val []byte) (bool, error) {
	target, old, key, ok := parseHintKey(hk)
	if !ok {
		return false, nil // malformed: loadHints and ScanHints report it
	}
	tok := Token(key)
	if tok == old {
		return false, nil
	}
	dst := appendHintKey(nil, string(target), tok, key)
	held, found, err := getCopy(r, dst)
	if err != nil {
		return false, err
	}
	if err := b.Set(dst, mergeHintValues(val, held, found), nil); err != nil {
		return false, err
	}
	return true, b.Delete(hk, nil)
}

// mergeHintValues returns the hint value that wins when moved meets held
// at one key, as PutHints merges: the newer record, with the older
// createdMs. Undecodable or short values lose.
func mergeHintValues(moved, held []byte, found bool) []byte {
	switch {
	case !found || len(held) < hintValueHeader || !validHeader(held[hintValueHeader:]):
		return moved
	case len(moved) < hintValueHeader || !validHeader(moved[hintValueHeader:]):
		return held
	}
	win := held
	if newerRecord(moved[hintValueHeader:], held[hintValueHeader:]) {
		win = bytes.Clone(moved)
	}
	created := min(int64(binary.BigEndian.Uint64(moved)), int64(binary.BigEndian.Uint64(held)))
	binary.BigEndian.PutUint64(win, uint64(created))
	return win
}

// newerRecord reports whether the encoded record a replaces the encoded
// record b under last-write-wins: b is undecodable, or a's version is
// newer. An undecodable a never replaces.
func newerRecord(a, b []byte) bool {
	va, _, _, errA := DecodeVersion(a)
	vb, _, _, errB := DecodeVersion(b)
	switch {
	case errA != nil:
		return false
	case errB != nil:
		return true
	}
	return va.Compare(vb) > 0
}

// getCopy returns a copy of the value under k and whether there is one.
func getCopy(r pebble.Reader, k []byte) ([]byte, bool, error) {
	v, closer, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer closer.Close()
	return bytes.Clone(v), true, nil
}
