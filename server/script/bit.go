package script

import (
	"math"
	"math/bits"

	lua "github.com/yuin/gopher-lua"
)

// bitLib builds LuaBitOp's bit table: operations on 32-bit integers, with
// results as signed 32-bit numbers.
func (sb *sandbox) bitLib() *lua.LTable {
	t := sb.L.NewTable()
	fold := func(name string, op func(a, b uint32) uint32) lua.LGFunction {
		return func(L *lua.LState) int {
			b := bitArg(L, 1, name)
			for i := L.GetTop(); i > 1; i-- {
				b = op(b, bitArg(L, i, name))
			}
			return bitRet(L, b)
		}
	}
	shift := func(name string, op func(b uint32, n uint) uint32) lua.LGFunction {
		return func(L *lua.LState) int {
			b := bitArg(L, 1, name)
			return bitRet(L, op(b, uint(bitArg(L, 2, name)&31)))
		}
	}
	unary := func(name string, op func(b uint32) uint32) lua.LGFunction {
		return func(L *lua.LState) int { return bitRet(L, op(bitArg(L, 1, name))) }
	}
	fns := map[string]lua.LGFunction{
		"tobit":   unary("tobit", func(b uint32) uint32 { return b }),
		"bnot":    unary("bnot", func(b uint32) uint32 { return ^b }),
		"bswap":   unary("bswap", bits.ReverseBytes32),
		"band":    fold("band", func(a, b uint32) uint32 { return a & b }),
		"bor":     fold("bor", func(a, b uint32) uint32 { return a | b }),
		"bxor":    fold("bxor", func(a, b uint32) uint32 { return a ^ b }),
		"lshift":  shift("lshift", func(b uint32, n uint) uint32 { return b << n }),
		"rshift":  shift("rshift", func(b uint32, n uint) uint32 { return b >> n }),
		"arshift": shift("arshift", func(b uint32, n uint) uint32 { return uint32(int32(b) >> n) }),
		"rol":     shift("rol", func(b uint32, n uint) uint32 { return bits.RotateLeft32(b, int(n)) }),
		"ror":     shift("ror", func(b uint32, n uint) uint32 { return bits.RotateLeft32(b, -int(n)) }),
		"tohex":   tohex,
	}
	for name, fn := range fns {
		t.RawSetString(name, sb.L.NewFunction(fn))
	}
	return t
}

// bitArg is LuaBitOp's barg: the number's low 32 bits after rounding, by
// the same trick (adding 2^52+2^51 puts the integer part in the low bits
// of the mantissa), so that out-of-range numbers wrap as they do there.
func bitArg(L *lua.LState, i int, name string) uint32 {
	v := L.Get(i)
	n, ok := luaNumber(v)
	b := uint32(math.Float64bits(n + 6755399441055744.0))
	if b == 0 && !ok {
		got := v.Type().String()
		if i > L.GetTop() {
			got = "no value"
		}
		L.RaiseError("bad argument #%d to '%s' (number expected, got %s)", i, name, got)
	}
	return b
}

func bitRet(L *lua.LState, b uint32) int {
	L.Push(lua.LNumber(int32(b)))
	return 1
}

func tohex(L *lua.LState) int {
	b := bitArg(L, 1, "tohex")
	n := int32(8)
	if L.GetTop() >= 2 {
		n = int32(bitArg(L, 2, "tohex"))
	}
	digits := "0123456789abcdef"
	if n < 0 {
		n, digits = -n, "0123456789ABCDEF"
	}
	if n > 8 || n < 0 { // n < 0: -MinInt32 overflowed
		n = 8
	}
	buf := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		buf[i] = digits[b&15]
		b >>= 4
	}
	L.Push(lua.LString(buf))
	return 1
}
