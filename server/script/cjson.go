package script

import (
	"math"
	"strconv"

	lua "github.com/yuin/gopher-lua"
)

// lua-cjson's defaults, which Redis never changes.
const (
	jsonMaxDepth    = 1000
	jsonSparseRatio = 2
	jsonSparseSafe  = 10
)

// cjsonLib builds the cjson table: lua-cjson 2.1.0 as Redis 7.0 ships it.
// The settings functions (encode_sparse_array and the like) report the
// defaults and change nothing: in Redis a change would outlive the script
// and leak into others, which a sandbox must not allow.
func (sb *sandbox) cjsonLib() *lua.LTable {
	L := sb.L
	t := L.NewTable()
	t.RawSetString("encode", L.NewFunction(sb.jsonEncode))
	t.RawSetString("decode", L.NewFunction(sb.jsonDecode))
	t.RawSetString("null", sb.null)
	t.RawSetString("_NAME", lua.LString("cjson"))
	t.RawSetString("_VERSION", lua.LString("2.1.0"))
	settings := map[string][]lua.LValue{
		"encode_sparse_array":     {lua.LFalse, lua.LNumber(jsonSparseRatio), lua.LNumber(jsonSparseSafe)},
		"encode_max_depth":        {lua.LNumber(jsonMaxDepth)},
		"decode_max_depth":        {lua.LNumber(jsonMaxDepth)},
		"encode_number_precision": {lua.LNumber(14)},
		"encode_keep_buffer":      {lua.LTrue},
		"encode_invalid_numbers":  {lua.LFalse},
		"decode_invalid_numbers":  {lua.LTrue},
	}
	for name, vals := range settings {
		t.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			for _, v := range vals {
				L.Push(v)
			}
			return len(vals)
		}))
	}
	t.RawSetString("new", L.NewFunction(func(L *lua.LState) int {
		L.Push(sb.hide(t))
		return 1
	}))
	return t
}

func (sb *sandbox) jsonEncode(L *lua.LState) int {
	if L.GetTop() != 1 {
		L.RaiseError("bad argument #1 to 'encode' (expected 1 argument)")
	}
	enc := jsonEncoder{L: L, sb: sb}
	enc.value(L.Get(1), 0)
	L.Push(lua.LString(enc.buf))
	return 1
}

type jsonEncoder struct {
	L   *lua.LState
	sb  *sandbox
	buf []byte
}

func (e *jsonEncoder) fail(v lua.LValue, why string) {
	e.L.RaiseError("Cannot serialise %s: %s", v.Type().String(), why)
}

func (e *jsonEncoder) value(v lua.LValue, depth int) {
	switch v := v.(type) {
	case lua.LString:
		e.buf = appendJSONString(e.buf, string(v))
	case lua.LNumber:
		e.number(v)
	case lua.LBool:
		e.buf = strconv.AppendBool(e.buf, bool(v))
	case *lua.LNilType:
		e.buf = append(e.buf, "null"...)
	case *lua.LTable:
		e.table(v, depth+1)
	default:
		if v == e.sb.null {
			e.buf = append(e.buf, "null"...)
			return
		}
		e.fail(v, "type not supported")
	}
}

func (e *jsonEncoder) number(n lua.LNumber) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		e.fail(n, "must not be NaN or Inf")
	}
	e.buf = append(e.buf, formatG(f, 14)...)
}

func (e *jsonEncoder) table(t *lua.LTable, depth int) {
	if depth > jsonMaxDepth {
		e.L.RaiseError("Cannot serialise, excessive nesting (%d)", depth)
	}
	t, _ = e.sb.backing(t)
	if n := e.arrayLength(t); n > 0 {
		e.buf = append(e.buf, '[')
		for i := 1; i <= n; i++ {
			if i > 1 {
				e.buf = append(e.buf, ',')
			}
			e.value(t.RawGetInt(i), depth)
		}
		e.buf = append(e.buf, ']')
		return
	}
	e.buf = append(e.buf, '{')
	first := true
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		if !first {
			e.buf = append(e.buf, ',')
		}
		first = false
		switch k := k.(type) {
		case lua.LNumber:
			e.buf = append(e.buf, '"')
			e.number(k)
			e.buf = append(e.buf, '"', ':')
		case lua.LString:
			e.buf = append(appendJSONString(e.buf, string(k)), ':')
		default:
			e.fail(k, "table key must be a number or string")
		}
		e.value(v, depth)
	}
	e.buf = append(e.buf, '}')
}

// arrayLength is lua-cjson's lua_array_length: the largest key if every
// key is a positive integer, -1 if the table is an object; an array with
// too many holes is an error.
func (e *jsonEncoder) arrayLength(t *lua.LTable) int {
	maxKey, items := 0, 0
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		n, ok := k.(lua.LNumber)
		f := float64(n)
		if !ok || f < 1 || math.Floor(f) != f {
			return -1
		}
		maxKey = max(maxKey, int(min(f, math.MaxInt32)))
		items++
	}
	if maxKey > items*jsonSparseRatio && maxKey > jsonSparseSafe {
		e.fail(t, "excessively sparse array")
	}
	return maxKey
}

// jsonEscapes is lua-cjson's char2escape: control characters, '"', '\\'
// and '/' are escaped; other bytes, UTF-8 or not, pass as they are.
var jsonEscapes = func() [256]string {
	var esc [256]string
	for c := 0; c < 0x20; c++ {
		esc[c] = `\u00` + string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15])
	}
	esc['\b'], esc['\t'], esc['\n'], esc['\f'], esc['\r'] = `\b`, `\t`, `\n`, `\f`, `\r`
	esc['"'], esc['\\'], esc['/'], esc[0x7f] = `\"`, `\\`, `\/`, `\u007f`
	return esc
}()

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if esc := jsonEscapes[s[i]]; esc != "" {
			b = append(b, esc...)
		} else {
			b = append(b, s[i])
		}
	}
	return append(b, '"')
}
