package server

import (
	"errors"
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"
)

func argv(s string) [][]byte {
	var out [][]byte
	for _, f := range strings.Fields(s) {
		out = append(out, []byte(f))
	}
	return out
}

func TestParseInt64(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"1", 1, true}, {"-1", -1, true}, {"123456", 123456, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true},
		{"9223372036854775808", 0, false}, {"-9223372036854775809", 0, false},
		{"", 0, false}, {"-", 0, false}, {"+1", 0, false}, {"01", 0, false},
		{"-0", 0, false}, {" 1", 0, false}, {"1 ", 0, false}, {"1a", 0, false},
		{"99999999999999999999", 0, false}, {"123456789012345678901", 0, false},
	}
	for _, c := range cases {
		got, ok := parseInt64([]byte(c.in))
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parseInt64(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// TestParseInt64RoundTrip checks parseInt64 against strconv on random
// values: every canonical decimal parses back to itself.
func TestParseInt64RoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 100000; i++ {
		v := int64(r.Uint64())
		if i%2 == 0 {
			v >>= r.Intn(64)
		}
		got, ok := parseInt64([]byte(strconv.FormatInt(v, 10)))
		if !ok || got != v {
			t.Fatalf("round trip of %d: got %d, %v", v, got, ok)
		}
	}
}

func FuzzParseInt64(f *testing.F) {
	for _, s := range []string{"0", "-1", "9223372036854775807", "+1", "01", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseInt64([]byte(s))
		want, err := strconv.ParseInt(s, 10, 64)
		canonical := err == nil && strconv.FormatInt(want, 10) == s
		if ok != canonical || (ok && got != want) {
			t.Fatalf("parseInt64(%q) = %d, %v; strconv %d, %v", s, got, ok, want, err)
		}
	})
}

func replyOf(err error) string {
	if err == nil {
		return ""
	}
	return replyText(err)
}

const now = int64(1_700_000_000_000)

func TestParseSet(t *testing.T) {
	cases := []struct {
		args string
		want SetRequest
		err  string
	}{
		{"set k v", SetRequest{}, ""},
		{"set k v NX", SetRequest{Cond: condNX}, ""},
		{"set k v xx get", SetRequest{Cond: condXX, Get: true}, ""},
		{"set k v EX 10", SetRequest{Expiry: expEX, ExpireAt: now + 10000}, ""},
		{"set k v px 10", SetRequest{Expiry: expPX, ExpireAt: now + 10}, ""},
		{"set k v exat 10", SetRequest{Expiry: expEXAT, ExpireAt: 10000}, ""},
		{"set k v pxat 10", SetRequest{Expiry: expPXAT, ExpireAt: 10}, ""},
		{"set k v keepttl", SetRequest{Expiry: expKeepTTL}, ""},
		{"set k v ex 1 ex 2", SetRequest{Expiry: expEX, ExpireAt: now + 2000}, ""},
		{"set k v nx nx", SetRequest{Cond: condNX}, ""},
		{"set k v nx xx", SetRequest{}, "ERR syntax error"},
		{"set k v xx nx", SetRequest{}, "ERR syntax error"},
		{"set k v ex 1 px 1", SetRequest{}, "ERR syntax error"},
		{"set k v keepttl ex 1", SetRequest{}, "ERR syntax error"},
		{"set k v ex 1 keepttl", SetRequest{}, "ERR syntax error"},
		{"set k v ex", SetRequest{}, "ERR syntax error"},
		{"set k v foo", SetRequest{}, "ERR syntax error"},
		{"set k v persist", SetRequest{}, "ERR syntax error"},
		{"set k v ex abc", SetRequest{}, "ERR value is not an integer or out of range"},
		{"set k v ex 0", SetRequest{}, "ERR invalid expire time in 'set' command"},
		{"set k v px -5", SetRequest{}, "ERR invalid expire time in 'set' command"},
		{"set k v ex 9223372036854775807", SetRequest{}, "ERR invalid expire time in 'set' command"},
		{"set k v px 9223372036854775807", SetRequest{}, "ERR invalid expire time in 'set' command"},
		{"set k v ex abc foo", SetRequest{}, "ERR syntax error"}, // syntax before value
	}
	for _, c := range cases {
		got, err := parseSet(argv(c.args), now)
		if replyOf(err) != c.err {
			t.Errorf("%s: error %q, want %q", c.args, replyOf(err), c.err)
			continue
		}
		if err != nil {
			continue
		}
		if got.Cond != c.want.Cond || got.Get != c.want.Get || got.Expiry != c.want.Expiry || got.ExpireAt != c.want.ExpireAt {
			t.Errorf("%s: got %+v, want %+v", c.args, got, c.want)
		}
	}
}

