package replica

import (
	"context"
	"errors"
	"fmt"

	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
)

// Requests that fit in a frame. The transport refuses a payload above
// its peer's frame size, and the peer refuses an answer above it; the
// Batching therefore cuts what it sends into requests that fit,
// and the helpers here do the cutting. A record too large for any
// request (the coordinator refuses such writes, so only a record stored
// before the limit existed, or by a node with larger frames, can be one)
// fails alone, at once, with an error that says so.

// part is a run of items [lo, hi) sent as one request, and its outcome.
// A tooBig part is one item that fits in no request; it is not sent.
type part struct {
	lo, hi int
	tooBig bool
	err    error
}

// applyBytes is what keys and recs add to an apply request.
func applyBytes(keys [][]byte, recs []engine.Record) int {
	n := 0
	for i := range keys {
		n += transport.ApplyItemLen(keys[i], recs[i])
	}
	return n
}

// readBytes is what keys add to a read request.
func readBytes(keys [][]byte) int {
	n := 0
	for _, k := range keys {
		n += transport.ReadKeyLen(k)
	}
	return n
}

// splitBySize cuts n items, in order, into runs whose sizes add up to at
// most limit, each as long as the next item allows. An item larger than
// limit makes a run of its own, marked tooBig. Every run holds at least
// one item; no item is in two runs.
func splitBySize(n, limit int, size func(i int) int) []part {
	var parts []part
	lo, sum := 0, 0
	for i := range n {
		s := size(i)
		if s > limit {
			if i > lo {
				parts = append(parts, part{lo: lo, hi: i})
			}
			parts = append(parts, part{lo: i, hi: i + 1, tooBig: true})
			lo, sum = i+1, 0
			continue
		}
		if sum+s > limit && i > lo {
			parts = append(parts, part{lo: lo, hi: i})
			lo, sum = i, 0
		}
		sum += s
	}
	if lo < n {
		parts = append(parts, part{lo: lo, hi: n})
	}
	return parts
}

// applyParts sends req's records in requests of at most maxApplyBytes
// (each with req's flags), one after another, and returns every part with
// its outcome, and the newer versions the replica reported, by item (nil
// if none). A record too large for any request fails its part unsent.
func (b *Batching) applyParts(ctx context.Context, req ApplyRequest) ([]part, []engine.Version) {
	keys, recs := req.Keys, req.Recs
	parts := splitBySize(len(keys), b.maxApplyBytes, func(i int) int { return transport.ApplyItemLen(keys[i], recs[i]) })
	var newer []engine.Version
	for i := range parts {
		p := &parts[i]
		if p.tooBig {
			p.err = tooBigErr(keys[p.lo], transport.ApplyItemLen(keys[p.lo], recs[p.lo]), b.maxApplyBytes)
			continue
		}
		var nw []engine.Version
		sub := req
		sub.Keys, sub.Recs = keys[p.lo:p.hi], recs[p.lo:p.hi]
		nw, p.err = b.next.Apply(ctx, sub)
		if p.err == nil && nw != nil {
			if len(nw) != p.hi-p.lo {
				p.err = ErrShortReply
				continue
			}
			if newer == nil {
				newer = make([]engine.Version, len(keys))
			}
			copy(newer[p.lo:p.hi], nw)
		}
	}
	return parts, newer
}

// readParts reads keys in requests of at most maxReadBytes of keys. A
// request whose answer the peer could not fit in one frame is asked again
// in halves, down to single keys, so only a key whose record fits in no
// frame fails; refused says that a request of all keys was refused so
// already. It returns the records and found flags of every key and the
// parts that failed (their keys' entries are zero); the answer is Behind
// if any part's was.
func (b *Batching) readParts(ctx context.Context, keys [][]byte, refused bool, epoch uint64) (ReadReply, []part) {
	out := ReadReply{Recs: make([]engine.Record, len(keys)), Found: make([]bool, len(keys))}
	recs, found := out.Recs, out.Found
	var failed []part
	var read func(lo, hi int, err error)
	read = func(lo, hi int, err error) {
		var r ReadReply
		if err == nil {
			r, err = b.readOnce(ctx, keys[lo:hi], epoch)
		}
		if errors.Is(err, transport.ErrFrameTooLarge) && hi-lo > 1 && ctx.Err() == nil {
			mid := lo + (hi-lo)/2
			read(lo, mid, nil)
			read(mid, hi, nil)
			return
		}
		if err != nil {
			failed = append(failed, part{lo: lo, hi: hi, err: err})
			return
		}
		copy(recs[lo:hi], r.Recs)
		copy(found[lo:hi], r.Found)
		out.Behind = out.Behind || r.Behind
	}
	if refused {
		read(0, len(keys), transport.ErrFrameTooLarge)
		return out, failed
	}
	for _, p := range splitBySize(len(keys), b.maxReadBytes, func(i int) int { return transport.ReadKeyLen(keys[i]) }) {
		if p.tooBig {
			failed = append(failed, part{lo: p.lo, hi: p.hi, err: tooBigErr(keys[p.lo], transport.ReadKeyLen(keys[p.lo]), b.maxReadBytes)})
			continue
		}
		read(p.lo, p.hi, nil)
	}
	return out, failed
}

// partsErr returns the first error of the parts that overlap items
// [lo, hi): a caller's call fails if any request carrying its items did.
func partsErr(parts []part, lo, hi int) error {
	for _, p := range parts {
		if p.err != nil && p.lo < hi && lo < p.hi {
			return p.err
		}
	}
	return nil
}

// tooBigErr is the failure of an item of size bytes that no request of at
// most limit bytes can carry. It names the key by its first bytes only:
// the key itself may be what is too large.
func tooBigErr(key []byte, size, limit int) error {
	shown := key[:min(len(key), 32)]
	return fmt.Errorf("%w: key %q (%d bytes): %d bytes in a request of at most %d: %w",
		ErrValueTooLarge, shown, len(key), size, limit, transport.ErrFrameTooLarge)
}
