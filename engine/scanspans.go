package engine

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
)

// Span is a token range [Start, End) of ScanSpans; End 0 is the top of
// the ring. A span with Start >= End (End not 0) is empty: spans do not
// wrap.
type Span struct {
	Start, End uint64
}

// ScanSpans calls fn for every stored record (tombstones and expired
// records included) in each span, span by span in the given order, with
// the span's index; key and r.Value alias iterator memory and are valid
// only during the call. An error from fn stops the scan and is returned.
//
// All spans are read through one Pebble iterator, one consistent view.
// That is what makes many small scans cheap: Pebble keeps a record in one
// block however large, and a fresh iterator reads and decompresses the
// block its first seek lands in, so a record of tens of megabytes cost
// every separate Scan near it a third of a second (anti-entropy hashes
// hundreds of partial leaves a round). With spans in ascending order every
// seek goes forward and the block read for one span serves the next.
func (e *Engine) ScanSpans(spans []Span, fn func(i int, key []byte, r Record) error) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: dataStart, UpperBound: dataEnd})
	if err != nil {
		return fmt.Errorf("engine: scan: %w", err)
	}
	for i, sp := range spans {
		if sp.End != 0 && sp.Start >= sp.End {
			continue
		}
		stop := tokenBound(sp.End)
		for ok := it.SeekGE(tokenBound(sp.Start)); ok; ok = it.Next() {
			if sp.End != 0 && bytes.Compare(it.Key(), stop) >= 0 {
				break
			}
			r, err := DecodeRecord(it.Value())
			if err != nil {
				err = fmt.Errorf("engine: scan key %q: %w", UserKey(it.Key()), err)
				return errors.Join(err, it.Close())
			}
			if err := fn(i, UserKey(it.Key()), r); err != nil {
				return errors.Join(err, it.Close())
			}
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("engine: scan: %w", err)
	}
	return nil
}
