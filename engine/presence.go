package engine

import (
	"errors"
	"hash/maphash"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
)

// The presence filter answers "is this key certainly not stored?" without
// asking Pebble. A write reads the stored record before it commits (last
// write wins), and in a store much larger than the row cache a new key's
// read is Pebble's most expensive one: every level is searched, filter
// block by filter block, to find nothing. A cache that fills with new keys
// pays it on every write.
//
// Invariant: every data key stored in Pebble, tombstones included, is in
// the current filter. Only then may a "no" skip the read; a key missing
// from the filter would let an older version overwrite a newer one. So:
//
//   - A writer adds the keys it wrote after its batch committed and before
//     it releases their stripes: the next writer of the key, which takes
//     the stripe, sees the key in the filter.
//   - A filter is built by scanning the data keyspace. The builder first
//     publishes the new filter as building, then opens its iterator;
//     writers add to building as well as to the current filter, loading
//     building first. A key committed before the iterator opened is in the
//     scan; one committed after it is added by its writer, which loads
//     building after its commit, so after the builder published it (or,
//     once the build is over, loads the new current filter). Then the
//     built filter becomes current.
//   - Until the first build (after Open) there is no current filter and
//     every read goes to Pebble.
//
// Keys leave the store (purges, evictions, FLUSHALL) without leaving the
// filter: that only costs a read that finds nothing. When more keys were
// added than the filter was sized for, it is rebuilt from the store.
//
// The filter is a split block Bloom filter: a key sets one bit in each of
// the eight 64-bit words of one 64-byte block, so a check or an add
// touches one cache line. Bits are set with atomic OR and read with
// atomic loads, so writers of different stripes and readers share it
// without a lock.
type presence struct {
	seed     maphash.Seed
	cur      atomic.Pointer[keyFilter] // nil until the first build
	building atomic.Pointer[keyFilter]
	// base is how many records the current filter's scan found, and added
	// how many new keys writers stored since: their sum is the estimate
	// that triggers a rebuild when it passes the filter's capacity.
	base, added atomic.Int64
	kick        chan struct{}
	skips       atomic.Uint64 // reads a "no" answered
	builds      atomic.Uint64
}

// presenceBitsPerKey sizes a filter: 12 bits per key of its capacity, a
// false positive rate under 1% when full (TestKeyFilter measures 0.43%).
const presenceBitsPerKey = 12

// presenceMinKeys is the least capacity of a filter (1.5 MiB). A variable
// so that tests can make filters small enough to rebuild often.
var presenceMinKeys int64 = 1 << 20

func newPresence() *presence {
	return &presence{seed: maphash.MakeSeed(), kick: make(chan struct{}, 1)}
}

func (p *presence) hash(userKey []byte) uint64 { return maphash.Bytes(p.seed, userKey) }

// absent reports whether userKey is certainly not stored. A nil presence
// (the filter is off) knows nothing.
func (p *presence) absent(userKey []byte) bool {
	if p == nil {
		return false
	}
	f := p.cur.Load()
	if f == nil || f.mayContain(p.hash(userKey)) {
		return false
	}
	p.skips.Add(1)
	return true
}

// add records a key just committed; see the invariant above for when it
// must be called.
func (p *presence) add(userKey []byte) {
	if p == nil {
		return
	}
	h := p.hash(userKey)
	b := p.building.Load() // before cur: see the invariant
	if f := p.cur.Load(); f != nil {
		f.add(h)
	}
	if b != nil {
		b.add(h)
	}
}

// grew counts fresh keys stored and asks for a rebuild once the estimate
// passes the current filter's capacity.
func (p *presence) grew(fresh int64) {
	if p == nil || fresh == 0 {
		return
	}
	n := p.added.Add(fresh)
	if f := p.cur.Load(); f != nil && p.base.Load()+n > f.keys {
		p.request()
	}
}

// request asks presenceLoop for a build; a nil presence ignores it.
func (p *presence) request() {
	if p == nil {
		return
	}
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// presenceLoop builds the filter after Open and again whenever a writer
// asks. It is owned by the engine (e.bg) and ends with it.
func (e *Engine) presenceLoop() {
	defer e.bg.Done()
	p := e.presence
	for {
		select {
		case <-e.stop:
			return
		case <-p.kick:
		}
		if err := e.buildPresence(); err != nil && !errors.Is(err, errStopped) {
			e.cfg.Logger.Warn("engine: building the presence filter failed; reads of new keys go to the store", "err", err)
		}
	}
}

// errStopped ends a build that the engine's Close interrupted.
var errStopped = errors.New("engine: presence filter build stopped")

// buildPresence scans the data keyspace into a new filter sized for twice
// the estimated records and makes it current.
func (e *Engine) buildPresence() error {
	p := e.presence
	est := p.base.Load() + p.added.Load()
	f := newKeyFilter(max(2*est, presenceMinKeys))
	p.building.Store(f)
	defer p.building.Store(nil)
	p.added.Store(0) // keys from here on are counted again, or scanned
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: dataStart, UpperBound: dataEnd})
	if err != nil {
		return err
	}
	var n int64
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n%4096 == 0 {
			select {
			case <-e.stop:
				_ = it.Close()
				return errStopped
			default:
			}
		}
		if k := it.Key(); len(k) >= dataKeyHeader {
			f.add(p.hash(UserKey(k)))
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	p.base.Store(n)
	p.cur.Store(f) // before building is cleared (deferred): see the invariant
	p.builds.Add(1)
	if n+p.added.Load() > f.keys {
		p.request()
	}
	return nil
}

// keyFilter is a split block Bloom filter sized for keys keys.
type keyFilter struct {
	blocks []filterBlock
	keys   int64
}

type filterBlock [8]atomic.Uint64

// filterSalts spread a key's 32-bit hash to one bit in each word of its
// block (the constants of the split block Bloom filter of Apache Parquet).
var filterSalts = [8]uint32{0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d, 0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31}

func newKeyFilter(keys int64) *keyFilter {
	n := max((keys*presenceBitsPerKey+511)/512, 1)
	return &keyFilter{blocks: make([]filterBlock, n), keys: keys}
}

// block picks the block of h from its high 32 bits (multiply-shift
// instead of a modulo); the low 32 pick the bits.
func (f *keyFilter) block(h uint64) *filterBlock {
	return &f.blocks[(h>>32)*uint64(len(f.blocks))>>32]
}

func (f *keyFilter) add(h uint64) {
	b := f.block(h)
	for i, s := range filterSalts {
		bit := uint64(1) << ((uint32(h) * s) >> 26)
		if b[i].Load()&bit == 0 {
			b[i].Or(bit)
		}
	}
}

func (f *keyFilter) mayContain(h uint64) bool {
	b := f.block(h)
	for i, s := range filterSalts {
		if b[i].Load()&(uint64(1)<<((uint32(h)*s)>>26)) == 0 {
			return false
		}
	}
	return true
}

// bytes is the filter's memory.
func (f *keyFilter) bytes() int64 { return int64(len(f.blocks)) * 64 }
