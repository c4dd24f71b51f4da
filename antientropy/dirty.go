package antientropy

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"github.com/ringcache/ringcache/engine"
)

// dirtyMetaName is where the dirty set is persisted: pairs of 2-byte
// bucket and 8-byte Unix ms, big endian.
const dirtyMetaName = "antientropy/dirty"

// MetaStore persists small named values; *engine.Engine implements it.
type MetaStore interface {
	PutMeta(name string, val []byte) error
	GetMeta(name string) ([]byte, bool, error)
}

// Dirty is the set of digest buckets holding keys that an owner wrote
// while a fellow owner was replaced by a substitute (sloppy quorum). The
// substitute keeps those writes as hints; should it die for good before
// handing them over, the owners that did get the write know where to
// look: anti-entropy compares the ranges holding dirty buckets first and
// clears the marks once every replica of the range was in sync.
//
// Marks are kept in memory and persisted by Flush, which the owner calls
// periodically and on close: a crash loses at most the marks since the
// last flush, which costs only priority (a full round still compares
// every range).
type Dirty struct {
	store MetaStore
	mu    struct {
		sync.Mutex
		// marked maps a bucket to when it was last marked (Unix ms).
		marked map[int]int64
		// changed is set when marked differs from what was persisted.
		changed bool
	}
	now func() int64
}

// NewDirty loads the persisted set. now returns Unix ms.
func NewDirty(store MetaStore, now func() int64) (*Dirty, error) {
	d := &Dirty{store: store, now: now}
	d.mu.marked = map[int]int64{}
	val, ok, err := store.GetMeta(dirtyMetaName)
	if err != nil {
		return nil, fmt.Errorf("antientropy: load dirty set: %w", err)
	}
	if ok {
		for len(val) >= 10 {
			b := int(binary.BigEndian.Uint16(val))
			d.mu.marked[b] = int64(binary.BigEndian.Uint64(val[2:]))
			val = val[10:]
		}
	}
	return d, nil
}

// Note marks the buckets of keys. It implements cluster.Noter.
func (d *Dirty) Note(keys [][]byte) {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range keys {
		d.mu.marked[int(engine.Token(k)>>(64-BucketBits))] = now
	}
	d.mu.changed = true
}

// Buckets returns the marked buckets, sorted.
func (d *Dirty) Buckets() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]int, 0, len(d.mu.marked))
	for b := range d.mu.marked {
		out = append(out, b)
	}
	slices.Sort(out)
	return out
}

// Len returns how many buckets are marked.
func (d *Dirty) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.mu.marked)
}

// Clear unmarks the buckets that were last marked before ms (marks made
// after the exchange that cleared them started stay).
func (d *Dirty) Clear(buckets []int, beforeMs int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, b := range buckets {
		if at, ok := d.mu.marked[b]; ok && at < beforeMs {
			delete(d.mu.marked, b)
			d.mu.changed = true
		}
	}
}

// Flush persists the set if it changed since the last Flush.
func (d *Dirty) Flush() error {
	d.mu.Lock()
	if !d.mu.changed {
		d.mu.Unlock()
		return nil
	}
	val := make([]byte, 0, 10*len(d.mu.marked))
	for b, at := range d.mu.marked {
		val = binary.BigEndian.AppendUint16(val, uint16(b))
		val = binary.BigEndian.AppendUint64(val, uint64(at))
	}
	d.mu.changed = false
	d.mu.Unlock()
	if err := d.store.PutMeta(dirtyMetaName, val); err != nil {
		d.mu.Lock()
		d.mu.changed = true
		d.mu.Unlock()
		return fmt.Errorf("antientropy: persist dirty set: %w", err)
	}
	return nil
}