func TestParseGetEx(t *testing.T) {
	cases := []struct {
		args string
		kind int
		at   int64
		err  string
	}{
		{"getex k", expNone, 0, ""},
		{"getex k persist", expPersist, 0, ""},
		{"getex k EX 5", expEX, now + 5000, ""},
		{"getex k pxat 77", expPXAT, 77, ""},
		{"getex k persist ex 1", 0, 0, "ERR syntax error"},
		{"getex k ex 1 persist", 0, 0, "ERR syntax error"},
		{"getex k keepttl", 0, 0, "ERR syntax error"},
		{"getex k nx", 0, 0, "ERR syntax error"},
		{"getex k ex", 0, 0, "ERR syntax error"},
		{"getex k ex 0", 0, 0, "ERR invalid expire time in 'getex' command"},
		{"getex k ex x", 0, 0, "ERR value is not an integer or out of range"},
	}
	for _, c := range cases {
		got, err := parseGetEx(argv(c.args), now)
		if replyOf(err) != c.err {
			t.Errorf("%s: error %q, want %q", c.args, replyOf(err), c.err)
			continue
		}
		if err == nil && (got.Expiry != c.kind || got.ExpireAt != c.at) {
			t.Errorf("%s: got %+v", c.args, got)
		}
	}
}

func TestParseExpire(t *testing.T) {
	cases := []struct {
		args     string
		unit     int64
		absolute bool
		at       int64
		err      string
	}{
		{"expire k 10", 1000, false, now + 10000, ""},
		{"expire k -10", 1000, false, now - 10000, ""},
		{"pexpire k 10", 1, false, now + 10, ""},
		{"expireat k 10", 1000, true, 10000, ""},
		{"pexpireat k 10 NX", 1, true, 10, ""},
		{"expire k 10 nx xx", 1000, false, 0, "ERR NX and XX, GT or LT options at the same time are not compatible"},
		{"expire k 10 nx gt", 1000, false, 0, "ERR NX and XX, GT or LT options at the same time are not compatible"},
		{"expire k 10 gt lt", 1000, false, 0, "ERR GT and LT options at the same time are not compatible"},
		{"expire k 10 xx gt", 1000, false, now + 10000, ""},
		{"expire k 10 foo", 1000, false, 0, "ERR Unsupported option foo"},
		{"expire k abc foo", 1000, false, 0, "ERR Unsupported option foo"},
		{"expire k abc", 1000, false, 0, "ERR value is not an integer or out of range"},
		{"expire k 9223372036854775807", 1000, false, 0, "ERR invalid expire time in 'expire' command"},
		{"pexpire k 9223372036854775807", 1, false, 0, "ERR invalid expire time in 'expire' command"},
	}
	for _, c := range cases {
		got, err := parseExpire(argv(c.args), "expire", c.unit, c.absolute, now)
		if replyOf(err) != c.err {
			t.Errorf("%s: error %q, want %q", c.args, replyOf(err), c.err)
			continue
		}
		if err == nil && got.At != c.at {
			t.Errorf("%s: at %d, want %d", c.args, got.At, c.at)
		}
	}
}

