package script

import (
	"bytes"
	"math"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

var respSeeds = []string{
	"+OK\r\n", "-ERR bad thing\r\n", "-WRONGTYPE Operation\r\n", ":42\r\n", ":-9007199254740992\r\n",
	"$5\r\nhello\r\n", "$0\r\n\r\n", "$-1\r\n", "*-1\r\n", "*0\r\n", "*2\r\n$1\r\na\r\n:1\r\n",
	"%1\r\n$1\r\nk\r\n$1\r\nv\r\n", "~2\r\n$1\r\na\r\n$1\r\nb\r\n", "_\r\n", "#t\r\n", "#f\r\n",
	",1.5\r\n", ",inf\r\n", ",-inf\r\n", ",nan\r\n", "(12345678901234567890\r\n", "=8\r\ntxt:text\r\n",
	"|1\r\n+key\r\n+val\r\n:5\r\n", "*3\r\n:1\r\n_\r\n:3\r\n", "*1\r\n*1\r\n*1\r\n+deep\r\n",
}

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind byte
		ok   bool
	}{
		{"+OK\r\n", '+', true},
		{":12\r\n", ':', true},
		{"$3\r\nabc\r\n", '$', true},
		{"$3\r\nab\r\n", 0, false},
		{"$-2\r\n", 0, false},
		{"*2\r\n:1\r\n", 0, false},
		{"%1\r\n:1\r\n:2\r\n", '%', true},
		{"|1\r\n+a\r\n+b\r\n#t\r\n", '#', true},
		{"#x\r\n", 0, false},
		{"=3\r\nabc\r\n", 0, false},
		{"?\r\n", 0, false},
		{"+no end", 0, false},
		{strings.Repeat("*1\r\n", maxReplyDepth+2) + ":1\r\n", 0, false},
	} {
		r, rest, err := parseReply([]byte(tc.in))
		if (err == nil) != tc.ok || (tc.ok && (r.kind != tc.kind || len(rest) != 0)) {
			t.Errorf("parseReply(%q) = kind %q, rest %q, err %v", tc.in, r.kind, rest, err)
		}
	}
}

