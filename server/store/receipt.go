package store

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Receipt learns how many replicas acknowledged each key of the last
// write made with a context that carries it (WithReceipt), as their
// answers arrive, until the write's deadline: WAIT reads it. A store
// with replicas starts it at each write (Start) and reports every
// replica's acknowledgement (Ack), also those that come after the write
// returned. Safe for concurrent use.
type Receipt struct {
	mu       sync.Mutex
	gen      uint64
	acks     []int
	deadline time.Time
	changed  chan struct{}
}

type receiptKey struct{}

// WithReceipt returns ctx carrying r.
func WithReceipt(ctx context.Context, r *Receipt) context.Context {
	return context.WithValue(ctx, receiptKey{}, r)
}

// ReceiptFrom returns the receipt ctx carries, or nil.
func ReceiptFrom(ctx context.Context) *Receipt {
	r, _ := ctx.Value(receiptKey{}).(*Receipt)
	return r
}

// Start begins the receipt of a write of n keys whose replicas may answer
// until deadline, and returns its generation, for Ack.
func (r *Receipt) Start(n int, deadline time.Time) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	r.acks = slices.Grow(r.acks[:0], n)[:n]
	clear(r.acks)
	r.deadline = deadline
	r.notify()
	return r.gen
}

// Ack records that one replica acknowledged the keys idx (positions in
// the write) of generation gen; acknowledgements of an earlier write are
// ignored.
func (r *Receipt) Ack(gen uint64, idx []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if gen != r.gen {
		return
	}
	for _, i := range idx {
		if i >= 0 && i < len(r.acks) {
			r.acks[i]++
		}
	}
	r.notify()
}

func (r *Receipt) notify() {
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// State returns the acknowledgements of the key of the last write that
// has the fewest, the time after which no more can come, a channel
// closed at the next change, and whether any write was tracked.
func (r *Receipt) State() (acks int, deadline time.Time, changed <-chan struct{}, tracked bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen == 0 {
		return 0, time.Time{}, nil, false
	}
	acks = -1
	for _, a := range r.acks {
		if acks < 0 || a < acks {
			acks = a
		}
	}
	if r.changed == nil {
		r.changed = make(chan struct{})
	}
	return max(acks, 0), r.deadline, r.changed, true
}

type rmwKey struct{}

// WithReadModifyWrite returns ctx marking the writes made with it as
// those of a read-modify-write (INCR, SET NX, a script...): each wrote a
// value built on what it read. A store that finds a newer version of the
// key than the one it stamped must then not stamp the write again above
// it, as it may for a blind write: that would drop the newer write. It
// refuses the command instead.
func WithReadModifyWrite(ctx context.Context) context.Context {
	return context.WithValue(ctx, rmwKey{}, true)
}

// IsReadModifyWrite reports whether ctx marks a read-modify-write.
func IsReadModifyWrite(ctx context.Context) bool {
	v, _ := ctx.Value(rmwKey{}).(bool)
	return v
}
