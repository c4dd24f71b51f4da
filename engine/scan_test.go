package engine

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
)

func TestScanTokenRanges(t *testing.T) {
	e := openMem(t)
	var toks []uint64
	for i := range 300 {
		k := fmt.Sprintf("k%d", i)
		mustApply(t, e, k, val(ver(1, 0, 0), k))
		toks = append(toks, Token([]byte(k)))
	}
	slices.Sort(toks)
	mid := toks[150]
	tests := []struct {
		name       string
		start, end uint64
		want       []uint64 // tokens in the expected order
	}{
		{"all", 0, 0, toks},
		{"lower half", 0, mid, toks[:150]},
		{"upper half", mid, 0, toks[150:]},
		{"inner", toks[10], toks[20], toks[10:20]},
		{"wrap", toks[290], toks[5], append(slices.Clone(toks[290:]), toks[:5]...)},
		{"whole ring from mid", mid, mid, append(slices.Clone(toks[150:]), toks[:150]...)},
		{"empty", toks[10], toks[10] + 1, toks[10:11]},
		{"max end", toks[299], math.MaxUint64, toks[299:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []uint64
			err := e.Scan(tt.start, tt.end, func(k []byte, r Record) error {
				if string(r.Value) != string(k) {
					t.Fatalf("key %q has value %q", k, r.Value)
				}
				got = append(got, Token(k))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %d tokens, want %d (order or content differs)", len(got), len(tt.want))
			}
		})
	}
	stop := errors.New("stop")
	n := 0
	if err := e.Scan(0, 0, func([]byte, Record) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("Scan did not stop on callback error: %v after %d", err, n)
	}
}

func TestDropAll(t *testing.T) {
	const t0 = 1_700_000_000_000
	e := openMem(t, noReclaim)
	for i := range 100 {
		r := val(ver(t0, 0, 0), "v")
		switch i % 3 {
		case 0:
			r.ExpireAt = t0 + 1000
		case 1:
			r = Record{Version: ver(t0, 0, 0), Tombstone: true}
		}
		mustApply(t, e, fmt.Sprint(i), r)
	}
	if n := indexEntries(t, e, purgeStart, purgeEnd, kindPurge); n != 33 {
		t.Fatalf("%d purge entries for 33 tombstones", n)
	}
	if err := e.DropAll(); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.Count(t0); c != 0 {
		t.Fatalf("Count = %d", c)
	}
	if got := dump(t, e); len(got) != 0 {
		t.Fatalf("%d records left", len(got))
	}
	assertIndexEmpty(t, e)
	// The store keeps working, and old versions apply again.
	if !mustApply(t, e, "1", val(ver(t0, 0, 0), "again")) {
		t.Fatal("write after DropAll not applied")
	}
	if c, _ := e.Count(t0); c != 1 {
		t.Fatalf("Count = %d, want 1", c)
	}
}
