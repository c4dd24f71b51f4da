package script

import (
	"math"
	"strconv"
	"testing"
)

// replyCase is a script and the reply redis-server 7.0.15 gave it, for
// tests that run without redis-server (TestOracle compares these
// functions with a live one).
type replyCase struct {
	script, want string
}

// scriptError is the error reply Redis gives for a script of one line
// that raises msg.
func scriptError(script, msg string) string {
	return "-ERR user_script:1: " + msg + " script: " + SHA1Hex([]byte(script)) + ", on @user_script:1.\r\n"
}

func runReplyCases(t *testing.T, cases []replyCase) {
	t.Helper()
	e := newEngine(t, DefaultConfig())
	for _, tc := range cases {
		if got := eval(e, tc.script, Run{Host: newMemHost()}); got != tc.want {
			t.Errorf("%s\n got %q\nwant %q", tc.script, got, tc.want)
		}
	}
}

func TestFormat(t *testing.T) {
	errCase := func(script, msg string) replyCase { return replyCase{script, scriptError(script, msg)} }
	runReplyCases(t, []replyCase{
		{`return string.format('%q', 'a"b\\c\nd\re\0f')`, "$20\r\n\"a\\\"b\\\\c\\\nd\\re\\000f\"\r\n"},
		{`return string.format('%q', '\0001')`, "$7\r\n\"\\0001\"\r\n"},
		{"return string.format('%q|%10q|%-10q|%.1q', 1/3, 'ab', 'cd', 'ef')", "$33\r\n\"0.33333333333333\"|\"ab\"|\"cd\"|\"ef\"\r\n"},
		{`return string.format('%s|%5.1s|%s', 'a\0b', 'c\0d', 1/3)`, "$24\r\na|    c|0.33333333333333\r\n"},
		{"return string.format('%c%c%c|%5c|%-5c|%05c', 72, 256+105, 0, 0, 0, 65)", "$14\r\nHi|    ||    A\r\n"},
		{"return string.format('%d %i %x %X %#x %#o %u %5.3d|%-+5d|%05d|% d', 3.7, -3.7, -1, 255, 0, 8, -1, 7, 7, -5, 5)",
			"$72\r\n3 -3 ffffffffffffffff FF 0 010 18446744073709551615   007|+7   |-0005| 5\r\n"},
		{"return string.format('%x %x %x %d', 2^64, 0/0, 2^63, 1/0)", "$56\r\n0 8000000000000000 8000000000000000 -9223372036854775808\r\n"},
		{"return string.format('%g %g %g %.3G %#g %#.0e %#.0f %.0f %.0f', 1/3, 1e20, 0.00001, 1e-5, 1, 1, 1, 0.5, 1.5)",
			"$48\r\n0.333333 1e+20 1e-05 1E-05 1.00000 1.e+00 1. 0 2\r\n"},
		{"return string.format('%f %f %5.1f| %+f %05f|%E', 1/0, 0/0, -1/0, 1/0, 1/0, 1/0)", "$30\r\ninf -nan  -inf| +inf   inf|INF\r\n"},
		{"return string.format('%d %d %x', '10', ' 0x1p4 ', '-1')", "$22\r\n10 16 ffffffffffffffff\r\n"},
		{"return string.format('a%%b%s', 'c')", "$4\r\na%bc\r\n"},
		errCase("return string.format('%q')", "bad argument #2 to 'format' (no value)"),
		errCase("return string.format('%q', {})", "bad argument #2 to 'format' (string expected, got table)"),
		errCase("return string.format('%s %s', 'a')", "bad argument #3 to 'format' (no value)"),
		errCase("return string.format('%d', 'x')", "bad argument #2 to 'format' (number expected, got string)"),
		errCase("return string.format('%y', 1)", "invalid option '%y' to 'format'"),
		errCase("return string.format('%', 1)", "invalid option '%' to 'format'"),
		errCase("return string.format('%------d', 1)", "invalid format (repeated flags)"),
		errCase("return string.format('%123d', 1)", "invalid format (width or precision too long)"),
		errCase("return string.format('%1.123f', 1)", "invalid format (width or precision too long)"),
	})
}

// TestFormatQuotedAllBytes: "%q" of every byte escapes only '"', '\\',
// newline, '\r' and NUL, as Redis's Lua 5.1 does.
func TestFormatQuotedAllBytes(t *testing.T) {
	span := func(from, to int) string {
		var b []byte
		for c := from; c <= to; c++ {
			b = append(b, byte(c))
		}
		return string(b)
	}
	quoted := `"\000` + span(1, 9) + "\\\n" + span(11, 12) + `\r` + span(14, 33) + `\"` + span(35, 91) + `\\` + span(93, 255) + `"`
	runReplyCases(t, []replyCase{{
		"local t = {} for i = 0, 255 do t[#t+1] = string.char(i) end return string.format('%q', table.concat(t))",
		"$265\r\n" + quoted + "\r\n",
	}})
}

// FuzzFormatAndTonumber: string.format with any format and arguments,
// and tonumber of any string in any base, answer a well-formed reply (a
// value or a script error), never a Go panic.
func FuzzFormatAndTonumber(f *testing.F) {
	f.Add("%q|%5.2f|%-+#0x|%c", "a\x00b", 1.5, int64(16))
	f.Add("%99.99f%99.99e%99.99g", "0x1p4", 1e308, int64(36))
	f.Add("%%%s%", " 0X.8 ", math.Copysign(0, -1), int64(0))
	e := newEngine(f, DefaultConfig())
	f.Fuzz(func(t *testing.T, format, s string, x float64, base int64) {
		run := Run{Host: newMemHost(), Args: [][]byte{[]byte(format), []byte(s), []byte(strconv.FormatFloat(x, 'g', -1, 64)), []byte(strconv.FormatInt(base, 10))}}
		for _, body := range []string{
			"return string.format(ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[2], tonumber(ARGV[3]))",
			"return string.format(ARGV[1], tonumber(ARGV[3]), ARGV[2])",
			"return {tostring(tonumber(ARGV[2])), tostring(tonumber(ARGV[2], tonumber(ARGV[4])))}",
		} {
			out := eval(e, body, run)
			if _, rest, err := parseReply([]byte(out)); err != nil || len(rest) != 0 {
				t.Fatalf("%s with %q: malformed reply %q", body, run.Args, out)
			}
		}
	})
}
