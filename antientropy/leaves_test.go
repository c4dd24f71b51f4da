package antientropy

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestRangeContains(t *testing.T) {
	const top = math.MaxUint64
	tests := []struct {
		r    Range
		tok  uint64
		want bool
	}{
		{Range{Start: 10, End: 20}, 10, false},
		{Range{Start: 10, End: 20}, 11, true},
		{Range{Start: 10, End: 20}, 20, true},
		{Range{Start: 10, End: 20}, 21, false},
		{Range{Start: 20, End: 10}, 21, true},
		{Range{Start: 20, End: 10}, top, true},
		{Range{Start: 20, End: 10}, 0, true},
		{Range{Start: 20, End: 10}, 10, true},
		{Range{Start: 20, End: 10}, 15, false},
		{Range{Start: 20, End: 10}, 20, false},
		{Range{Start: 7, End: 7}, 7, true},
		{Range{Start: 7, End: 7}, 0, true},
		{Range{Start: top, End: 0}, 0, true},
		{Range{Start: top, End: 0}, top, false},
	}
	for _, tc := range tests {
		if got := tc.r.Contains(tc.tok); got != tc.want {
			t.Errorf("%+v.Contains(%d) = %v, want %v", tc.r, tc.tok, got, tc.want)
		}
	}
}

func TestLeavesTable(t *testing.T) {
	const (
		top  = math.MaxUint64
		size = bucketSize
	)
	tests := []struct {
		name        string
		r           Range
		n           int
		first, last Leaf
	}{
		{"one token", Range{Start: 5, End: 6}, 1, Leaf{0, 6, 6, true}, Leaf{0, 6, 6, true}},
		{"inside one bucket", Range{Start: size + 5, End: 2*size - 7}, 1,
			Leaf{1, size + 6, 2*size - 7, true}, Leaf{1, size + 6, 2*size - 7, true}},
		{"one whole bucket", Range{Start: size - 1, End: 2*size - 1}, 1,
			Leaf{1, size, 2*size - 1, false}, Leaf{1, size, 2*size - 1, false}},
		{"aligned", Range{Start: size - 1, End: 4*size - 1}, 3,
			Leaf{1, size, 2*size - 1, false}, Leaf{3, 3 * size, 4*size - 1, false}},
		{"unaligned", Range{Start: size + 5, End: 3*size + 9}, 3,
			Leaf{1, size + 6, 2*size - 1, true}, Leaf{3, 3 * size, 3*size + 9, true}},
		{"ends on a bucket's first token", Range{Start: size - 1, End: 2 * size}, 2,
			Leaf{1, size, 2*size - 1, false}, Leaf{2, 2 * size, 2 * size, true}},
		{"wraps", Range{Start: top - size, End: size}, 3,
			Leaf{Buckets - 1, top - size + 1, top, false}, Leaf{1, size, size, true}},
		{"wraps aligned", Range{Start: top - size, End: size - 1}, 2,
			Leaf{Buckets - 1, top - size + 1, top, false}, Leaf{0, 0, size - 1, false}},
		{"to the top", Range{Start: top - 3, End: top}, 1, Leaf{Buckets - 1, top - 2, top, true}, Leaf{Buckets - 1, top - 2, top, true}},
		{"from the top", Range{Start: top, End: 3}, 1, Leaf{0, 0, 3, true}, Leaf{0, 0, 3, true}},
		{"whole ring aligned", Range{Start: top, End: top}, Buckets,
			Leaf{0, 0, size - 1, false}, Leaf{Buckets - 1, top - size + 1, top, false}},
		{"whole ring aligned mid", Range{Start: size - 1, End: size - 1}, Buckets,
			Leaf{1, size, 2*size - 1, false}, Leaf{0, 0, size - 1, false}},
		{"whole ring unaligned", Range{Start: size + 9, End: size + 9}, MaxLeaves,
			Leaf{1, size + 10, 2*size - 1, true}, Leaf{1, size, size + 9, true}},
		{"all but one token", Range{Start: size + 9, End: size + 8}, MaxLeaves,
			Leaf{1, size + 10, 2*size - 1, true}, Leaf{1, size, size + 8, true}},
		{"all but the first token of a bucket", Range{Start: size, End: size - 1}, Buckets,
			Leaf{1, size + 1, 2*size - 1, true}, Leaf{0, 0, size - 1, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ls := Leaves(tc.r)
			if len(ls) != tc.n {
				t.Fatalf("%d leaves, want %d", len(ls), tc.n)
			}
			if ls[0] != tc.first || ls[len(ls)-1] != tc.last {
				t.Fatalf("first %+v last %+v, want %+v and %+v", ls[0], ls[len(ls)-1], tc.first, tc.last)
			}
			checkPartition(t, tc.r, ls)
		})
	}
}

