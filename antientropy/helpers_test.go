package antientropy

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/ringcache/ringcache/engine"
)

// bucketSize is the number of tokens in one digest bucket.
const bucketSize = uint64(1) << bucketShift

// keyPool is a fixed set of keys indexed by digest bucket, so that tests
// can put records into chosen buckets (real tokens are xxhash64 of the
// key and cannot be picked).
type keyPool struct {
	keys     [][]byte
	byBucket [Buckets][]int32 // key ids per bucket, ascending by token
}

const poolSize = 1 << 19 // about 8 keys per bucket

var (
	poolOnce sync.Once
	pool     *keyPool
)

func testPool() *keyPool {
	poolOnce.Do(func() {
		p := &keyPool{keys: make([][]byte, poolSize)}
		for i := range p.keys {
			p.keys[i] = strconv.AppendInt([]byte("k"), int64(i), 10)
			b := BucketOf(engine.Token(p.keys[i]))
			p.byBucket[b] = append(p.byBucket[b], int32(i))
		}
		for b := range p.byBucket {
			slices.SortFunc(p.byBucket[b], func(x, y int32) int {
				return CompareKeys(p.keys[x], p.keys[y])
			})
		}
		pool = p
	})
	return pool
}

// rangeKinds names the shapes randRange draws, each one an edge the leaf
// arithmetic must get right.
var rangeKinds = []string{
	"random", "wrapping", "aligned", "aligned-start", "whole", "whole-aligned",
	"tiny", "tiny-keys", "near-whole", "one-token", "top-edge", "bottom-edge",
}

// randRange draws a range of the given kind.
func randRange(rng *rand.Rand, kind string) Range {
	alignedEnd := func() uint64 { return rng.Uint64() | bucketMask } // last token of a bucket
	switch kind {
	case "random":
		return Range{Start: rng.Uint64(), End: rng.Uint64()}
	case "wrapping":
		s := rng.Uint64() | 1<<63
		return Range{Start: s, End: rng.Uint64() >> 1}
	case "aligned":
		return Range{Start: alignedEnd(), End: alignedEnd()}
	case "aligned-start":
		return Range{Start: alignedEnd(), End: rng.Uint64()}
	case "whole":
		s := rng.Uint64()
		return Range{Start: s, End: s}
	case "whole-aligned":
		s := alignedEnd()
		return Range{Start: s, End: s}
	case "tiny":
		s := rng.Uint64()
		return Range{Start: s, End: s + 1 + rng.Uint64N(bucketSize/4)}
	case "tiny-keys":
		return tinyKeyRange(rng)
	case "near-whole":
		s := rng.Uint64()
		return Range{Start: s, End: s - 1 - rng.Uint64N(bucketSize/4)}
	case "one-token":
		s := rng.Uint64()
		return Range{Start: s, End: s + 1}
	case "top-edge":
		return Range{Start: rng.Uint64(), End: math.MaxUint64}
	case "bottom-edge":
		return Range{Start: math.MaxUint64, End: rng.Uint64()}
	}
	panic("unknown range kind " + kind)
}

// tinyKeyRange is a range inside one bucket that holds a few pool keys
// and leaves out the bucket's other keys.
func tinyKeyRange(rng *rand.Rand) Range {
	p := testPool()
	for {
		ids := p.byBucket[rng.IntN(Buckets)]
		if len(ids) < 3 {
			continue
		}
		i := rng.IntN(len(ids) - 1)
		j := i + 1 + rng.IntN(len(ids)-1-i)
		lo, hi := engine.Token(p.keys[ids[i]]), engine.Token(p.keys[ids[j]])
		if lo == hi || lo&bucketMask == 0 {
			continue
		}
		return Range{Start: lo - 1, End: hi}
	}
}

// rec is one stored record of a simulated replica.
type rec struct {
	v    engine.Version
	tomb bool
}

// replica is a simulated replica's records, by key.
type replica map[string]rec

// testHash is the tests' own element hash: it covers the key and the
// version, like the engine's, with an unrelated layout.
func testHash(key string, r rec) uint64 {
	b := []byte(key)
	b = binary.LittleEndian.AppendUint64(b, uint64(r.v.Wall))
	b = binary.LittleEndian.AppendUint32(b, r.v.Logical)
	b = binary.LittleEndian.AppendUint64(b, r.v.Node)
	if r.tomb {
		b = append(b, 't')
	}
	return xxhash.Sum64(b)
}

// leafHashesByBuckets computes r's leaf hashes the way a node does: the
// digest of the bucket for a full leaf, a scan of exactly [Lo, Hi] for a
// partial one. The replica holds records outside r too, as a real node
// does, so partial leaves must leave them out.
func leafHashesByBuckets(leaves []Leaf, rep replica) []uint64 {
	var buckets [Buckets]uint64
	for k, x := range rep {
		buckets[BucketOf(engine.Token([]byte(k)))] ^= testHash(k, x)
	}
	out := make([]uint64, len(leaves))
	for i, l := range leaves {
		if !l.Partial {
			out[i] = buckets[l.Bucket]
			continue
		}
		for k, x := range rep {
			if t := engine.Token([]byte(k)); l.Lo <= t && t <= l.Hi {
				out[i] ^= testHash(k, x)
			}
		}
	}
	return out
}

// leafHashesByLeafOf computes the same hashes by placing each record with
// LeafOf: an independent path to the same answer. n is the number of
// leaves.
func leafHashesByLeafOf(t *testing.T, r Range, n int, rep replica) []uint64 {
	out := make([]uint64, n)
	for k, x := range rep {
		tok := engine.Token([]byte(k))
		i := LeafOf(r, tok)
		if i < 0 {
			if r.Contains(tok) {
				t.Fatalf("LeafOf(%v, %#x) = -1 for a token in the range", r, tok)
			}
			continue
		}
		out[i] ^= testHash(k, x)
	}
	return out
}

// entriesOf returns rep's entries for the given leaves of r, in leaf
// order then scan order, as a replica answers an EntriesRequest.
func entriesOf(r Range, rep replica, leaves []int) []Entry {
	var out []Entry
	for _, i := range leaves {
		l, _ := LeafAt(r, i)
		start := len(out)
		for k, x := range rep {
			if t := engine.Token([]byte(k)); l.Lo <= t && t <= l.Hi {
				out = append(out, Entry{Key: []byte(k), Version: x.v, Tombstone: x.tomb})
			}
		}
		slices.SortFunc(out[start:], func(a, b Entry) int { return CompareKeys(a.Key, b.Key) })
	}
	return out
}

// remoteOf answers Diff's questions from tree t, checking that Diff asks
// one level at a time, top-down, with ascending indices.
func remoteOf(tb testing.TB, t *Tree) func(int, []int) ([]uint64, error) {
	next := 1
	return func(level int, idx []int) ([]uint64, error) {
		if level != next {
			tb.Fatalf("Diff asked level %d, want %d", level, next)
		}
		next++
		if !slices.IsSorted(idx) {
			tb.Fatalf("Diff asked unsorted indices %v", idx)
		}
		return t.Hashes(level, idx)
	}
}

func ver(wall int64, logical uint32, node uint64) engine.Version {
	return engine.Version{Wall: wall, Logical: logical, Node: node}
}