func TestExpireAllowed(t *testing.T) {
	cases := []struct {
		req  ExpireRequest
		cur  int64
		want bool
	}{
		{ExpireRequest{At: 100}, 0, true},
		{ExpireRequest{At: 100, NX: true}, 0, true},
		{ExpireRequest{At: 100, NX: true}, 50, false},
		{ExpireRequest{At: 100, XX: true}, 0, false},
		{ExpireRequest{At: 100, XX: true}, 50, true},
		{ExpireRequest{At: 100, GT: true}, 0, false}, // no expiry is infinite
		{ExpireRequest{At: 100, GT: true}, 50, true},
		{ExpireRequest{At: 100, GT: true}, 100, false},
		{ExpireRequest{At: 100, LT: true}, 0, true},
		{ExpireRequest{At: 100, LT: true}, 150, true},
		{ExpireRequest{At: 100, LT: true}, 100, false},
	}
	for _, c := range cases {
		if got := c.req.expireAllowed(c.cur); got != c.want {
			t.Errorf("%+v cur=%d: got %v", c.req, c.cur, got)
		}
	}
}

// FuzzParseSet: any argument list parses or fails with one of Redis's SET
// errors, never panics, and a parsed relative expiry lies in the future.
func FuzzParseSet(f *testing.F) {
	for _, s := range []string{"NX EX 10", "XX GET KEEPTTL", "PX 1 PX 2", "EXAT 0", "ex abc", "nx xx"} {
		f.Add(s)
	}
	allowed := map[string]bool{
		"ERR syntax error": true, "ERR value is not an integer or out of range": true,
		"ERR invalid expire time in 'set' command": true,
	}
	f.Fuzz(func(t *testing.T, opts string) {
		args := append(argv("set k v"), argv(opts)...)
		req, err := parseSet(args, now)
		if err != nil {
			if !allowed[replyOf(err)] {
				t.Fatalf("unexpected error %q", replyOf(err))
			}
			return
		}
		var nx, xx bool
		for _, a := range args[3:] {
			nx = nx || equalFold(a, "nx")
			xx = xx || equalFold(a, "xx")
		}
		if nx && xx {
			t.Fatalf("NX and XX accepted together: %q", opts)
		}
		if (req.Expiry == expEX || req.Expiry == expPX) && req.ExpireAt <= now {
			t.Fatalf("relative expiry not in the future: %+v", req)
		}
	})
}

// FuzzParseExpire: any input parses or fails with one of Redis's EXPIRE
// errors, and option conflicts are always rejected.
func FuzzParseExpire(f *testing.F) {
	for _, s := range []string{"10", "-1 NX", "10 XX GT", "5 gt lt", "abc", "9223372036854775807"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, rest string, seconds bool) {
		args := append(argv("expire k"), argv(rest)...)
		if len(args) < 3 {
			return
		}
		unit := int64(1)
		if seconds {
			unit = 1000
		}
		req, err := parseExpire(args, "expire", unit, false, now)
		if err != nil {
			msg := replyOf(err)
			if !strings.HasPrefix(msg, "ERR Unsupported option ") && !errors.Is(err, errExpireCompat) &&
				!errors.Is(err, errGTLTCompat) && !errors.Is(err, errNotInteger) &&
				msg != "ERR invalid expire time in 'expire' command" {
				t.Fatalf("unexpected error %q", msg)
			}
			return
		}
		if (req.NX && (req.XX || req.GT || req.LT)) || (req.GT && req.LT) {
			t.Fatalf("incompatible options accepted: %+v", req)
		}
	})
}

// TestParseCursor: SCAN's cursor reads as redis-server's strtoul does.
func TestParseCursor(t *testing.T) {
	for in, want := range map[string]uint64{
		"": 0, "0": 0, "+0": 0, "-0": 0, "17": 17, "+17": 17, "-1": math.MaxUint64,
		"-18446744073709551615": 1, "18446744073709551615": math.MaxUint64,
	} {
		if got, ok := parseCursor([]byte(in)); !ok || got != want {
			t.Errorf("parseCursor(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, bad := range []string{"-", "+", "1a", " 1", "1 ", "18446744073709551616", "--1", "0x10"} {
		if got, ok := parseCursor([]byte(bad)); ok {
			t.Errorf("parseCursor(%q) = %d, accepted", bad, got)
		}
	}
}
