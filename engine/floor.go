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
// The floor only rises. It is stored with the drop, in the same batch,
// and read back by Open. It changes under every stripe (DropAllAt) and is
// read under a key's stripe, so a write sees the floor of the last drop
// that committed before it.

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
	v, closer, err := e.db.Get(metaFloorKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("engine: read floor: %w", err)
	}
	defer closer.Close()
	if len(v) != versionLen {
		return fmt.Errorf("%w: flush floor of %d bytes", ErrCorrupt, len(v))
	}
	f := readVersion(v)
	e.floor.Store(&f)
	return nil
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
