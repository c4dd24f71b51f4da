package evict

import (
	"slices"

	"github.com/ringcache/ringcache/engine"
)

// PoolSize is how many candidates the pool keeps between samples, as
// Redis's eviction pool (EVPOOL_SIZE).
const PoolSize = 16

// candidate is a key that may be evicted, with its score: the higher, the
// better a victim (idle time, inverted frequency, nearness of expiry).
type candidate struct {
	key   []byte
	score uint64
	// seen is the record as sampled (without its Key): the eviction
	// deletes that version only.
	seen engine.Sampled
}

// pool is Redis's eviction pool: the best PoolSize candidates seen so
// far, in ascending score. Each round of sampling offers a few keys; the
// best of all the rounds goes first, so a small sample per round still
// approximates true LRU/LFU well.
type pool struct {
	c []candidate
}

// offer adds c if the pool has room or c beats its worst entry, and
// replaces an entry of the same key. It copies c.key.
func (p *pool) offer(c candidate) {
	if i := p.index(c); i >= 0 {
		p.c = slices.Delete(p.c, i, i+1)
	}
	if len(p.c) == PoolSize {
		if c.score <= p.c[0].score {
			return
		}
		p.c = slices.Delete(p.c, 0, 1)
	}
	c.key = slices.Clone(c.key)
	i, _ := slices.BinarySearchFunc(p.c, c.score, func(e candidate, s uint64) int {
		switch {
		case e.score < s:
			return -1
		case e.score > s:
			return 1
		}
		return 0
	})
	p.c = slices.Insert(p.c, i, c)
}

// refuses reports that offer would leave the pool as it is for a
// candidate like c whose score is at most c.score: the pool is full, c
// does not beat its worst entry, and c's key is not in it. The evictor
// asks with a bound of the score it can compute without the sketch, and
// looks a key up in the sketch only when the pool may take it.
func (p *pool) refuses(c candidate) bool {
	return len(p.c) == PoolSize && c.score <= p.c[0].score && p.index(c) < 0
}

// index returns the position of c's key in the pool, or -1.
func (p *pool) index(c candidate) int {
	for i := range p.c {
		if p.c[i].seen.Token == c.seen.Token && string(p.c[i].key) == string(c.key) {
			return i
		}
	}
	return -1
}

// best removes and returns the best candidate.
func (p *pool) best() (candidate, bool) {
	if len(p.c) == 0 {
		return candidate{}, false
	}
	c := p.c[len(p.c)-1]
	p.c = p.c[:len(p.c)-1]
	return c, true
}

func (p *pool) reset() { p.c = p.c[:0] }
