package script

import (
	"strconv"
	"strings"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// JSON token types, named as lua-cjson names them in its errors.
const (
	tObjBegin = "T_OBJ_BEGIN"
	tObjEnd   = "T_OBJ_END"
	tArrBegin = "T_ARR_BEGIN"
	tArrEnd   = "T_ARR_END"
	tString   = "T_STRING"
	tNumber   = "T_NUMBER"
	tBoolean  = "T_BOOLEAN"
	tNull     = "T_NULL"
	tColon    = "T_COLON"
	tComma    = "T_COMMA"
	tEnd      = "T_END"
	tError    = "T_ERROR"
)

type jsonToken struct {
	kind  string
	index int // where the token (or its error) starts, 0-based
	str   string
	num   float64
	flag  bool
	err   string // for tError: what lua-cjson reports as found
}

// jsonDecoder is lua-cjson's decoder, errors and leniencies included:
// numbers are read by strtod, so hex, "inf" and "nan" pass, and a NUL
// byte ends the text as it ends a C string.
type jsonDecoder struct {
	L     *lua.LState
	null  lua.LValue
	data  string
	pos   int
	depth int
}

func (sb *sandbox) jsonDecode(L *lua.LState) int {
	if L.GetTop() != 1 {
		L.RaiseError("bad argument #1 to 'decode' (expected 1 argument)")
	}
	var text string
	switch v := L.Get(1).(type) {
	case lua.LString:
		text = string(v)
	case lua.LNumber:
		text = luaString(v)
	default:
		L.RaiseError("bad argument #1 to 'decode' (string expected, got %s)", v.Type().String())
	}
	if i := strings.IndexByte(text, 0); i >= 0 {
		text = text[:i]
	}
	d := &jsonDecoder{L: L, null: sb.null, data: text}
	v := d.value(d.next())
	if tok := d.next(); tok.kind != tEnd {
		d.fail("the end", tok)
	}
	L.Push(v)
	return 1
}

func (d *jsonDecoder) fail(expected string, tok jsonToken) {
	found := tok.kind
	if tok.kind == tError {
		found = tok.err
	}
	d.L.RaiseError("Expected %s but found %s at character %d", expected, found, tok.index+1)
}

func (d *jsonDecoder) value(tok jsonToken) lua.LValue {
	switch tok.kind {
	case tString:
		return lua.LString(tok.str)
	case tNumber:
		return lua.LNumber(tok.num)
	case tBoolean:
		return lua.LBool(tok.flag)
	case tNull:
		return d.null
	case tObjBegin:
		return d.object()
	case tArrBegin:
		return d.array()
	}
	d.fail("value", tok)
	return nil
}

func (d *jsonDecoder) descend() {
	d.depth++
	if d.depth > jsonMaxDepth {
		d.L.RaiseError("Found too many nested data structures (%d) at character %d", d.depth, d.pos)
	}
}

func (d *jsonDecoder) object() lua.LValue {
	d.descend()
	t := d.L.NewTable()
	tok := d.next()
	if tok.kind == tObjEnd {
		d.depth--
		return t
	}
	for {
		if tok.kind != tString {
			d.fail("object key string", tok)
		}
		key := tok.str
		if tok = d.next(); tok.kind != tColon {
			d.fail("colon", tok)
		}
		t.RawSetString(key, d.value(d.next()))
		tok = d.next()
		if tok.kind == tObjEnd {
			d.depth--
			return t
		}
		if tok.kind != tComma {
			d.fail("comma or object end", tok)
		}
		tok = d.next()
	}
}

func (d *jsonDecoder) array() lua.LValue {
	d.descend()
	t := d.L.NewTable()
	tok := d.next()
	if tok.kind == tArrEnd {
		d.depth--
		return t
	}
	for i := 1; ; i++ {
		t.RawSetInt(i, d.value(tok))
		tok = d.next()
		if tok.kind == tArrEnd {
			d.depth--
			return t
		}
		if tok.kind != tComma {
			d.fail("comma or array end", tok)
		}
		tok = d.next()
	}
}

var jsonPunct = map[byte]string{
	'{': tObjBegin, '}': tObjEnd, '[': tArrBegin, ']': tArrEnd, ':': tColon, ',': tComma,
}

func (d *jsonDecoder) next() jsonToken {
	for d.pos < len(d.data) && strings.IndexByte(" \t\n\r", d.data[d.pos]) >= 0 {
		d.pos++
	}
	tok := jsonToken{index: d.pos}
	if d.pos >= len(d.data) {
		tok.kind = tEnd
		return tok
	}
	c, rest := d.data[d.pos], d.data[d.pos:]
	if kind, ok := jsonPunct[c]; ok {
		d.pos++
		tok.kind = kind
		return tok
	}
	switch {
	case c == '"':
		return d.str(tok)
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number(tok)
	case strings.HasPrefix(rest, "true"), strings.HasPrefix(rest, "false"):
		tok.kind, tok.flag = tBoolean, c == 't'
		d.pos += len(strconv.FormatBool(tok.flag))
		return tok
	case strings.HasPrefix(rest, "null"):
		tok.kind = tNull
		d.pos += 4
		return tok
	case c == '+' || hasFoldPrefix(rest, "inf") || hasFoldPrefix(rest, "nan"):
		return d.number(tok)
	}
	return errToken(tok, "invalid token")
}

func hasFoldPrefix(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func errToken(tok jsonToken, msg string) jsonToken {
	tok.kind, tok.err = tError, msg
	return tok
}

func (d *jsonDecoder) number(tok jsonToken) jsonToken {
	f, n := strtod(d.data[d.pos:])
	if n == 0 {
		return errToken(tok, "invalid number")
	}
	d.pos += n
	tok.kind, tok.num = tNumber, f
	return tok
}

// jsonUnescapes is lua-cjson's escape2char.
var jsonUnescapes = map[byte]byte{
	'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t',
}

func (d *jsonDecoder) str(tok jsonToken) jsonToken {
	d.pos++ // the opening quote
	var b []byte
	for {
		if d.pos >= len(d.data) {
			tok.index = d.pos
			return errToken(tok, "unexpected end of string")
		}
		c := d.data[d.pos]
		if c == '"' {
			d.pos++
			tok.kind, tok.str = tString, string(b)
			return tok
		}
		if c != '\\' {
			b = append(b, c)
			d.pos++
			continue
		}
		tok.index = d.pos
		var esc byte
		if d.pos+1 < len(d.data) {
			esc = d.data[d.pos+1]
		}
		if esc == 'u' {
			r, n := d.unicodeEscape()
			if n == 0 {
				return errToken(tok, "invalid unicode escape code")
			}
			b = utf8.AppendRune(b, r)
			d.pos += n
			continue
		}
		ch, ok := jsonUnescapes[esc]
		if !ok {
			return errToken(tok, "invalid escape code")
		}
		b = append(b, ch)
		d.pos += 2
	}
}

// unicodeEscape reads \uXXXX, or a \uXXXX\uXXXX surrogate pair, at pos;
// n is how many bytes it took, 0 if invalid.
func (d *jsonDecoder) unicodeEscape() (r rune, n int) {
	hex4 := func(at int) int {
		if at+4 > len(d.data) {
			return -1
		}
		v, err := strconv.ParseUint(d.data[at:at+4], 16, 16)
		if err != nil {
			return -1
		}
		return int(v)
	}
	cp := hex4(d.pos + 2)
	if cp < 0 {
		return 0, 0
	}
	if cp&0xF800 != 0xD800 {
		return rune(cp), 6
	}
	if cp&0x400 != 0 || !strings.HasPrefix(d.data[d.pos+6:], `\u`) {
		return 0, 0
	}
	low := hex4(d.pos + 8)
	if low < 0 || low&0xFC00 != 0xDC00 {
		return 0, 0
	}
	return rune(((cp&0x3FF)<<10 | low&0x3FF) + 0x10000), 12
}
