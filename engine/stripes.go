package engine

import "sync"

// Per-key serialization. Apply is read-compare-write; two writers of one
// key must not interleave between the read and the commit, or the older
// version could win. A fixed array of mutexes, chosen by the top bits of
// the key's token, serializes writers of a key without a lock table.
//
// Deadlock freedom: whoever holds several stripes took them in ascending
// stripe order. Because the stripe is the token's top bits, processing keys
// sorted by token visits stripes in ascending order for free.
const (
	stripeBits  = 10
	stripeCount = 1 << stripeBits
)

// paddedMutex keeps each stripe on its own cache line so that writers of
// unrelated keys do not contend on the line.
type paddedMutex struct {
	sync.Mutex
	_ [56]byte
}

type stripes [stripeCount]paddedMutex

func stripeOf(tok uint64) int { return int(tok >> (64 - stripeBits)) }

func (s *stripes) lock(tok uint64)   { s[stripeOf(tok)].Lock() }
func (s *stripes) unlock(tok uint64) { s[stripeOf(tok)].Unlock() }

// lockSorted locks the stripes of toks, which must be sorted ascending,
// each stripe once.
func (s *stripes) lockSorted(toks []uint64) {
	last := -1
	for _, t := range toks {
		if i := stripeOf(t); i != last {
			s[i].Lock()
			last = i
		}
	}
}

// unlockSorted undoes lockSorted(toks).
func (s *stripes) unlockSorted(toks []uint64) {
	last := -1
	for _, t := range toks {
		if i := stripeOf(t); i != last {
			s[i].Unlock()
			last = i
		}
	}
}

// lockAll locks every stripe in ascending order (DropAll).
func (s *stripes) lockAll() {
	for i := range s {
		s[i].Lock()
	}
}

func (s *stripes) unlockAll() {
	for i := range s {
		s[i].Unlock()
	}
}
