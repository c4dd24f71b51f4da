package server

import (
	"math"
	"testing"
)

func TestFieldGetSet(t *testing.T) {
	s := make([]byte, 3)
	fieldSet(s, 5, 7, 0x55) // 1010101 at bits 5..11
	if got := fieldGet(s, 5, 7, false); got != 0x55 {
		t.Fatalf("u7 at 5 = %#x", got)
	}
	if got := fieldGet(s, 5, 7, true); got != 0x55-128 {
		t.Fatalf("i7 at 5 = %d", got)
	}
	if s[0] != 0b00000101 || s[1] != 0b01010000 {
		t.Fatalf("bytes %08b", s)
	}
	if got := fieldGet(s, 20, 8, false); got != 0 {
		t.Fatalf("past the end: %d", got)
	}
	b := make([]byte, 9)
	fieldSet(b, 3, 64, math.MaxUint64)
	if got := fieldGet(b, 3, 64, true); got != -1 {
		t.Fatalf("i64 = %d", got)
	}
}

func TestFieldOverflow(t *testing.T) {
	tests := []struct {
		name   string
		signed bool
		bits   uint
		value  int64
		incr   int64
		ow     int
		want   int64
		over   bool
	}{
		{"u8 fits", false, 8, 250, 5, overflowWrap, 255, false},
		{"u8 wraps", false, 8, 250, 10, overflowWrap, 4, true},
		{"u8 saturates", false, 8, 250, 10, overflowSat, 255, true},
		{"u8 below 0 wraps", false, 8, 3, -5, overflowWrap, 254, true},
		{"u8 below 0 saturates", false, 8, 3, -5, overflowSat, 0, true},
		{"i8 fits", true, 8, 100, 27, overflowWrap, 127, false},
		{"i8 wraps", true, 8, 100, 28, overflowWrap, -128, true},
		{"i8 saturates", true, 8, 100, 28, overflowSat, 127, true},
		{"i8 below wraps", true, 8, -100, -29, overflowWrap, 127, true},
		{"i8 below saturates", true, 8, -100, -29, overflowSat, -128, true},
		{"i64 saturates", true, 64, math.MaxInt64, 1, overflowSat, math.MaxInt64, true},
		{"i64 wraps", true, 64, math.MaxInt64, 1, overflowWrap, math.MinInt64, true},
		{"i64 fits", true, 64, -5, 10, overflowWrap, 5, false},
	}
	for _, tt := range tests {
		var got int64
		var over bool
		if tt.signed {
			got, over = signedOverflow(tt.value, tt.incr, tt.bits, tt.ow)
		} else {
			var u uint64
			u, over = unsignedOverflow(uint64(tt.value), tt.incr, tt.bits, tt.ow)
			got = int64(u)
		}
		if got != tt.want || over != tt.over {
			t.Errorf("%s: %d, %v; want %d, %v", tt.name, got, over, tt.want, tt.over)
		}
	}
}

// TestFieldHashOffsetsThatWrap: a #offset whose product with the width
// is negative or wraps is refused, never taken as the offset it wraps to.
func TestFieldHashOffsetsThatWrap(t *testing.T) {
	for _, args := range [][]string{
		{"SET", "i8", "#-2305843009213693952", "1"},
		{"SET", "i4", "#-4611686018427387903", "1"},
		{"GET", "u8", "#9223372036854775807"},
		{"GET", "i64", "#144115188075855873"},
		{"GET", "u8", "#-1"},
	} {
		b := make([][]byte, len(args))
		for i, a := range args {
			b[i] = []byte(a)
		}
		if _, err := parseFieldOps(b, 512<<20); err != errBitOffset {
			t.Errorf("BITFIELD %v = %v, want the offset error", args, err)
		}
	}
}
