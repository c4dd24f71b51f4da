package engine

import "sync/atomic"

// The write clock lets EvictSampled delete a record Sample read without
// reading it back: a victim's record is the one sampled unless its key
// changed since, and the clock tells that from memory.
//
// The clock runs once StartWriteClock was called (a single node that
// evicts with EvictSampled); until then writers pay one atomic load and
// samples carry no tick, so their victims are read back. Sample notes
// the tick before it opens its iterator. Every change of a data key
// (Apply's writes, the reclaimer's expiries and purges, drops and
// evictions) takes a new tick after its commit and, before it releases
// its stripes, raises the key's slot to
// it; DropAll raises the floor of every slot. A change the sample's
// iterator did not see committed after the iterator opened, so after the
// sample's tick was read: its tick is later, and EvictSampled, which
// holds the key's stripe, sees the slot above the sample's tick. A slot
// is shared by the keys whose tokens agree in their low bits, which only
// makes a victim read back that did not need it. A change made while the
// clock was off committed before the first sample's iterator opened (the
// writer read "off" before Sample turned it on), so the sample saw it.
type writeClock struct {
	on    atomic.Bool
	seq   atomic.Uint64
	floor atomic.Uint64
	slots []atomic.Uint64
}

// writeClockSlots is the number of slots (2 MiB of them).
const writeClockSlots = 1 << 18

func newWriteClock() *writeClock {
	c := &writeClock{slots: make([]atomic.Uint64, writeClockSlots)}
	c.seq.Store(1) // a sample's tick is never 0, the "no tick" of a Sampled made elsewhere
	return c
}

// now returns the tick a sample notes before it opens its iterator, or 0
// while the clock is off. A sample that sees the clock on comes after
// every change whose writer saw it off.
func (c *writeClock) now() uint64 {
	if !c.on.Load() {
		return 0
	}
	return c.seq.Load()
}

// StartWriteClock turns on the write clock (writeclock.go), so that
// EvictSampled deletes the records sampled from then on without reading
// them back when their keys did not change since. It costs every write
// an atomic tick and a slot update per key; a node that evicts by other
// means (a cluster node writes eviction tombstones) leaves it off.
// Calling it again costs a load: the eviction loop calls it per batch.
func (e *Engine) StartWriteClock() {
	if !e.clock.on.Load() {
		e.clock.on.Store(true)
	}
}

// tick returns the tick of changes just committed, or 0 while the clock
// is off (no sample has started yet).
func (c *writeClock) tick() uint64 {
	if !c.on.Load() {
		return 0
	}
	return c.seq.Add(1)
}

// mark raises the slot of tok to tick t (0: nothing to mark).
func (c *writeClock) mark(tok, t uint64) {
	if t == 0 {
		return
	}
	s := &c.slots[tok&(writeClockSlots-1)]
	for {
		old := s.Load()
		if old >= t || s.CompareAndSwap(old, t) {
			return
		}
	}
}

// markAll records a change of every key (DropAll).
func (c *writeClock) markAll() { c.floor.Store(c.seq.Add(1)) }

// changedSince reports whether a key of token tok may have changed after
// a sample that noted tick t; t == 0 (no tick) answers yes.
func (c *writeClock) changedSince(tok, t uint64) bool {
	return t == 0 || c.floor.Load() > t || c.slots[tok&(writeClockSlots-1)].Load() > t
}
