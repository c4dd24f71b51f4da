package engine

import (
	"bytes"
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// rowCache keeps recently used records in memory, in front of Pebble, so a
// read of a hot key and the read half of a write's read-compare-write do not
// search the memtable's skiplist and the LSM levels. It holds records and
// also remembers keys that are absent.
//
// Coherence rests on the per-key stripes: an entry is filled or changed
// only by a goroutine that holds its key's stripe, after the change is
// committed to Pebble (or, for a fill, after reading Pebble under the
// stripe). Readers look entries up without the stripe: a hit shows either
// the state before a concurrent write or after it, never a state Pebble
// did not have.
//
// The cache holds no pointers the garbage collector has to trace. Each
// shard stores its entries in byte chunks used as a ring, and indexes them
// with a map from the key's token (its ring hash, which the data key
// carries) to the entry's position. A lookup checks the stored key, so two
// keys with one token simply take turns in the cache. An update that fits
// in the entry's slot is written in place; otherwise the entry moves to
// the head of the ring. When the head comes round to a chunk again, the
// entries in it that were read or updated since its last turn get a
// second chance (moved to the chunk's front, their mark cleared) and the
// others are evicted. A lookup copies the value out, since the chunk may
// be reused afterwards.
//
// The budget covers both parts: three quarters for the chunks and a
// quarter for the index, which costs up to indexEntryBytes per key. A
// shard whose index is full moves its head on to the next chunk, evicting
// that chunk's entries, before it adds a key.
type rowCache struct {
	shards     [cacheShards]cacheShard
	chunkBytes uint64 // size of one chunk
	maxChunks  uint64 // chunks per shard
	maxLive    int64  // entries per shard the index has room for

	hits, misses, evictions atomic.Uint64
}

const (
	cacheShards = 256
	// maxChunkBytes is the chunk size of a large cache; a record bigger
	// than a chunk is not cached. minChunks is how many chunks a shard
	// has at least when chunks of minChunkBytes allow it, so that one
	// turn of the ring does not empty a shard at once.
	maxChunkBytes = 64 << 10
	minChunkBytes = 4 << 10
	minChunks     = 4
	// indexEntryBytes is what one key costs in a shard's index: a map
	// slot of two uint64 and its control byte, at the load of a map that
	// has just doubled.
	indexEntryBytes = 40
	// entryHeader is the fixed part of an entry: slot, key and value
	// lengths (4 bytes each), flags (1), version (8+4+8), expiry (8).
	entryHeader = 4 + 4 + 4 + 1 + 8 + 4 + 8 + 8
)

const (
	entryPresent = 1 << iota
	entryTombstone
	// entryRead marks an entry read since its chunk was last recycled:
	// it gets a second turn instead of being evicted.
	entryRead
)

type cacheShard struct {
	mu sync.Mutex
	// Guarded by mu. idx maps a token to the position of its entry;
	// positions count bytes written since the shard was created, so chunk
	// (pos/chunkBytes)%maxChunks at offset pos%chunkBytes. chunks are
	// allocated as the head first reaches them; used[i] is how far chunk
	// i is filled; open reports that the chunk at the head has been
	// entered (allocated, or emptied of its previous turn). live and
	// bytes count the indexed entries and their slots.
	idx    map[uint64]uint64
	chunks [][]byte
	used   []uint64
	head   uint64
	open   bool
	live   int64
	bytes  int64
	_      [32]byte // keep shards on separate cache lines
}

func newRowCache(size int64) *rowCache {
	if size <= 0 {
		return nil
	}
	shardBytes := uint64(max(size/cacheShards, 4*(entryHeader+64)))
	arena := shardBytes / 4 * 3
	n := (arena + maxChunkBytes - 1) / maxChunkBytes
	if n < minChunks {
		n = max(1, min(minChunks, arena/minChunkBytes))
	}
	c := &rowCache{
		chunkBytes: arena / n,
		maxChunks:  n,
		maxLive:    int64(max(1, (shardBytes-arena)/indexEntryBytes)),
	}
	for i := range c.shards {
		c.shards[i].idx = make(map[uint64]uint64)
	}
	return c
}

func (c *rowCache) shard(tok uint64) *cacheShard {
	return &c.shards[tok%cacheShards]
}

// slot returns the bytes of the entry at pos, from its header on.
func (c *rowCache) slot(s *cacheShard, pos uint64) []byte {
	chunk := s.chunks[(pos/c.chunkBytes)%c.maxChunks]
	return chunk[pos%c.chunkBytes:]
}

// find returns the entry of dataKey and its position, or nil.
func (c *rowCache) find(s *cacheShard, tok uint64, dataKey []byte) ([]byte, uint64) {
	pos, ok := s.idx[tok]
	if !ok {
		return nil, 0
	}
	e := c.slot(s, pos)
	if !bytes.Equal(entryKey(e), dataKey) {
		return nil, 0 // another key with the same token
	}
	return e, pos
}

// entrySlot and entryKey read an entry's slot size and its data key.
func entrySlot(e []byte) uint64 { return uint64(binary.LittleEndian.Uint32(e)) }

func entryKey(e []byte) []byte {
	return e[entryHeader : entryHeader+binary.LittleEndian.Uint32(e[4:])]
}

// get returns the cached state of dataKey: whether it is cached at all,
// and if so whether the key exists, its record and its value's length.
// With vals nil the value is not copied (Record.Value is nil); otherwise
// it is appended to *vals and the record's Value is that copy, with cap ==
// len.
func (c *rowCache) get(dataKey []byte, vals *[]byte) (r Record, vlen int, present, cached bool) {
	if c == nil {
		return Record{}, 0, false, false
	}
	tok := dataKeyToken(dataKey)
	s := c.shard(tok)
	s.mu.Lock()
	e, _ := c.find(s, tok, dataKey)
	if e != nil {
		r, vlen, present = decodeEntry(e, vals)
		if e[12]&entryRead == 0 {
			e[12] |= entryRead // only once: a hit need not dirty the line
		}
	}
	s.mu.Unlock()
	if e != nil {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return r, vlen, present, e != nil
}

// decodeEntry decodes an entry. A tombstone keeps its EvictedAt in the
// expiry's place.
func decodeEntry(e []byte, vals *[]byte) (r Record, vlen int, present bool) {
	klen := binary.LittleEndian.Uint32(e[4:])
	vlen = int(binary.LittleEndian.Uint32(e[8:]))
	flags := e[12]
	r.Version.Wall = int64(binary.LittleEndian.Uint64(e[13:]))
	r.Version.Logical = binary.LittleEndian.Uint32(e[21:])
	r.Version.Node = binary.LittleEndian.Uint64(e[25:])
	r.ExpireAt = int64(binary.LittleEndian.Uint64(e[33:]))
	r.Tombstone = flags&entryTombstone != 0
	if r.Tombstone {
		r.EvictedAt, r.ExpireAt = r.ExpireAt, 0
	}
	if vals != nil && vlen > 0 {
		r.Value = e[entryHeader+klen : entryHeader+klen+uint32(vlen)]
		r = copyValue(r, vals)
	}
	return r, vlen, flags&entryPresent != 0
}

// encodeEntry writes the entry into e, whose length is its slot.
func encodeEntry(e, dataKey []byte, r Record, present bool) {
	var flags byte
	if present {
		flags |= entryPresent
	}
	if r.Tombstone {
		flags |= entryTombstone
	}
	binary.LittleEndian.PutUint32(e[0:], uint32(len(e)))
	binary.LittleEndian.PutUint32(e[4:], uint32(len(dataKey)))
	binary.LittleEndian.PutUint32(e[8:], uint32(len(r.Value)))
	e[12] = flags
	binary.LittleEndian.PutUint64(e[13:], uint64(r.Version.Wall))
	binary.LittleEndian.PutUint32(e[21:], r.Version.Logical)
	binary.LittleEndian.PutUint64(e[25:], r.Version.Node)
	exp := r.ExpireAt
	if r.Tombstone {
		exp = r.EvictedAt
	}
	binary.LittleEndian.PutUint64(e[33:], uint64(exp))
	copy(e[entryHeader:], dataKey)
	copy(e[entryHeader+len(dataKey):], r.Value)
}

// put records the committed state of dataKey; the caller holds its stripe.
// Absent keys and tombstones are stored without a value.
func (c *rowCache) put(dataKey []byte, r Record, present bool) {
	if c == nil {
		return
	}
	if !present || r.Tombstone {
		r.Value = nil
	}
	size := uint64(entryHeader + len(dataKey) + len(r.Value))
	if size > c.chunkBytes {
		c.drop(dataKey) // too big to be worth caching
		return
	}
	tok := dataKeyToken(dataKey)
	s := c.shard(tok)
	s.mu.Lock()
	defer s.mu.Unlock()
	if pos, ok := s.idx[tok]; ok {
		e := c.slot(s, pos)
		slot, same := entrySlot(e), bytes.Equal(entryKey(e), dataKey)
		if same && size <= slot {
			encodeEntry(e[:slot], dataKey, r, present)
			e[12] |= entryRead // an update is a use, as a read is
			return
		}
		// Moves to the head (or replaces another key's entry).
		delete(s.idx, tok)
		s.live--
		s.bytes -= int64(slot)
		if !same {
			c.evictions.Add(1)
		}
	}
	for s.live >= c.maxLive {
		c.skip(s)
	}
	pos := c.reserve(s, size)
	encodeEntry(c.slot(s, pos)[:size], dataKey, r, present)
	s.idx[tok] = pos
	s.live++
	s.bytes += int64(size)
}

// reserve returns the position of size free bytes at the head of the
// ring, moving on to the next chunk while the current one has no room.
// That ends within a turn of the ring: recycling a chunk clears the read
// marks of the entries it keeps.
func (c *rowCache) reserve(s *cacheShard, size uint64) uint64 {
	for !s.open || s.head%c.chunkBytes+size > c.chunkBytes {
		c.skip(s)
	}
	pos := s.head
	s.head += size
	s.used[(pos/c.chunkBytes)%c.maxChunks] = s.head - (pos - pos%c.chunkBytes)
	if s.head%c.chunkBytes == 0 {
		s.open = false // full: the next entry enters the next chunk
	}
	return pos
}

// skip moves the head on to the next chunk and opens it: allocated on the
// ring's first turn, else recycled. Besides reserve, put uses it to make
// room in the index.
func (c *rowCache) skip(s *cacheShard) {
	if s.open {
		s.head += c.chunkBytes - s.head%c.chunkBytes
	}
	i := (s.head / c.chunkBytes) % c.maxChunks
	if i == uint64(len(s.chunks)) {
		s.chunks = append(s.chunks, make([]byte, c.chunkBytes))
		s.used = append(s.used, 0)
	} else {
		c.recycle(s, i)
	}
	// Kept entries that fill the chunk leave the head at the next one's
	// start, not open yet.
	s.open = s.head%c.chunkBytes != 0 || s.used[i] == 0
}

// recycle empties chunk i for the head, which is at the chunk's start,
// of its entries from the previous turn: the ones read since the chunk
// was last recycled are kept, moved to the chunk's front with their read
// mark cleared, and the others are evicted. The head ends after the kept
// entries.
func (c *rowCache) recycle(s *cacheShard, i uint64) {
	start := s.head - c.maxChunks*c.chunkBytes // this chunk, one turn ago
	chunk := s.chunks[i]
	var kept, evicted uint64
	for off := uint64(0); off < s.used[i]; {
		e := chunk[off:]
		slot := entrySlot(e)
		tok := dataKeyToken(entryKey(e))
		if pos, ok := s.idx[tok]; ok && pos == start+off {
			if e[12]&entryRead != 0 {
				e[12] &^= entryRead
				copy(chunk[kept:], e[:slot])
				s.idx[tok] = s.head + kept
				kept += slot
			} else {
				delete(s.idx, tok)
				s.live--
				s.bytes -= int64(slot)
				evicted++
			}
		}
		off += slot
	}
	s.used[i] = kept
	s.head += kept
	c.evictions.Add(evicted)
}

// drop forgets dataKey; the caller holds its stripe.
func (c *rowCache) drop(dataKey []byte) {
	if c == nil {
		return
	}
	tok := dataKeyToken(dataKey)
	s := c.shard(tok)
	s.mu.Lock()
	if e, _ := c.find(s, tok, dataKey); e != nil {
		delete(s.idx, tok)
		s.live--
		s.bytes -= int64(entrySlot(e))
	}
	s.mu.Unlock()
}

// clear forgets everything and frees the chunks; the caller holds every
// stripe.
func (c *rowCache) clear() {
	if c == nil {
		return
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.idx = make(map[uint64]uint64)
		s.chunks, s.used = nil, nil
		s.head, s.open, s.live, s.bytes = 0, false, 0, 0
		s.mu.Unlock()
	}
}

// stats returns the entry count and the memory the cache holds: its
// allocated chunks and its index at indexEntryBytes per entry.
func (c *rowCache) stats() (entries, bytes int64) {
	if c == nil {
		return 0, 0
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		entries += s.live
		bytes += int64(len(s.chunks))*int64(c.chunkBytes) + s.live*indexEntryBytes
		s.mu.Unlock()
	}
	return entries, bytes
}
