package server

import (
	"slices"
	"sync"

	"github.com/cespare/xxhash/v2"
)

// stripeCount is the number of key lock stripes; a power of two.
const stripeCount = 4096

// keyLocks makes read-modify-write commands atomic on this node. Blind
// writes (plain SET, MSET) take their stripes shared, so they never wait on
// each other and the store can still group-commit them; read-modify-write
// commands take their stripes exclusively, so no write lands between their
// read and their write. Stripes are always taken in increasing order, which
// rules out deadlock.
type keyLocks struct {
	stripes [stripeCount]sync.RWMutex
}

// keyHash picks a key's stripe: xxhash64 of the key as the client sent
// it. Any well-mixed hash would do, as stripes only spread contention and
// never decide placement (the ring's token, engine.Token, does).
func keyHash(key []byte) uint64 { return xxhash.Sum64(key) }

func stripeOf(h uint64) int { return int(h & (stripeCount - 1)) }

// sortedStripes turns key hashes into the sorted, distinct stripes to lock,
// reusing dst.
func sortedStripes(dst []int, hashes []uint64) []int {
	dst = dst[:0]
	for _, h := range hashes {
		dst = append(dst, stripeOf(h))
	}
	slices.Sort(dst)
	return slices.Compact(dst)
}

// stripesOf returns the sorted, distinct stripes of keys, reusing dst.
func stripesOf(dst []int, keys [][]byte) []int {
	dst = dst[:0]
	for _, k := range keys {
		dst = append(dst, stripeOf(keyHash(k)))
	}
	slices.Sort(dst)
	return slices.Compact(dst)
}

func (l *keyLocks) lock(stripes []int) {
	for _, s := range stripes {
		l.stripes[s].Lock()
	}
}

func (l *keyLocks) unlock(stripes []int) {
	for _, s := range stripes {
		l.stripes[s].Unlock()
	}
}

func (l *keyLocks) rlock(stripes []int) {
	for _, s := range stripes {
		l.stripes[s].RLock()
	}
}

func (l *keyLocks) runlock(stripes []int) {
	for _, s := range stripes {
		l.stripes[s].RUnlock()
	}
}

// lockKey takes one key's stripe exclusively and returns the unlock.
func (l *keyLocks) lockKey(key []byte) *sync.RWMutex {
	m := &l.stripes[stripeOf(keyHash(key))]
	m.Lock()
	return m
}