// FuzzRESPToLua checks that any reply a host may send converts to Lua and
// back without panicking, into well-formed RESP, and that the replies
// Redis itself carries through a script unchanged come back unchanged.
func FuzzRESPToLua(f *testing.F) {
	for _, s := range respSeeds {
		f.Add([]byte(s))
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	f.Fuzz(func(t *testing.T, in []byte) {
		r, _, err := parseReply(in)
		if err != nil {
			return
		}
		v := toLua(L, r)
		for _, enc := range []encoder{{2, 2}, {2, 3}, {3, 2}, {3, 3}} {
			out := enc.encode(nil, v, 0)
			if _, rest, err := parseReply(out); err != nil || len(rest) != 0 {
				t.Fatalf("%+v: %q became malformed %q", enc, in, out)
			}
		}
		if stable(r, true) {
			want := canonical(nil, r)
			if got := (encoder{3, 3}).encode(nil, v, 0); !bytes.Equal(got, want) {
				t.Fatalf("%q did not round-trip: got %q, want %q", in, got, want)
			}
		}
	})
}

// stable reports whether Redis carries r through Lua unchanged with both
// protocols at 3: not nulls inside arrays (they end the array), not
// integers past 2^53 (Lua numbers are doubles), not doubles whose text
// is not the "%.17g" one, not error replies without a code, not maps and
// sets whose keys Lua would merge or reorder.
func stable(r reply, top bool) bool {
	switch r.kind {
	case '#', '=':
		return true
	case '+', '(':
		// CR and LF become spaces, as the reply is one line.
		return !bytes.ContainsAny(r.str, "\r\n")
	case '-':
		s := string(r.str)
		i := strings.IndexByte(s, ' ')
		return i > 0 && !strings.ContainsAny(s, "\r\n") && strings.Trim(s[i+1:], "\r\n") == s[i+1:]
	case ':':
		return r.num >= -1<<53 && r.num <= 1<<53
	case ',':
		return !math.IsNaN(r.dbl)
	case '_':
		return top
	case '$':
		return !r.null
	case '*':
		if r.null {
			return false
		}
		for _, e := range r.elems {
			if !stable(e, false) {
				return false
			}
		}
		return true
	case '%', '~':
		seen := map[string]bool{}
		step := 1
		if r.kind == '%' {
			step = 2
		}
		for i := 0; i < len(r.elems); i += step {
			k := r.elems[i]
			if k.kind != '$' || k.null || seen[string(k.str)] {
				return false
			}
			seen[string(k.str)] = true
			if r.kind == '%' && !stable(r.elems[i+1], false) {
				return false
			}
		}
		return true
	}
	return false
}

// canonical writes r as Redis would.
func canonical(b []byte, r reply) []byte {
	switch r.kind {
	case '+', '-', '(':
		return append(append(append(b, r.kind), r.str...), "\r\n"...)
	case ':':
		return appendInt(b, ':', r.num)
	case ',':
		return append(append(append(b, ','), formatG(r.dbl, 17)...), "\r\n"...)
	case '#':
		if r.flag {
			return append(b, "#t\r\n"...)
		}
		return append(b, "#f\r\n"...)
	case '_':
		return append(b, "_\r\n"...)
	case '$':
		return appendBulk(b, string(r.str))
	case '=':
		b = appendInt(b, '=', int64(len(r.str)+4))
		return append(append(append(append(b, r.format...), ':'), r.str...), "\r\n"...)
	}
	kind, n := r.kind, len(r.elems)
	if kind == '%' {
		n /= 2
	}
	b = appendInt(b, kind, int64(n))
	for _, e := range r.elems {
		b = canonical(b, e)
	}
	return b
}

// FuzzLuaToRESP builds Lua values from the input, tables of every special
// shape included, and checks that both protocols encode them into one
// well-formed reply.
func FuzzLuaToRESP(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	f.Add([]byte("random bytes for a value"))
	f.Add([]byte{9, 9, 9, 9, 9, 9, 2, 3})
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	f.Fuzz(func(t *testing.T, in []byte) {
		g := &valueGen{L: L, in: in}
		v := g.value(0)
		for _, enc := range []encoder{{2, 2}, {2, 3}, {3, 2}, {3, 3}} {
			out := enc.encode(nil, v, 0)
			if _, rest, err := parseReply(out); err != nil || len(rest) != 0 {
				t.Fatalf("%+v: %x encoded to malformed %q", enc, in, out)
			}
		}
	})
}

// valueGen turns bytes into a Lua value.
type valueGen struct {
	L  *lua.LState
	in []byte
}

func (g *valueGen) next() byte {
	if len(g.in) == 0 {
		return 0
	}
	b := g.in[0]
	g.in = g.in[1:]
	return b
}

func (g *valueGen) str() lua.LString {
	n := int(g.next() % 8)
	s := make([]byte, 0, n)
	for range n {
		s = append(s, g.next())
	}
	return lua.LString(s)
}

func (g *valueGen) value(depth int) lua.LValue {
	kind := g.next() % 14
	if depth > 4 && kind >= 6 {
		kind %= 6
	}
	switch kind {
	case 0:
		return lua.LNil
	case 1:
		return lua.LBool(g.next()%2 == 0)
	case 2:
		return lua.LNumber(math.Float64frombits(uint64(g.next())<<56 | uint64(g.next())<<8 | uint64(g.next())))
	case 3:
		return lua.LNumber(int8(g.next()))
	case 4:
		return g.str()
	case 5:
		return g.L.NewFunction(func(*lua.LState) int { return 0 })
	case 6, 7:
		t := g.L.NewTable()
		for i := range int(g.next() % 5) {
			t.RawSetInt(i+1, g.value(depth+1))
		}
		if g.next()%3 == 0 {
			t.RawSet(g.value(depth+1), g.value(depth+1))
		}
		return t
	}
	names := []string{"err", "ok", "double", "big_number", "verbatim_string", "map", "set"}
	name := names[int(kind-8)%len(names)]
	v := g.value(depth + 1)
	if name == "verbatim_string" && g.next()%2 == 0 {
		vt := g.L.NewTable()
		vt.RawSetString("format", g.str())
		vt.RawSetString("string", g.str())
		v = vt
	}
	if k := g.next(); k%4 == 0 {
		// A self-reference: encoding must still end.
		t := g.L.NewTable()
		t.RawSetInt(1, t)
		return field(g.L, name, t)
	}
	return field(g.L, name, v)
}

// FuzzCJSON checks that cjson.decode of any text either fails with a Lua
// error or gives a value cjson.encode accepts, and never panics.
func FuzzCJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":null}],"c":"\u00e9"}`, `[1,2`, `"\ud83d\ude00"`, `0x10`, `-`, `1e400`, `[[[[]]]]`, `{"a" 1}`, "\"a\x00b\""} {
		f.Add(s)
	}
	e := newEngine(f, DefaultConfig())
	script := "local ok, v = pcall(cjson.decode, ARGV[1]) if not ok then return {err=v} end return cjson.encode(v)"
	f.Fuzz(func(t *testing.T, in string) {
		out := eval(e, script, Run{Args: [][]byte{[]byte(in)}})
		r, rest, err := parseReply([]byte(out))
		if err != nil || len(rest) != 0 {
			t.Fatalf("%q: malformed reply %q", in, out)
		}
		if r.kind == '$' {
			again := eval(e, "return cjson.encode(cjson.decode(ARGV[1]))", Run{Args: [][]byte{r.str}})
			if !strings.HasPrefix(again, "$") && !strings.Contains(again, "excessively sparse") {
				t.Fatalf("%q: re-decoding %q failed: %q", in, r.str, again)
			}
		}
	})
}

