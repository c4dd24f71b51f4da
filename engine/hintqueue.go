package engine

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// hintBook keeps the totals of every target's pending hints in memory, so
// that HintQueues and Stats never scan the hint keyspace. It is filled by
// one scan at Open and then changed only after a commit, by the goroutine
// that holds the stripes of the hints that changed (every stripe for
// drops); so once writers pause it equals exactly what is stored.
type hintBook struct {
	mu sync.Mutex
	// queues maps a target to its pending hints; targets without any are
	// absent. Guarded by mu.
	queues map[string]*hintQueue

	// count and bytes total all queues, for Stats without mu.
	count, bytes atomic.Int64
}

// hintQueue is one target's pending hints.
type hintQueue struct {
	count, bytes int64
	// created counts pending hints by createdMs in two levels: the second
	// (floor(ms/1000)) and, within it, the millisecond offsets in ascending
	// order. The oldest hint is the first offset of the smallest second;
	// a second holds at most 1000 entries, and the map has one entry per
	// second in which pending hints were created, so it stays small.
	created map[int64][]msCount
	// oldest is the oldest createdMs, valid unless stale (its last hint
	// went; recomputed on the next read).
	oldest int64
	stale  bool
}

// msCount counts the hints created in one millisecond of a second.
type msCount struct {
	off uint16 // ms within the second, 0..999
	n   uint32
}

// hintChange is one hint's change, recorded before the commit and applied
// to the book after it: the old hint (if had) is removed and the new one
// (if has) added.
type hintChange struct {
	had, has               bool
	oldCreated, newCreated int64
	oldBytes, newBytes     int64
}

func splitMs(ms int64) (sec int64, off uint16) {
	sec, rem := ms/1000, ms%1000
	if rem < 0 {
		sec, rem = sec-1, rem+1000
	}
	return sec, uint16(rem)
}

func (q *hintQueue) add(ms, bytes int64) {
	if q.count == 0 || ms < q.oldest {
		q.oldest, q.stale = ms, false
	}
	q.count++
	q.bytes += bytes
	sec, off := splitMs(ms)
	offs := q.created[sec]
	i, found := slices.BinarySearchFunc(offs, off, func(c msCount, off uint16) int { return int(c.off) - int(off) })
	if found {
		offs[i].n++
		return
	}
	q.created[sec] = slices.Insert(offs, i, msCount{off: off, n: 1})
}

func (q *hintQueue) remove(ms, bytes int64) {
	q.count--
	q.bytes -= bytes
	sec, off := splitMs(ms)
	offs := q.created[sec]
	i, found := slices.BinarySearchFunc(offs, off, func(c msCount, off uint16) int { return int(c.off) - int(off) })
	if !found {
		return // cannot happen: every removed hint was added
	}
	if offs[i].n--; offs[i].n > 0 {
		return
	}
	if offs = slices.Delete(offs, i, i+1); len(offs) == 0 {
		delete(q.created, sec)
	} else {
		q.created[sec] = offs
	}
	if ms == q.oldest {
		q.stale = true
	}
}

// oldestMs returns the oldest createdMs, recomputing it if stale.
func (q *hintQueue) oldestMs() int64 {
	if q.count == 0 {
		return 0
	}
	if q.stale {
		first := true
		var minSec int64
		for sec := range q.created {
			if first || sec < minSec {
				minSec, first = sec, false
			}
		}
		q.oldest, q.stale = minSec*1000+int64(q.created[minSec][0].off), false
	}
	return q.oldest
}

// apply records committed changes to target's hints.
func (b *hintBook) apply(target string, changes []hintChange) {
	if len(changes) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queue(target)
	for _, c := range changes {
		if c.had {
			q.remove(c.oldCreated, c.oldBytes)
			b.count.Add(-1)
			b.bytes.Add(-c.oldBytes)
		}
		if c.has {
			q.add(c.newCreated, c.newBytes)
			b.count.Add(1)
			b.bytes.Add(c.newBytes)
		}
	}
	if q.count == 0 {
		delete(b.queues, target)
	}
}

// queue returns target's queue, creating it; the caller holds mu.
func (b *hintBook) queue(target string) *hintQueue {
	if b.queues == nil {
		b.queues = make(map[string]*hintQueue)
	}
	q := b.queues[target]
	if q == nil {
		q = &hintQueue{created: make(map[int64][]msCount)}
		b.queues[target] = q
	}
	return q
}

// drop forgets target's hints and returns how many there were.
func (b *hintBook) drop(target string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queues[target]
	if q == nil {
		return 0
	}
	delete(b.queues, target)
	b.count.Add(-q.count)
	b.bytes.Add(-q.bytes)
	return q.count
}

// reset forgets every hint.
func (b *hintBook) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queues = nil
	b.count.Store(0)
	b.bytes.Store(0)
}

// snapshot lists every queue, sorted by target.
func (b *hintBook) snapshot() []HintQueue {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]HintQueue, 0, len(b.queues))
	for t := range b.queues {
		out = append(out, b.oneLocked(t))
	}
	slices.SortFunc(out, func(a, b HintQueue) int { return strings.Compare(a.Target, b.Target) })
	return out
}

// one returns target's queue figures (zero if it has no hints).
func (b *hintBook) one(target string) HintQueue {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.oneLocked(target)
}

func (b *hintBook) oneLocked(target string) HintQueue {
	q := b.queues[target]
	if q == nil {
		return HintQueue{Target: target}
	}
	return HintQueue{Target: target, Count: q.count, Bytes: q.bytes, OldestMs: q.oldestMs()}
}