// checkPartition checks that ls covers exactly r's tokens, in ring order
// from Start+1, each once, with leaves that are bucket pieces.
func checkPartition(t *testing.T, r Range, ls []Leaf) {
	t.Helper()
	if len(ls) == 0 || len(ls) > MaxLeaves {
		t.Fatalf("%v: %d leaves", r, len(ls))
	}
	if ls[0].Lo != r.Start+1 || ls[len(ls)-1].Hi != r.End {
		t.Fatalf("%v: leaves run from %#x to %#x", r, ls[0].Lo, ls[len(ls)-1].Hi)
	}
	var covered uint64 // token count modulo 2^64: the whole ring counts 0
	for i, l := range ls {
		if l.Lo > l.Hi || BucketOf(l.Lo) != l.Bucket || BucketOf(l.Hi) != l.Bucket {
			t.Fatalf("%v: leaf %d %+v is not a piece of one bucket", r, i, l)
		}
		whole := l.Lo&bucketMask == 0 && l.Hi&bucketMask == bucketMask
		if l.Partial == whole {
			t.Fatalf("%v: leaf %d %+v has Partial %v", r, i, l, l.Partial)
		}
		if l.Partial && i != 0 && i != len(ls)-1 {
			t.Fatalf("%v: inner leaf %d %+v is partial", r, i, l)
		}
		if i > 0 && l.Lo != ls[i-1].Hi+1 {
			t.Fatalf("%v: gap or overlap between leaf %d %+v and %+v", r, i, l, ls[i-1])
		}
		covered += l.Hi - l.Lo + 1
	}
	if covered != r.End-r.Start {
		t.Fatalf("%v: leaves cover %d tokens (mod 2^64), want %d", r, covered, r.End-r.Start)
	}
}

// TestLeavesProperties checks on random ranges of every kind that the
// leaves partition the range, that LeafOf finds the leaf of any token in
// it (and -1 outside), and that LeafAt agrees with Leaves.
func TestLeavesProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 600 {
		kind := rangeKinds[trial%len(rangeKinds)]
		r := randRange(rng, kind)
		ls := Leaves(r)
		checkPartition(t, r, ls)
		checkKind(t, kind, r, ls)
		for range 50 {
			tok := pickToken(rng, r, ls)
			i := LeafOf(r, tok)
			if !r.Contains(tok) {
				if i != -1 {
					t.Fatalf("%s %v: LeafOf(%#x) = %d for a token outside", kind, r, tok, i)
				}
				continue
			}
			if i < 0 || i >= len(ls) || tok < ls[i].Lo || tok > ls[i].Hi {
				t.Fatalf("%s %v: LeafOf(%#x) = %d", kind, r, tok, i)
			}
		}
		for _, i := range []int{-1, 0, 1, len(ls) / 2, len(ls) - 2, len(ls) - 1, len(ls), rng.IntN(len(ls))} {
			l, ok := LeafAt(r, i)
			if want := i >= 0 && i < len(ls); ok != want || (ok && l != ls[i]) {
				t.Fatalf("%s %v: LeafAt(%d) = %+v %v, want %v", kind, r, i, l, ok, want)
			}
		}
	}
}

// checkKind checks that randRange drew the shape it was asked for, so
// that the edge cases the kinds name are really exercised.
func checkKind(t *testing.T, kind string, r Range, ls []Leaf) {
	t.Helper()
	partial := 0
	for _, l := range ls {
		if l.Partial {
			partial++
		}
	}
	var ok bool
	switch kind {
	case "aligned":
		ok = partial == 0
	case "whole-aligned":
		ok = partial == 0 && len(ls) == Buckets
	case "whole":
		ok = r.Start == r.End && (len(ls) == MaxLeaves) == (partial == 2)
	case "tiny", "one-token", "tiny-keys":
		ok = len(ls) <= 2 && partial == len(ls)
	case "near-whole":
		ok = len(ls) >= Buckets
	case "wrapping":
		ok = r.End < r.Start
	default:
		ok = true
	}
	if !ok {
		t.Fatalf("%s range %v: %d leaves, %d partial", kind, r, len(ls), partial)
	}
}

// pickToken draws a token near the edges of r and of its leaves, where
// off-by-one errors live, or anywhere.
func pickToken(rng *rand.Rand, r Range, ls []Leaf) uint64 {
	l := ls[rng.IntN(len(ls))]
	switch rng.IntN(8) {
	case 0:
		return r.Start
	case 1:
		return r.Start + 1
	case 2:
		return r.End
	case 3:
		return r.End + 1
	case 4:
		return l.Lo
	case 5:
		return l.Hi
	case 6:
		return l.Lo + rng.Uint64N(l.Hi-l.Lo+1)
	}
	return rng.Uint64()
}
