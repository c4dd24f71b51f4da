package engine

import (
	"fmt"
	"slices"
	"testing"
)

// TestScanPagesCoverTheSpan pages through spans with limits from 1 up:
// the pages together return every record of the span once, in token
// order; a page that stops early stops at a step boundary, past every
// record it returned and before every one it did not.
func TestScanPagesCoverTheSpan(t *testing.T) {
	e := openMem(t)
	var toks []uint64
	for i := range 500 {
		k := fmt.Sprintf("k%d", i)
		mustApply(t, e, k, val(ver(1, 0, 0), k))
		toks = append(toks, Token([]byte(k)))
	}
	slices.Sort(toks)
	spans := []Span{{0, 0}, {toks[100], toks[400]}, {toks[250], 0}, {toks[7], toks[7] + 1}}
	for _, sp := range spans {
		var want []uint64
		e.Scan(sp.Start, sp.End, func(k []byte, _ Record) error { want = append(want, Token(k)); return nil })
		if sp.End == 0 && sp.Start > 0 {
			want = slices.DeleteFunc(want, func(tok uint64) bool { return tok < sp.Start })
		}
		for _, limit := range []int{0, 1, 2, 7, 100, 1000} {
			var got []uint64
			pos, pages := sp.Start, 0
			for {
				var page []uint64
				next, more, err := e.ScanPage(Span{pos, sp.End}, limit, func(k []byte, r Record) error {
					page = append(page, Token(k))
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if more {
					if next%(1<<PageBits) != 0 || len(page) < max(limit, 1) || page[len(page)-1] >= next || (sp.End != 0 && next >= sp.End) {
						t.Fatalf("span %v limit %d: page of %d stops at %d (last token %d)", sp, limit, len(page), next, page[len(page)-1])
					}
				} else if next != sp.End {
					t.Fatalf("span %v: the last page ends at %d", sp, next)
				}
				got = append(got, page...)
				if !more {
					break
				}
				pos = next
			}
			if !slices.Equal(got, want) {
				t.Fatalf("span %v limit %d: %d pages returned %d records, want %d", sp, limit, pages, len(got), len(want))
			}
		}
	}
}
