package script

import (
	"math"
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

// parseLuaNumber converts a string as Lua 5.1's lua_tonumber does:
// decimal or hexadecimal, surrounded by optional whitespace.
func parseLuaNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	body := strings.TrimLeft(s, "+-")
	if len(body) > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X') {
		n, err := strconv.ParseUint(body[2:], 16, 64)
		if err != nil || len(s)-len(body) > 1 {
			return 0, false
		}
		if s[0] == '-' {
			return -float64(n), true
		}
		return float64(n), true
	}
	// strconv accepts forms Lua does not ("inf", "0b1", "1_0"); Lua's
	// strtod accepts "inf" and "nan" too, but rejects underscores.
	if strings.ContainsAny(s, "_") {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !strings.Contains(err.Error(), "range") {
		return 0, false
	}
	return f, true
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
		return math.NaN(), i + 3
	case len(rest) > 2 && rest[0] == '0' && (rest[1] == 'x' || rest[1] == 'X') && isHexDigit(rest[2]):
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
