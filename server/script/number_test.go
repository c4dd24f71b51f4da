package script

import (
	"math"
	"testing"
)

func TestTonumber(t *testing.T) {
	errCase := func(script, msg string) replyCase { return replyCase{script, scriptError(script, msg)} }
	runReplyCases(t, []replyCase{
		{`return {tonumber(10, 16), tonumber('zz', 36), tostring(tonumber('8', 8)), tonumber(' -ff ', 16) == 2^64 - 255, tonumber('0xff', 16), tonumber('1', '16'), tonumber('ff\0zz', 16), tostring(tonumber(1.5, 16))}`,
			"*8\r\n:16\r\n:1295\r\n$3\r\nnil\r\n:1\r\n:255\r\n:1\r\n:255\r\n$3\r\nnil\r\n"},
		{`return {tonumber('0x10'), tonumber('  0x1A  '), tonumber('0x1p4'), tonumber('0x1.8') * 2, tonumber('0x.8') * 2, tostring(tonumber('0x')), tostring(tonumber('0x1p')), tonumber('10\0abc'), tostring(tonumber('-nan')), tostring(tonumber('\194\160 5'))}`,
			"*10\r\n:16\r\n:26\r\n:16\r\n:3\r\n:1\r\n$3\r\nnil\r\n$3\r\nnil\r\n:10\r\n$4\r\n-nan\r\n$3\r\nnil\r\n"},
		errCase("return tonumber('1', 37)", "bad argument #2 to 'tonumber' (base out of range)"),
		errCase("return tonumber('1', 'x')", "bad argument #2 to 'tonumber' (number expected, got string)"),
		errCase("return tonumber(nil, 16)", "bad argument #1 to 'tonumber' (string expected, got nil)"),
		errCase("return tonumber()", "bad argument #1 to 'tonumber' (value expected)"),
	})
}

func TestParseLuaNumber(t *testing.T) {
	for _, tc := range []struct {
		in string
		f  float64
		ok bool
	}{
		{"10", 10, true}, {" 1e1\t", 10, true}, {"0x10", 16, true}, {"  0x1A  ", 26, true}, {"-0x10", -16, true},
		{"0x1p4", 16, true}, {"0X1P-2", 0.25, true}, {"0x1.8", 1.5, true}, {"0x.8", 0.5, true}, {"0x1.", 1, true},
		{"0x1p99999", math.Inf(1), true}, {"0x1p-99999", 0, true}, {"\v5\f", 5, true}, {"10\x00abc", 10, true},
		{"0x", 0, false}, {"0x.", 0, false}, {"0x1p", 0, false}, {"0xg", 0, false}, {"0x-1", 0, false}, {"- 0x10", 0, false},
		{"1x", 0, false}, {"0x1p4.5", 0, false}, {"\u00a05", 0, false}, {"5\u00a0", 0, false}, {"", 0, false}, {"\x00", 0, false},
		{"1_0", 0, false}, {"0b1", 0, false}, {"infinit", 0, false}, {"nan(12", 0, false},
	} {
		f, ok := parseLuaNumber(tc.in)
		if f != tc.f || ok != tc.ok {
			t.Errorf("parseLuaNumber(%q) = %v, %v; want %v, %v", tc.in, f, ok, tc.f, tc.ok)
		}
	}
	for _, tc := range []struct {
		in  string
		neg bool
	}{{"nan", false}, {"-nan", true}, {"NaN(12)", false}, {"-nan()", true}} {
		if f, ok := parseLuaNumber(tc.in); !ok || !math.IsNaN(f) || math.Signbit(f) != tc.neg {
			t.Errorf("parseLuaNumber(%q) = %v, %v; want a NaN, negative %v", tc.in, f, ok, tc.neg)
		}
	}
}

func TestStrtoul(t *testing.T) {
	for _, tc := range []struct {
		in   string
		base int
		v    uint64
		n    int
	}{
		{"ff", 16, 255, 2}, {"  -ff  ", 16, math.MaxUint64 - 254, 5}, {"+ff", 16, 255, 3}, {"0xff", 16, 255, 4}, {"0x", 16, 0, 1},
		{"0xg", 16, 0, 1}, {"0xff", 10, 0, 1}, {"zz", 36, 1295, 2}, {"ZZ", 36, 1295, 2}, {"8", 8, 0, 0}, {"78", 8, 7, 1},
		{"1.5", 16, 1, 1}, {"- 1", 16, 0, 0}, {"", 16, 0, 0}, {"ffffffffffffffff", 16, math.MaxUint64, 16},
		{"10000000000000000", 16, math.MaxUint64, 17}, {"-10000000000000000", 16, math.MaxUint64, 18}, {"-1", 2, math.MaxUint64, 2},
	} {
		v, n := strtoul(tc.in, tc.base)
		if v != tc.v || n != tc.n {
			t.Errorf("strtoul(%q, %d) = %d, %d; want %d, %d", tc.in, tc.base, v, n, tc.v, tc.n)
		}
	}
}

func TestCConversions(t *testing.T) {
	for _, tc := range []struct {
		d    float64
		want uint64
	}{
		{-1, math.MaxUint64}, {255.9, 255}, {0x1p63, 1 << 63}, {0x1p64, 0}, {math.Inf(1), 0},
		{math.Inf(-1), 1 << 63}, {math.NaN(), 1 << 63}, {-0x1p63, 1 << 63},
	} {
		if got := toUnsigned(tc.d); got != tc.want {
			t.Errorf("toUnsigned(%v) = %#x, want %#x", tc.d, got, tc.want)
		}
	}
	for _, tc := range []struct {
		d    float64
		want int32
	}{{321.7, 321}, {-1.5, -1}, {0x1p31, math.MinInt32}, {math.NaN(), math.MinInt32}} {
		if got := toInt32(tc.d); got != tc.want {
			t.Errorf("toInt32(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}
