package engine

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// rowCache keeps recently used records in memory, in front of Pebble, so a
// read of a hot key and the read half of a write's read-compare-write do not
// search the memtable's skiplist and the LSM levels. It holds decoded
// records and also remembers keys that are absent.
//
// Coherence rests on the per-key stripes: an entry is filled or changed
// only by a goroutine that holds its key's stripe, after the change is
// committed to Pebble (or, for a fill, after reading Pebble under the
// stripe). Readers look entries up without the stripe: a hit shows either
// the state before a concurrent write or after it, never a state Pebble
// did not have. Cached values are immutable and their slices have cap ==
// len, so an append by a caller copies instead of writing into the cache.
//
// Eviction is CLOCK per shard, bounded by an approximate byte budget.
type rowCache struct {
	shards     [cacheShards]cacheShard
	shardBytes int64

	hits, misses, evictions atomic.Uint64
}

const (
	cacheShards = 256
	// entryOverhead approximates the bytes an entry costs beyond its key
	// and value: the entry struct (96), its map slot (~32), its ring slot
	// (~12 with growth slack) and allocation size-class rounding (~20).
	entryOverhead = 160
)

type cacheShard struct {
	mu sync.Mutex
	// m maps a data key to its entry; ring lists the same entries in CLOCK
	// order; bytes is the sum of their sizes. Guarded by mu.
	m     map[string]*cacheEntry
	ring  []*cacheEntry
	hand  int
	bytes int64
	_     [40]byte // keep shards on separate cache lines
}

type cacheEntry struct {
	key     string
	rec     Record
	present bool // false: the key is known to be absent from the store
	ref     bool // CLOCK reference bit
	slot    int  // index in ring
}

func newRowCache(bytes int64) *rowCache {
	if bytes <= 0 {
		return nil
	}
	c := &rowCache{shardBytes: max(bytes/cacheShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*cacheEntry)
	}
	return c
}

func (c *rowCache) shard(dataKey []byte) *cacheShard {
	// The data key starts with the prefix byte and the token's 8 bytes.
	tok := binary.BigEndian.Uint64(dataKey[1:9])
	return &c.shards[tok%cacheShards]
}

// get returns the cached state of dataKey: whether it is cached at all,
// and if so whether the key exists and its record.
func (c *rowCache) get(dataKey []byte) (r Record, present, cached bool) {
	if c == nil {
		return Record{}, false, false
	}
	s := c.shard(dataKey)
	s.mu.Lock()
	e, ok := s.m[string(dataKey)]
	if ok {
		e.ref = true
		r, present = e.rec, e.present
	}
	s.mu.Unlock()
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return r, present, ok
}

// put records the committed state of dataKey; the caller holds its stripe.
// It returns r with its value copied (the cache's copy, when cached).
func (c *rowCache) put(dataKey []byte, r Record, present bool) Record {
	if present && !r.Tombstone {
		r.Value = append(make([]byte, 0, len(r.Value)), r.Value...)
	} else {
		r.Value = nil
	}
	if c == nil {
		return r
	}
	size := int64(len(dataKey)+len(r.Value)) + entryOverhead
	if size > c.shardBytes/2 {
		c.drop(dataKey) // too big to be worth caching
		return r
	}
	s := c.shard(dataKey)
	s.mu.Lock()
	if e, ok := s.m[string(dataKey)]; ok {
		s.bytes += int64(len(r.Value) - len(e.rec.Value))
		e.rec, e.present, e.ref = r, present, true
	} else {
		e := &cacheEntry{key: string(dataKey), rec: r, present: present, slot: len(s.ring)}
		s.m[e.key] = e
		s.ring = append(s.ring, e)
		s.bytes += size
	}
	c.evictions.Add(s.evict(c.shardBytes))
	s.mu.Unlock()
	return r
}

// drop forgets dataKey; the caller holds its stripe.
func (c *rowCache) drop(dataKey []byte) {
	if c == nil {
		return
	}
	s := c.shard(dataKey)
	s.mu.Lock()
	if e, ok := s.m[string(dataKey)]; ok {
		s.remove(e)
	}
	s.mu.Unlock()
}

// clear forgets everything; the caller holds every stripe.
func (c *rowCache) clear() {
	if c == nil {
		return
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.m = make(map[string]*cacheEntry)
		s.ring, s.hand, s.bytes = nil, 0, 0
		s.mu.Unlock()
	}
}

// evict runs the CLOCK hand until the shard fits its budget.
func (s *cacheShard) evict(budget int64) (evicted uint64) {
	for s.bytes > budget && len(s.ring) > 0 {
		if s.hand >= len(s.ring) {
			s.hand = 0
		}
		e := s.ring[s.hand]
		if e.ref {
			e.ref = false
			s.hand++
			continue
		}
		s.remove(e)
		evicted++
	}
	return evicted
}

func (s *cacheShard) remove(e *cacheEntry) {
	last := len(s.ring) - 1
	moved := s.ring[last]
	s.ring[e.slot] = moved
	moved.slot = e.slot
	s.ring[last] = nil
	s.ring = s.ring[:last]
	delete(s.m, e.key)
	s.bytes -= int64(len(e.key)+len(e.rec.Value)) + entryOverhead
}

// stats returns the entry count and approximate bytes held.
func (c *rowCache) stats() (entries, bytes int64) {
	if c == nil {
		return 0, 0
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		entries += int64(len(s.ring))
		bytes += s.bytes
		s.mu.Unlock()
	}
	return entries, bytes
}
