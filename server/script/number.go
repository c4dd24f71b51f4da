package script

import (
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// formatG formats d as C's printf("%.<prec>g") does with glibc, which is
// what Redis uses: "%.17g" for numbers passed to redis.call and for
// doubles in replies, "%.14g" for Lua's tostring and for cjson.
func formatG(d float64, prec int) string {
	switch {
	case math.IsNaN(d):
		// glibc prints the sign of a NaN, and 0/0 on x86 has it set.
		if math.Signbit(d) {
			return "-nan"
		}
		return "nan"
	case math.IsInf(d, 1):
		return "inf"
	case math.IsInf(d, -1):
		return "-inf"
	}
	return strconv.FormatFloat(d, 'g', prec, 64)
}

// toInteger converts d as C's (long long) cast does on amd64, which is
// how Redis turns a Lua number into an integer reply: truncation toward
// zero, and the "integer indefinite" value for NaN and out of range.
func toInteger(d float64) int64 {
	if d != d || d >= 0x1p63 || d < -0x1p63 {
		return math.MinInt64
	}
	return int64(d)
}

// parseLuaNumber converts a string as Lua 5.1's lua_tonumber does on
// Linux: C's strtod, so decimal, hexadecimal (with a fraction and a
// binary exponent too), "inf" and "nan", surrounded by optional C
// whitespace. Like any C string, s ends at its first NUL.
func parseLuaNumber(s string) (float64, bool) {
	s = strings.TrimLeft(cString(s), cSpaces)
	f, n := strtod(s)
	if n == 0 || strings.TrimLeft(s[n:], cSpaces) != "" {
		return 0, false
	}
	return f, true
}

// cSpaces are the bytes C's isspace accepts.
const cSpaces = " \t\n\v\f\r"

// cString is s as C code sees it: up to its first NUL.
func cString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// strtod reads the longest prefix of s that C's strtod accepts: decimal
// and hexadecimal numbers, "inf", "infinity" and "nan", with an optional
// sign. n is the prefix's length, 0 if there is none.
func strtod(s string) (f float64, n int) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	neg := i > 0 && s[0] == '-'
	rest := s[i:]
	switch {
	case hasFoldPrefix(rest, "infinity"):
		return math.Copysign(math.Inf(1), sign(neg)), i + 8
	case hasFoldPrefix(rest, "inf"):
		return math.Copysign(math.Inf(1), sign(neg)), i + 3
	case hasFoldPrefix(rest, "nan"):
		return math.Copysign(math.NaN(), sign(neg)), i + 3 + nanChars(rest[3:])
	case isHexStart(rest):
		return hexPrefix(s, i+2)
	}
	j := digits(s, i, isDigit)
	mantissa := j - i
	if j < len(s) && s[j] == '.' {
		k := digits(s, j+1, isDigit)
		mantissa += k - j - 1
		j = k
	}
	if mantissa == 0 {
		return 0, 0
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if e := digits(s, k, isDigit); e > k {
			j = e
		}
	}
	f, _ = strconv.ParseFloat(s[:j], 64) // range errors give ±Inf or 0, as strtod does
	return f, j
}

// nanChars is the length of the "(n-char-sequence)" glibc's strtod
// accepts after "nan", 0 if s does not start with one.
func nanChars(s string) int {
	if byteAt(s, 0) != '(' {
		return 0
	}
	i := 1
	for c := byteAt(s, i); isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'z' || c == '_'; c = byteAt(s, i) {
		i++
	}
	if byteAt(s, i) != ')' {
		return 0
	}
	return i + 1
}

// isHexStart reports whether s starts with a hexadecimal number: "0x"
// and a hex digit, before or after a point.
func isHexStart(s string) bool {
	if len(s) < 3 || s[0] != '0' || s[1]|0x20 != 'x' {
		return false
	}
	return isHexDigit(s[2]) || s[2] == '.' && isHexDigit(byteAt(s, 3))
}

// hexPrefix reads the hex digits (and fraction and binary exponent)
// starting at i.
func hexPrefix(s string, i int) (float64, int) {
	j := digits(s, i, isHexDigit)
	if j < len(s) && s[j] == '.' {
		j = digits(s, j+1, isHexDigit)
	}
	text := s[:j]
	if j < len(s) && (s[j] == 'p' || s[j] == 'P') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if e := digits(s, k, isDigit); e > k {
			j, text = e, s[:e]
		}
	}
	if !strings.ContainsAny(text, "pP") {
		text += "p0"
	}
	f, _ := strconv.ParseFloat(strings.TrimLeft(text, "+"), 64) // keeps a "-"
	return f, j
}

func sign(neg bool) float64 {
	if neg {
		return -1
	}
	return 1
}

func digits(s string, i int, ok func(byte) bool) int {
	for i < len(s) && ok(s[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHexDigit(c byte) bool {
	return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f')
}

// byteAt is s[i], or 0 past its end (as C's terminating NUL).
func byteAt(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

// strtoul reads the longest prefix of s that C's strtoul accepts in base
// (2 to 36), as glibc does: optional whitespace and sign, "0x" in base
// 16, then digits. A negative number wraps (-1 is 2^64-1) and one too
// large for 64 bits is 2^64-1 whatever its sign. n is the prefix's
// length, 0 if it has no digit.
func strtoul(s string, base int) (v uint64, n int) {
	i := len(s) - len(strings.TrimLeft(s, cSpaces))
	neg := false
	if c := byteAt(s, i); c == '+' || c == '-' {
		neg = c == '-'
		i++
	}
	if base == 16 && byteAt(s, i) == '0' && byteAt(s, i+1)|0x20 == 'x' && digitValue(byteAt(s, i+2)) < 16 {
		i += 2
	}
	start, overflow := i, false
	for ; i < len(s) && digitValue(s[i]) < base; i++ {
		hi, lo := bits.Mul64(v, uint64(base))
		sum, carry := bits.Add64(lo, uint64(digitValue(s[i])), 0)
		overflow = overflow || hi != 0 || carry != 0
		v = sum
	}
	switch {
	case i == start:
		return 0, 0
	case overflow:
		return math.MaxUint64, i
	case neg:
		return -v, i
	}
	return v, i
}

// digitValue is c's value as a digit of bases up to 36 ('a' and 'A' are
// 10), or 36 if it is none.
func digitValue(c byte) int {
	switch {
	case isDigit(c):
		return int(c - '0')
	case c|0x20 >= 'a' && c|0x20 <= 'z':
		return int(c|0x20-'a') + 10
	}
	return 36
}
