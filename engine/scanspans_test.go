package engine

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// ScanSpans visits, span by span, exactly what one Scan per span visits.
func TestScanSpansMatchesScan(t *testing.T) {
	e := openMem(t)
	var toks []uint64
	for i := range 300 {
		k := fmt.Sprintf("k%d", i)
		mustApply(t, e, k, val(ver(1, 0, 0), k))
		toks = append(toks, Token([]byte(k)))
	}
	slices.Sort(toks)
	rng := rand.New(rand.NewPCG(3, 4))
	pick := func() uint64 {
		switch rng.IntN(4) {
		case 0:
			return toks[rng.IntN(len(toks))]
		case 1:
			return 0
		case 2:
			return math.MaxUint64
		}
		return rng.Uint64()
	}
	for range 200 {
		spans := make([]Span, rng.IntN(8))
		for i := range spans {
			spans[i] = Span{Start: pick(), End: pick()}
		}
		if rng.IntN(2) == 0 {
			slices.SortFunc(spans, func(a, b Span) int { return cmp.Compare(a.Start, b.Start) })
		}
		var got, want [][]uint64
		got, want = make([][]uint64, len(spans)), make([][]uint64, len(spans))
		last := -1
		err := e.ScanSpans(spans, func(i int, k []byte, r Record) error {
			if i < last {
				t.Fatalf("span %d visited after span %d", i, last)
			}
			last = i
			if string(r.Value) != string(k) {
				t.Fatalf("key %q has value %q", k, r.Value)
			}
			got[i] = append(got[i], Token(k))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, sp := range spans {
			if sp.End != 0 && sp.Start >= sp.End {
				continue // empty: spans do not wrap
			}
			_ = e.Scan(sp.Start, sp.End, func(k []byte, _ Record) error {
				want[i] = append(want[i], Token(k))
				return nil
			})
			if !slices.Equal(got[i], want[i]) {
				t.Fatalf("span %+v: %d tokens, Scan finds %d", sp, len(got[i]), len(want[i]))
			}
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := e.ScanSpans([]Span{{0, 0}, {0, 0}}, func(int, []byte, Record) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("ScanSpans did not stop on callback error: %v after %d", err, n)
	}
	if err := e.ScanSpans(nil, nil); err != nil {
		t.Fatalf("no spans: %v", err)
	}
}
