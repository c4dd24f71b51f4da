package engine

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
)

// PageBits sets the steps pages of ScanPage end on: a page that stops
// before its span's end stops at a multiple of 1<<PageBits tokens, so the
// position after it fits in 64-PageBits bits. SCAN's cursor is that
// position divided by 1<<PageBits: a number below 2^53, which clients
// that keep cursors as floating-point numbers (JavaScript) keep exactly.
const PageBits = 11

// ScanPage calls fn for the stored records of span sp (tombstones and
// expired records included), in token order: the first limit of them
// (at least one), then the rest of the last one's step of 1<<PageBits
// tokens, so that a page never ends between two records of one step. It
// returns where the next page starts; more is false once sp is exhausted,
// and next is then sp.End. key and r.Value alias iterator memory and are
// valid only during the call; an error from fn stops the scan and is
// returned. Like ScanSpans, it reads one consistent view and holds no
// stripe.
func (e *Engine) ScanPage(sp Span, limit int, fn func(key []byte, r Record) error) (next uint64, more bool, err error) {
	if sp.End != 0 && sp.Start >= sp.End {
		return sp.End, false, nil
	}
	if err := e.enter(); err != nil {
		return 0, false, err
	}
	defer e.leave()
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: tokenBound(sp.Start), UpperBound: dataEnd})
	if err != nil {
		return 0, false, fmt.Errorf("engine: scan: %w", err)
	}
	stop := tokenBound(sp.End)
	n := 0
	var step uint64
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if sp.End != 0 && bytes.Compare(k, stop) >= 0 {
			break
		}
		if len(k) < dataKeyHeader {
			continue
		}
		s := dataKeyToken(k) >> PageBits
		if n >= max(limit, 1) && s != step {
			return s << PageBits, true, it.Close()
		}
		r, err := DecodeRecord(it.Value())
		if err != nil {
			err = fmt.Errorf("engine: scan key %q: %w", UserKey(k), err)
			return 0, false, errors.Join(err, it.Close())
		}
		if err := fn(UserKey(k), r); err != nil {
			return 0, false, errors.Join(err, it.Close())
		}
		n++
		step = s
	}
	if err := it.Close(); err != nil {
		return 0, false, fmt.Errorf("engine: scan: %w", err)
	}
	return sp.End, false, nil
}
