package evict

import (
	"math"
	"math/rand/v2"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// Sketch keeps the access signal of eviction for every key at once, in a
// fixed table and without a write to storage per read. Each key hashes
// to two slots of 64 bits; a slot holds the last access time (seconds,
// 32 bits), and Redis's logarithmic frequency counter (8 bits) with the
// minute it was last decayed (16 bits). An access updates both slots of
// its key; a key's figures are read from both and the less recent, less
// frequent one taken, as in a count-min sketch: a slot shared with a
// hotter key can make a key look hotter than it is, never colder.
//
// The write time of a record comes from its version, so the sketch only
// needs the reads: a key never read since it was written is as idle as
// its version says, and counts LFUInit, decayed from its write.
//
// A bitmap beside the table has a bit per slot, set before the slot is
// first written. Most keys a batch of eviction looks at were never read,
// and one of their slots at least is empty: the bitmap, 64 times smaller
// than the table, stays in the CPU's caches and says so without a load
// from the table, which misses them.
type Sketch struct {
	slots []atomic.Uint64
	used  []atomic.Uint64 // a bit per slot: set once the slot may be non-zero
	mask  uint64
	// LogFactor and DecayMinutes are Redis's lfu-log-factor and
	// lfu-decay-time.
	logFactor, decayMinutes atomic.Int64
}

// LFUInit is the frequency counter of a new key, as in Redis: new keys
// are not the first to go.
const LFUInit = 5

// NewSketch returns a sketch of at least slots slots (a power of two).
func NewSketch(slots int) *Sketch {
	n := 1
	for n < slots {
		n <<= 1
	}
	s := &Sketch{slots: make([]atomic.Uint64, n), used: make([]atomic.Uint64, (n+63)/64), mask: uint64(n - 1)}
	s.logFactor.Store(10)
	s.decayMinutes.Store(1)
	return s
}

// SetLFU sets lfu-log-factor and lfu-decay-time.
func (s *Sketch) SetLFU(logFactor, decayMinutes int64) {
	s.logFactor.Store(max(logFactor, 0))
	s.decayMinutes.Store(max(decayMinutes, 0))
}

func slotPair(key []byte) (uint64, uint64) {
	h := xxhash.Sum64(key)
	return h, h>>32 | h<<32
}

func unpack(v uint64) (sec uint32, minute uint16, counter uint8) {
	return uint32(v >> 32), uint16(v >> 8), uint8(v)
}

func pack(sec uint32, minute uint16, counter uint8) uint64 {
	return uint64(sec)<<32 | uint64(minute)<<8 | uint64(counter)
}

// Touch records an access to key at nowMs.
func (s *Sketch) Touch(key []byte, nowMs int64) {
	a, b := slotPair(key)
	s.touch(a&s.mask, nowMs)
	s.touch(b&s.mask, nowMs)
}

// usedBit returns slot i's word and bit in the bitmap.
func (s *Sketch) usedBit(i uint64) (*atomic.Uint64, uint64) {
	return &s.used[i/64], uint64(1) << (i % 64)
}

// maybeUsed reports whether slot i may hold something other than zero.
func (s *Sketch) maybeUsed(i uint64) bool {
	w, bit := s.usedBit(i)
	return w.Load()&bit != 0
}

// touch records an access in slot i. A slot that is still empty gets its
// bit in the bitmap first, before it is written: a reader that finds the
// bit clear may take the slot for empty. A non-empty slot has its bit set
// already (a Restore to zero leaves the bit), so a read of a key that was
// read before does not touch the bitmap.
func (s *Sketch) touch(i uint64, nowMs int64) {
	slot := &s.slots[i]
	sec, min := uint32(nowMs/1000), uint16(nowMs/60000)
	for {
		old := slot.Load()
		osec, omin, c := unpack(old)
		if old == 0 {
			if w, bit := s.usedBit(i); w.Load()&bit == 0 {
				w.Or(bit)
			}
			c = LFUInit // a slot no key used yet: its first key is new
		} else {
			c = s.decayed(omin, c, min)
		}
		c = logIncr(c, s.logFactor.Load())
		nsec := max(osec, sec)
		nv := pack(nsec, min, c)
		if nv == old || slot.CompareAndSwap(old, nv) {
			return
		}
	}
}

// logIncr is Redis's LFULogIncr: the counter grows with probability
// 1/((c-LFUInit)*factor+1), so it counts logarithmically up to 255.
func logIncr(c uint8, factor int64) uint8 {
	if c == 255 {
		return c
	}
	base := max(int64(c)-LFUInit, 0)
	if rand.Float64() < 1/float64(base*factor+1) {
		c++
	}
	return c
}

// decayed is counter c last decayed at minute then, decayed to minute
// now: one less per DecayMinutes elapsed (Redis's LFUDecrAndReturn).
func (s *Sketch) decayed(then uint16, c uint8, now uint16) uint8 {
	d := s.decayMinutes.Load()
	if d <= 0 {
		return c
	}
	elapsed := int64(now - then) // wraps like Redis's 16-bit minutes
	periods := elapsed / d
	if periods >= int64(c) {
		return 0
	}
	return c - uint8(periods)
}

// LastRead returns the last time key was read, Unix milliseconds (0:
// never, as far as the sketch knows). Reads are kept by the second; a
// read is taken to be at the end of its second, so that a key read in the
// second another was written in counts as the more recent.
func (s *Sketch) LastRead(key []byte) int64 {
	return s.Peek(key, 0).LastRead
}

// Access is what the sketch knows of a key's reads at a moment.
type Access struct {
	// LastRead is the last read, Unix milliseconds (0: none known).
	LastRead int64
	// Counter is the frequency counter as of that moment.
	Counter uint8
}

// Peek returns key's reads as of nowMs (the counter decayed to then),
// without counting an access: OBJECT FREQ and IDLETIME look first, then
// read the key.
func (s *Sketch) Peek(key []byte, nowMs int64) Access {
	a, b := slotPair(key)
	a, b = a&s.mask, b&s.mask
	if !s.maybeUsed(a) || !s.maybeUsed(b) {
		return Access{} // what combine makes of a pair with an empty slot
	}
	return s.combine([2]uint64{s.slots[a].Load(), s.slots[b].Load()}, nowMs)
}

// combine returns a key's reads as of nowMs from its two slots' values:
// the less recent and less frequent of the two. An empty slot (0) counts
// as no read and a zero counter.
func (s *Sketch) combine(vals [2]uint64, nowMs int64) Access {
	now := uint16(nowMs / 60000)
	acc := Access{Counter: 255}
	sec := uint32(math.MaxUint32)
	for _, v := range vals {
		vs, m, c := unpack(v)
		if v == 0 {
			vs, c, m = 0, 0, now
		}
		sec = min(sec, vs)
		acc.Counter = min(acc.Counter, s.decayed(m, c, now))
	}
	if sec > 0 {
		acc.LastRead = int64(sec)*1000 + 999
	}
	return acc
}

// Slots returns the raw state of key's two slots, for Restore.
func (s *Sketch) Slots(key []byte) [2]uint64 {
	a, b := slotPair(key)
	return [2]uint64{s.slots[a&s.mask].Load(), s.slots[b&s.mask].Load()}
}

// Restore puts key's slots back to what Slots returned, undoing the
// accesses since: an inspection (OBJECT) that had to read the key does
// not count as a use of it. Another key's access to a shared slot in that
// instant is undone too, an error within the sketch's own.
func (s *Sketch) Restore(key []byte, was [2]uint64) {
	a, b := slotPair(key)
	for i, j := range [2]uint64{a & s.mask, b & s.mask} {
		if cur := s.slots[j].Load(); cur != was[i] {
			s.slots[j].CompareAndSwap(cur, was[i])
		}
	}
}

// Freq returns key's logarithmic access frequency (0-255) at nowMs, as
// OBJECT FREQ shows it. writtenMs is when its record was written: a key
// not read since counts LFUInit less the decay since then.
func (s *Sketch) Freq(key []byte, writtenMs, nowMs int64) uint8 {
	return s.FreqOf(s.Peek(key, nowMs), writtenMs, nowMs)
}

// FreqOf is Freq from a Peek taken at nowMs.
func (s *Sketch) FreqOf(a Access, writtenMs, nowMs int64) uint8 {
	f := a.Counter
	if writtenMs > 0 {
		// A write stamped after now (a clock ahead) is a write just now.
		f = max(f, s.decayed(uint16(min(writtenMs, nowMs)/60000), LFUInit, uint16(nowMs/60000)))
	}
	return f
}

// Idle returns how long key has not been used at nowMs: since the later
// of its last read and writtenMs, the write of its record.
func (s *Sketch) Idle(key []byte, writtenMs, nowMs int64) int64 {
	return s.Peek(key, nowMs).Idle(writtenMs, nowMs)
}

// Idle is Sketch.Idle from a Peek.
func (a Access) Idle(writtenMs, nowMs int64) int64 {
	return max(nowMs-max(a.LastRead, writtenMs), 0)
}
