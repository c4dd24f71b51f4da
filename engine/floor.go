package engine

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
)

// The flush floor. FLUSHALL in a cluster drops every member's records,
// but a hint replay, an anti-entropy push or a read repair that read a
// record before a member's drop can apply it after, and the flushed key
// would be back. A drop therefore carries a version, the floor, taken
// from the flushing coordinator's clock: every record older than it was
// written before the flush, and from the drop on the engine stores none
// of them. A record below the floor loses to it as it would lose to a
// stored newer version: Apply reports it stale, ApplyBatchNewer names the
// floor as the newer version held (a coordinator stamps its write again
// above it), and a hint below it is not kept.
//
// The floor only rises. DropAllAt stores it with the drop, in the same
// batch; RaiseFloor, which catches up with a flush this engine missed,
// stores it before its drop, with a mark that the drop is pending. Open
// reads both back. The floor changes under every stripe and is read
// under a key's stripe, so a write sees the floor of the last drop that
// committed before it.

// metaFloorKey holds the floor, encoded as in a record's header
// (appendVersion).
var metaFloorKey = []byte{prefixMeta, 'f', 'l', 'o', 'o', 'r'}

// Floor returns the flush floor: the version below which the engine
// stores no record (zero: none).
func (e *Engine) Floor() Version {
	if f := e.floor.Load(); f != nil {
		return *f
	}
	return Version{}
}

// loadFloor reads the floor at Open.
func (e *Engine) loadFloor() error {
	f, ok, err := e.metaVersion(metaFloorKey, "flush floor")
	if ok {
		e.floor.Store(&f)
	}
	return err
}

// metaVersion reads a version stored under the meta key key (ok: one
// is), what naming it in errors.
func (e *Engine) metaVersion(key []byte, what string) (v Version, ok bool, err error) {
	b, closer, err := e.db.Get(key)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return Version{}, false, nil
	case err != nil:
		return Version{}, false, fmt.Errorf("engine: read %s: %w", what, err)
	}
	defer closer.Close()
	if len(b) != versionLen {
		return Version{}, false, fmt.Errorf("%w: %s of %d bytes", ErrCorrupt, what, len(b))
	}
	return readVersion(b), true, nil
}

// mustBeat returns the version a record must be newer than to be stored:
// the stored one cur (exists: one is stored) or the floor, whichever is
// newer, and whether there is one. The caller holds the key's stripe.
func (e *Engine) mustBeat(cur Version, exists bool) (Version, bool) {
	f := e.floor.Load()
	if f == nil || (exists && cur.Compare(*f) >= 0) {
		return cur, exists
	}
	return *f, true
}

// metaFloorDropKey marks a floor RaiseFloor committed before the drop of
// the records below it finished.
var metaFloorDropKey = []byte{prefixMeta, 'f', 'l', 'o', 'o', 'r', '-', 'd', 'r', 'o', 'p'}

// RaiseFloor catches this engine up with a FLUSHALL it missed: it raises
// the floor to floor and drops every record older than it, as the drop
// that set floor on the members it reached did; records written since,
// newer than floor, stay. Anti-entropy calls it with a fellow replica's
// floor. A floor not above the current one raises nothing, but finishes
// a drop an earlier call, or Open, left unfinished. It returns how many
// records it dropped.
//
// The floor and a mark that its drop is pending are committed first,
// under every stripe, so that from then on no older record is stored;
// the drop follows (DropRange, a chunk at a time) and deletes the mark.
// A crash in between leaves the mark, and Open drops again. One drop runs
// at a time: a second caller waits for it. Hints already kept are not
// dropped: one older than floor replays to its owner, which refuses it
// once it has the floor too.
func (e *Engine) RaiseFloor(floor Version) (int64, error) {
	e.floorDrop.Lock()
	defer e.floorDrop.Unlock()
	if floor.Compare(e.Floor()) > 0 {
		raised, err := e.commitFloor(floor)
		if err != nil {
			return 0, err
		}
		if raised {
			e.floorDrop.pending = floor
		}
	}
	pending := e.floorDrop.pending
	if pending.IsZero() {
		return 0, nil
	}
	n, err := e.dropBelowFloor(pending)
	if err == nil {
		e.floorDrop.pending = Version{}
	}
	if n > 0 {
		e.cfg.Logger.Info("engine: dropped the records older than a flush this node missed (FLUSHALL)",
			"records", n, "floor", pending.String())
	}
	return n, err
}

// commitFloor stores floor and the pending drop's mark, if floor is above
// the current floor. The caller holds floorDrop.
func (e *Engine) commitFloor(floor Version) (bool, error) {
	if err := e.enter(); err != nil {
		return false, err
	}
	defer e.leave()
	e.stripes.lockAll()
	defer e.stripes.unlockAll()
	if floor.Compare(e.Floor()) <= 0 { // raised meanwhile by DropAllAt
		return false, nil
	}
	b := e.db.NewBatch()
	enc := appendVersion(nil, floor)
	err := b.Set(metaFloorKey, enc, nil)
	if err == nil {
		err = b.Set(metaFloorDropKey, enc, nil)
	}
	if err != nil {
		_ = b.Close()
		return false, fmt.Errorf("%w: %w", ErrWrite, err)
	}
	if err := e.commit(b, e.writeOpts); err != nil {
		return false, err
	}
	e.floor.Store(&floor)
	return true, nil
}

// dropBelowFloor drops the records older than floor, then deletes the
// pending drop's mark (only RaiseFloor sets it, under floorDrop, which
// the caller holds; DropAllAt may have deleted it already).
func (e *Engine) dropBelowFloor(floor Version) (int64, error) {
	n, err := e.DropRange(0, 0, floor, nil)
	e.counters.floorDropped.Add(uint64(n))
	if n > 0 && e.presence != nil {
		e.presence.request() // a filter of fewer keys
	}
	if err != nil {
		return n, err
	}
	return n, e.writeMeta(func(b *pebble.Batch) error { return b.Delete(metaFloorDropKey, nil) })
}

// finishFloorDrop runs at Open: a drop RaiseFloor left unfinished is done
// now, before the engine serves anything. Should it fail (a record that
// does not decode stops its scan), Open goes on: the mark stays, and the
// next RaiseFloor tries again.
func (e *Engine) finishFloorDrop() error {
	floor, ok, err := e.metaVersion(metaFloorDropKey, "pending floor drop")
	if !ok {
		return err
	}
	e.floorDrop.pending = floor
	if _, err := e.RaiseFloor(floor); err != nil {
		e.cfg.Logger.Warn("engine: finishing the drop below a raised flush floor failed; the next anti-entropy exchange tries again",
			"floor", floor.String(), "err", err)
	}
	return nil
}