func TestStrtod(t *testing.T) {
	for _, tc := range []struct {
		in string
		f  float64
		n  int
	}{
		{"12", 12, 2}, {"-1.5e3x", -1500, 6}, {"1e", 1, 1}, {"0x10", 16, 4}, {"-0x1p4", -16, 6},
		{".5", 0.5, 2}, {"1.", 1, 2}, {"inf", math.Inf(1), 3}, {"-Infinity", math.Inf(-1), 9},
		{"+7", 7, 2}, {"-", 0, 0}, {"x", 0, 0}, {"1e400", math.Inf(1), 5},
		{"0x.8", 0.5, 4}, {"-0x1.8p1", -3, 8}, {"0x1.z", 1, 4}, {"0x.", 0, 1}, {"0xp1", 0, 1}, {"0x1p+", 1, 3},
	} {
		f, n := strtod(tc.in)
		if f != tc.f || n != tc.n {
			t.Errorf("strtod(%q) = %v, %d; want %v, %d", tc.in, f, n, tc.f, tc.n)
		}
	}
	for _, tc := range []struct {
		in  string
		neg bool
		n   int
	}{{"nan", false, 3}, {"-NaN", true, 4}, {"nan(0x1_a)", false, 10}, {"nan(1", false, 3}, {"nan()x", false, 5}} {
		if f, n := strtod(tc.in); !math.IsNaN(f) || math.Signbit(f) != tc.neg || n != tc.n {
			t.Errorf("strtod(%q) = %v, %d; want a NaN, negative %v, %d", tc.in, f, n, tc.neg, tc.n)
		}
	}
}

func TestFormatG(t *testing.T) {
	for _, tc := range []struct {
		d    float64
		prec int
		want string
	}{
		{0.1, 17, "0.10000000000000001"}, {1e20, 17, "1e+20"}, {100, 17, "100"}, {1.0 / 3, 14, "0.33333333333333"},
		{1e15, 14, "1e+15"}, {123456789012345678, 17, "1.2345678901234568e+17"}, {math.Copysign(0, -1), 14, "-0"},
		{math.Inf(1), 17, "inf"}, {math.NaN(), 17, "nan"}, {-math.NaN(), 17, "-nan"},
	} {
		if got := formatG(tc.d, tc.prec); got != tc.want {
			t.Errorf("formatG(%v, %d) = %q, want %q", tc.d, tc.prec, got, tc.want)
		}
	}
	for _, tc := range []struct {
		d    float64
		want int64
	}{{3.99, 3}, {-3.99, -3}, {math.NaN(), math.MinInt64}, {math.Inf(1), math.MinInt64}, {0x1p63, math.MinInt64}, {-0x1p63, math.MinInt64}} {
		if got := toInteger(tc.d); got != tc.want {
			t.Errorf("toInteger(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}
