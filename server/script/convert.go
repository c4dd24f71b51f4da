package script

import (
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// toLua converts a command's reply to the Lua value redis.call returns,
// as Redis 7.0's redisProtocolToLuaType does.
func toLua(L *lua.LState, r reply) lua.LValue {
	switch r.kind {
	case '+':
		return field(L, "ok", lua.LString(r.str))
	case '-':
		t := errTable(L, "-"+string(r.str))
		t.RawSetString("ignore_error_stats_update", lua.LTrue)
		return t
	case ':':
		return lua.LNumber(r.num)
	case '$', '*':
		if r.null {
			return lua.LFalse
		}
		if r.kind == '$' {
			return lua.LString(r.str)
		}
		t := L.CreateTable(len(r.elems), 0)
		for i, e := range r.elems {
			// A RESP3 null element is nil, which leaves a hole, as in Redis.
			t.RawSetInt(i+1, toLua(L, e))
		}
		return t
	case '%':
		m := L.NewTable()
		for i := 0; i+1 < len(r.elems); i += 2 {
			setKey(m, toLua(L, r.elems[i]), toLua(L, r.elems[i+1]))
		}
		return field(L, "map", m)
	case '~':
		s := L.NewTable()
		for _, e := range r.elems {
			setKey(s, toLua(L, e), lua.LTrue)
		}
		return field(L, "set", s)
	case '#':
		return lua.LBool(r.flag)
	case ',':
		return field(L, "double", lua.LNumber(r.dbl))
	case '(':
		return field(L, "big_number", lua.LString(r.str))
	case '=':
		v := L.NewTable()
		v.RawSetString("string", lua.LString(r.str))
		v.RawSetString("format", lua.LString(r.format))
		return field(L, "verbatim_string", v)
	}
	return lua.LNil // '_'
}

// setKey sets t[k] = v, skipping the keys Lua refuses (nil and NaN),
// which no real command sends.
func setKey(t *lua.LTable, k, v lua.LValue) {
	if k == lua.LNil {
		return
	}
	if n, ok := k.(lua.LNumber); ok && math.IsNaN(float64(n)) {
		return
	}
	t.RawSet(k, v)
}

func field(L *lua.LState, name string, v lua.LValue) *lua.LTable {
	t := L.CreateTable(0, 1)
	t.RawSetString(name, v)
	return t
}

// maxEncodeDepth is where encoding a script's result gives up, so that a
// table that contains itself ends, as in Redis, with an error element. It
// stays below maxReplyDepth so that every reply written parses again.
const maxEncodeDepth = maxReplyDepth - 1

// encoder converts a script's result to RESP as Redis 7.0's
// luaReplyToRedisReply does. client is the calling client's protocol
// (how aggregates, doubles and nulls are written); script is the
// script's own (redis.setresp), which decides what booleans mean.
type encoder struct {
	client, script int
}

func (e encoder) encode(b []byte, v lua.LValue, depth int) []byte {
	if depth > maxEncodeDepth {
		return append(b, "-ERR reached lua stack limit\r\n"...)
	}
	switch v := v.(type) {
	case lua.LString:
		return appendBulk(b, string(v))
	case lua.LBool:
		return e.boolean(b, bool(v))
	case lua.LNumber:
		return appendInt(b, ':', toInteger(float64(v)))
	case *lua.LTable:
		return e.table(b, v, depth)
	}
	return e.null(b)
}

func (e encoder) boolean(b []byte, v bool) []byte {
	switch {
	case e.script == 2 && v:
		return append(b, ":1\r\n"...)
	case e.script == 2:
		return e.null(b)
	case e.client == 2 && v:
		return append(b, ":1\r\n"...)
	case e.client == 2:
		return append(b, ":0\r\n"...)
	case v:
		return append(b, "#t\r\n"...)
	}
	return append(b, "#f\r\n"...)
}

func (e encoder) null(b []byte) []byte {
	if e.client == 3 {
		return append(b, "_\r\n"...)
	}
	return append(b, "$-1\r\n"...)
}

// table checks the special fields in Redis's order: err, ok, double,
// big_number, verbatim_string, map, set; anything else is an array.
func (e encoder) table(b []byte, t *lua.LTable, depth int) []byte {
	if s, ok := t.RawGetString("err").(lua.LString); ok {
		return append(b, errorReply("-"+string(s))...)
	}
	if s, ok := t.RawGetString("ok").(lua.LString); ok {
		return append(append(append(b, '+'), oneLine(string(s))...), "\r\n"...)
	}
	if d, ok := t.RawGetString("double").(lua.LNumber); ok {
		return e.double(b, float64(d))
	}
	if s, ok := t.RawGetString("big_number").(lua.LString); ok {
		if e.client == 2 {
			return appendBulk(b, oneLine(string(s)))
		}
		return append(append(append(b, '('), oneLine(string(s))...), "\r\n"...)
	}
	if vt, ok := t.RawGetString("verbatim_string").(*lua.LTable); ok {
		format, okf := vt.RawGetString("format").(lua.LString)
		s, oks := vt.RawGetString("string").(lua.LString)
		if okf && oks {
			return e.verbatim(b, string(format), string(s))
		}
	}
	if m, ok := t.RawGetString("map").(*lua.LTable); ok {
		return e.pairs(b, m, depth, true)
	}
	if s, ok := t.RawGetString("set").(*lua.LTable); ok {
		return e.pairs(b, s, depth, false)
	}
	n := 0
	for t.RawGetInt(n+1) != lua.LNil {
		n++
	}
	b = appendInt(b, '*', int64(n))
	for i := 1; i <= n; i++ {
		b = e.encode(b, t.RawGetInt(i), depth+1)
	}
	return b
}

func (e encoder) double(b []byte, d float64) []byte {
	s := formatG(d, 17)
	if e.client == 2 {
		return appendBulk(b, s)
	}
	return append(append(append(b, ','), s...), "\r\n"...)
}

func (e encoder) verbatim(b []byte, format, s string) []byte {
	if e.client == 2 {
		return appendBulk(b, s)
	}
	// Redis copies exactly three bytes of the format.
	format = (format + "   ")[:3]
	b = appendInt(b, '=', int64(len(s)+4))
	return append(append(append(append(b, format...), ':'), s...), "\r\n"...)
}

// pairs writes a map (key and value of every entry) or a set (keys).
func (e encoder) pairs(b []byte, t *lua.LTable, depth int, isMap bool) []byte {
	// Next, not ForEach: ForEach walks Go maps, in random order.
	n := 0
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		n++
	}
	switch {
	case isMap && e.client == 3:
		b = appendInt(b, '%', int64(n))
	case isMap:
		b = appendInt(b, '*', int64(2*n))
	case e.client == 3:
		b = appendInt(b, '~', int64(n))
	default:
		b = appendInt(b, '*', int64(n))
	}
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		b = e.encode(b, k, depth+1)
		if isMap {
			b = e.encode(b, v, depth+1)
		}
	}
	return b
}

func appendBulk(b []byte, s string) []byte {
	b = appendInt(b, '$', int64(len(s)))
	return append(append(b, s...), "\r\n"...)
}

func appendInt(b []byte, kind byte, n int64) []byte {
	b = strconv.AppendInt(append(b, kind), n, 10)
	return append(b, "\r\n"...)
}

// oneLine replaces CR and LF by spaces, as Redis does for status and big
// number replies, which cannot span lines.
func oneLine(s string) string {
	return lineBreaks.Replace(s)
}

// lineBreaks works on bytes, so that binary text passes unchanged.
var lineBreaks = strings.NewReplacer("\r", " ", "\n", " ")
