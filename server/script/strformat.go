package script

import (
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// installFormat replaces gopher-lua's string.format, which hands the
// format to Go's fmt (Go's %q quoting, Go's %g, "%!d(MISSING)" for a
// missing argument), by Lua 5.1's, whose conversions are C's printf.
func (sb *sandbox) installFormat() {
	str := sb.globals.RawGetString("string").(*lua.LTable)
	str.RawSetString("format", sb.L.NewFunction(strFormat))
}

// fmtFlags are the flags Lua 5.1 lets through to printf.
const fmtFlags = "-+ #0"

// fmtSpec is one conversion of a format: "%-5.2f" is minus, width 5,
// precision 2 (-1: none) and verb 'f'.
type fmtSpec struct {
	minus, plus, space, sharp, zero bool
	width, prec                     int
	verb                            byte
}

// strFormat is Lua 5.1's str_format.
func strFormat(L *lua.LState) int {
	format := checkString(L, 1, "format")
	top, arg := L.GetTop(), 1
	var b []byte
	for i := 0; i < len(format); {
		c := format[i]
		i++
		switch {
		case c != '%':
			b = append(b, c)
		case byteAt(format, i) == '%':
			b = append(b, '%')
			i++
		default:
			if arg++; arg > top {
				argError(L, arg, "format", "no value")
			}
			var sp fmtSpec
			sp, i = scanFormat(L, format, i)
			b = sp.appendArg(L, b, arg)
		}
	}
	L.Push(lua.LString(b))
	return 1
}

// scanFormat is Lua 5.1's scanformat: it reads the flags, width and
// precision (two digits at most each) and the conversion after the '%'
// at s[i-1], and returns them and the index past them. Past the end of s
// the conversion is NUL, as in the C string.
func scanFormat(L *lua.LState, s string, i int) (fmtSpec, int) {
	sp := fmtSpec{prec: -1}
	start := i
	for ; i < len(s) && strings.IndexByte(fmtFlags, s[i]) >= 0; i++ {
		switch s[i] {
		case '-':
			sp.minus = true
		case '+':
			sp.plus = true
		case ' ':
			sp.space = true
		case '#':
			sp.sharp = true
		case '0':
			sp.zero = true
		}
	}
	if i-start > len(fmtFlags) {
		L.RaiseError("invalid format (repeated flags)")
	}
	sp.width, i = twoDigits(s, i)
	if byteAt(s, i) == '.' {
		sp.prec, i = twoDigits(s, i+1)
	}
	if isDigit(byteAt(s, i)) {
		L.RaiseError("invalid format (width or precision too long)")
	}
	sp.verb = byteAt(s, i)
	return sp, i + 1
}

// twoDigits reads up to two decimal digits at s[i]: their value (0 if
// none) and the index past them.
func twoDigits(s string, i int) (int, int) {
	n := 0
	for end := i + 2; i < end && isDigit(byteAt(s, i)); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n, i
}

// appendArg appends argument arg converted by sp. What printf writes is
// cut at its first NUL, as Lua copies it with strlen: "%c" of 0 adds
// nothing, "%s" stops at a NUL unless the string is added whole.
func (sp fmtSpec) appendArg(L *lua.LState, b []byte, arg int) []byte {
	var item string
	switch sp.verb {
	case 'c':
		item = sp.pad("", string([]byte{byte(toInt32(checkNumber(L, arg, "format")))}), false)
	case 'd', 'i':
		n := toInteger(checkNumber(L, arg, "format"))
		u := uint64(n)
		if n < 0 {
			u = -u
		}
		item = sp.integer(u, n < 0)
	case 'o', 'u', 'x', 'X':
		item = sp.integer(toUnsigned(checkNumber(L, arg, "format")), false)
	case 'e', 'E', 'f', 'g', 'G':
		item = sp.float(checkNumber(L, arg, "format"))
	case 'q':
		return appendQuoted(b, checkString(L, arg, "format"))
	case 's':
		s := checkString(L, arg, "format")
		if sp.prec < 0 && len(s) >= 100 {
			// Lua adds a long string whole, without printf.
			return append(b, s...)
		}
		item = sp.str(cString(s))
	default:
		L.RaiseError("invalid option '%%%s' to 'format'", cString(string([]byte{sp.verb})))
	}
	return append(b, cString(item)...)
}

// appendQuoted is Lua 5.1's addquoted, "%q": s in double quotes, with
// '"', '\\' and newline escaped by a backslash (the newline stays), '\r'
// as "\r" and NUL as "\000"; every other byte as it is.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\', '\n':
			b = append(b, '\\', c)
		case '\r':
			b = append(b, `\r`...)
		case 0:
			b = append(b, `\000`...)
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// str is printf's "%s" of s: its first prec bytes, padded to the width.
func (sp fmtSpec) str(s string) string {
	if sp.prec >= 0 && len(s) > sp.prec {
		s = s[:sp.prec]
	}
	return sp.pad("", s, false)
}

// integer is printf's "%d", "%o", "%u", "%x" or "%X" of u, the magnitude
// (neg: of a negative "%d").
func (sp fmtSpec) integer(u uint64, neg bool) string {
	base, prefix := 10, ""
	switch sp.verb {
	case 'o':
		base = 8
	case 'x', 'X':
		base = 16
	}
	digits := strconv.FormatUint(u, base)
	if sp.verb == 'X' {
		digits = strings.ToUpper(digits)
	}
	if sp.prec >= 0 {
		if u == 0 && sp.prec == 0 {
			digits = ""
		}
		digits = strings.Repeat("0", max(sp.prec-len(digits), 0)) + digits
	}
	if sp.sharp {
		switch {
		case sp.verb == 'o' && !strings.HasPrefix(digits, "0"):
			digits = "0" + digits
		case (sp.verb == 'x' || sp.verb == 'X') && u != 0:
			prefix = "0" + string(sp.verb)
		}
	}
	if sp.verb == 'd' || sp.verb == 'i' {
		prefix = sp.sign(neg)
	}
	return sp.pad(prefix, digits, sp.prec < 0)
}

// float is printf's "%e", "%E", "%f", "%g" or "%G" of d, with glibc's
// "inf" and "nan" (signed: 0/0 is a negative NaN on amd64).
func (sp fmtSpec) float(d float64) string {
	var body string
	switch {
	case math.IsNaN(d):
		body = "nan"
	case math.IsInf(d, 0):
		body = "inf"
	default:
		body = sp.floatDigits(math.Abs(d))
	}
	if sp.verb == 'E' || sp.verb == 'G' {
		body = strings.ToUpper(body)
	}
	finite := !math.IsNaN(d) && !math.IsInf(d, 0)
	return sp.pad(sp.sign(math.Signbit(d)), body, finite)
}

// floatDigits formats a, not negative, by the verb and precision (6 if
// none), with the '#' flag's forced point and trailing zeros.
func (sp fmtSpec) floatDigits(a float64) string {
	prec := sp.prec
	if prec < 0 {
		prec = 6
	}
	var s string
	switch sp.verb | 0x20 {
	case 'f':
		s = strconv.FormatFloat(a, 'f', prec, 64)
	case 'e':
		s = strconv.FormatFloat(a, 'e', prec, 64)
	case 'g':
		// C's rule: the exponent x of a in "%e" at prec-1 digits picks
		// "%f" for -4 <= x < prec.
		prec = max(prec, 1)
		s = strconv.FormatFloat(a, 'e', prec-1, 64)
		if x, _ := strconv.Atoi(s[strings.IndexByte(s, 'e')+1:]); x >= -4 && x < prec {
			s = strconv.FormatFloat(a, 'f', prec-1-x, 64)
		}
		if !sp.sharp {
			return trimFraction(s)
		}
	}
	if sp.sharp && !strings.Contains(s, ".") {
		mant, exp, _ := strings.Cut(s, "e")
		s = mant + "."
		if exp != "" {
			s += "e" + exp
		}
	}
	return s
}

// trimFraction drops the trailing zeros of the fraction of "%g"'s
// result, and the point if nothing follows it.
func trimFraction(s string) string {
	mant, exp, hasExp := strings.Cut(s, "e")
	if strings.Contains(mant, ".") {
		mant = strings.TrimRight(strings.TrimRight(mant, "0"), ".")
	}
	if hasExp {
		return mant + "e" + exp
	}
	return mant
}

// sign is the sign printf writes before a signed conversion.
func (sp fmtSpec) sign(neg bool) string {
	switch {
	case neg:
		return "-"
	case sp.plus:
		return "+"
	case sp.space:
		return " "
	}
	return ""
}

// pad pads head+body to the width: on the right for '-', with zeros
// between head and body for '0' where zeros may pad (numbers without a
// precision), else with spaces on the left.
func (sp fmtSpec) pad(head, body string, zeros bool) string {
	n := sp.width - len(head) - len(body)
	switch {
	case n <= 0:
		return head + body
	case sp.minus:
		return head + body + strings.Repeat(" ", n)
	case sp.zero && zeros:
		return head + strings.Repeat("0", n) + body
	}
	return strings.Repeat(" ", n) + head + body
}

// toInt32 converts d as C's (int) cast does on amd64: truncation toward
// zero, and the "integer indefinite" value for NaN and out of range.
func toInt32(d float64) int32 {
	if d != d || d >= 0x1p31 || d < -0x1p31 {
		return math.MinInt32
	}
	return int32(d)
}

// toUnsigned converts d as C's (unsigned long) cast does with gcc on
// amd64: below 2^63 as the signed conversion (so -1 wraps to 2^64-1),
// from 2^63 on the signed conversion of d-2^63 with the top bit flipped
// (so 2^64 and beyond, and +Inf, become 0).
func toUnsigned(d float64) uint64 {
	if d >= 0x1p63 {
		return uint64(toInteger(d-0x1p63)) ^ 1<<63
	}
	return uint64(toInteger(d))
}
