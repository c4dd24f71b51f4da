package script

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// installBase replaces the base functions whose gopher-lua versions
// would see through, or write past, the sandbox's proxies, or whose
// results differ from Lua 5.1's as Redis runs it.
func (sb *sandbox) installBase() {
	g := sb.globals
	orig := func(name string) lua.LGFunction { return g.RawGetString(name).(*lua.LFunction).GFunction }
	origTostring, origLoad, origLoadstring := orig("tostring"), orig("load"), orig("loadstring")
	origSetmt, origGetmt := orig("setmetatable"), orig("getmetatable")
	fns := map[string]lua.LGFunction{
		"tostring":     sb.tostring(origTostring),
		"tonumber":     tonumber,
		"rawset":       sb.rawset,
		"rawget":       sb.rawget,
		"next":         sb.next,
		"setmetatable": sb.setmetatable(origSetmt),
		"getmetatable": sb.getmetatable(origGetmt),
		"load":         sb.withEnv(origLoad),
		"loadstring":   sb.withEnv(origLoadstring),
		"pcall":        redisPcall,
		"error":        luaError,
		"gcinfo":       gcinfo,
		// gopher-lua's collectgarbage runs a full Go GC on every call: one
		// script in a loop would stall the whole server.
		"collectgarbage": gcinfo,
	}
	for name, fn := range fns {
		g.RawSetString(name, sb.L.NewFunction(fn))
	}
	next := g.RawGetString("next")
	g.RawSetString("pairs", sb.L.NewFunction(func(L *lua.LState) int {
		L.CheckTable(1)
		L.Push(next)
		L.Push(L.Get(1))
		L.Push(lua.LNil)
		return 3
	}))
}

// luaString is Lua 5.1's tostring for strings and numbers ("%.14g").
func luaString(v lua.LValue) string {
	if n, ok := v.(lua.LNumber); ok {
		return formatG(float64(n), 14)
	}
	return lua.LVAsString(v)
}

// tonumber is Lua 5.1's luaB_tonumber. In base 10 (the default) it is
// lua_tonumber, which reads strings with C's strtod ("1e3", " 0x1p4 ",
// "inf"); in any other base the argument is read as a string (a number
// as its "%.14g" text) by C's strtoul, so a sign, a "0x" in base 16 and
// surrounding whitespace pass, and a negative number wraps around 2^64.
func tonumber(L *lua.LState) int {
	base := 10
	if L.Get(2) != lua.LNil {
		// luaL_optint: the number truncated to a long, then to an int.
		base = int(int32(toInteger(checkNumber(L, 2, "tonumber"))))
	}
	if base == 10 {
		checkAny(L, 1, "tonumber")
		if n, ok := luaNumber(L.Get(1)); ok {
			L.Push(lua.LNumber(n))
			return 1
		}
		L.Push(lua.LNil)
		return 1
	}
	s := cString(checkString(L, 1, "tonumber"))
	if base < 2 || base > 36 {
		argError(L, 2, "tonumber", "base out of range")
	}
	if v, n := strtoul(s, base); n > 0 && strings.TrimLeft(s[n:], cSpaces) == "" {
		L.Push(lua.LNumber(v))
		return 1
	}
	L.Push(lua.LNil)
	return 1
}

func (sb *sandbox) tostring(orig lua.LGFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		if n, ok := L.Get(1).(lua.LNumber); ok {
			L.Push(lua.LString(luaString(n)))
			return 1
		}
		return orig(L)
	}
}

// refuseReadonly raises the error Lua's rawset and setmetatable raise on
// a read-only table: without a position, as it comes from C.
func refuseReadonly(L *lua.LState) {
	L.Error(lua.LString(msgReadonlyTable), 0)
}

func (sb *sandbox) rawset(L *lua.LState) int {
	t := L.CheckTable(1)
	L.CheckAny(2)
	L.CheckAny(3)
	if _, isProxy := sb.backing(t); isProxy {
		refuseReadonly(L)
	}
	t.RawSet(L.Get(2), L.Get(3))
	L.SetTop(1)
	return 1
}

func (sb *sandbox) rawget(L *lua.LState) int {
	t, _ := sb.backing(L.CheckTable(1))
	L.CheckAny(2)
	L.Push(sb.hide(t.RawGet(L.Get(2))))
	return 1
}

func (sb *sandbox) next(L *lua.LState) int {
	t, _ := sb.backing(L.CheckTable(1))
	k, v := t.Next(L.Get(2))
	if k == lua.LNil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(k)
	L.Push(sb.hide(v))
	return 2
}

func (sb *sandbox) setmetatable(orig lua.LGFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		if t, ok := L.Get(1).(*lua.LTable); ok {
			if _, isProxy := sb.backing(t); isProxy {
				refuseReadonly(L)
			}
		}
		return orig(L)
	}
}

// getmetatable shows what Redis shows: the global table's metatable and
// the string metatable (read-only both), and no metatable for library
// tables, never the proxies' own metatables.
func (sb *sandbox) getmetatable(orig lua.LGFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		switch v := L.Get(1).(type) {
		case lua.LString:
			L.Push(sb.strMeta)
			return 1
		case *lua.LTable:
			if v == sb.env {
				L.Push(sb.envMeta)
				return 1
			}
			if _, isProxy := sb.backing(v); isProxy {
				L.Push(lua.LNil)
				return 1
			}
		}
		return orig(L)
	}
}

// withEnv makes the chunks load and loadstring compile see the
// sandbox's global table, not gopher-lua's real one.
func (sb *sandbox) withEnv(orig lua.LGFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		base := L.GetTop()
		n := orig(L)
		if fn, ok := L.Get(base + 1).(*lua.LFunction); ok && n > 0 {
			fn.Env = sb.env
		}
		return n
	}
}

// redisPcall is Redis 7's pcall: an error raised as a table with a
// string err field (as redis.call raises) is returned as that string, so
// that scripts written for Redis 6 still get a string.
func redisPcall(L *lua.LState) int {
	L.CheckAny(1)
	err := L.PCall(L.GetTop()-1, lua.MultRet, nil)
	if err == nil {
		L.Insert(lua.LTrue, 1)
		return L.GetTop()
	}
	var obj lua.LValue = lua.LString(err.Error())
	if apiErr, ok := err.(*lua.ApiError); ok {
		obj = apiErr.Object
	}
	if t, ok := obj.(*lua.LTable); ok {
		if msg, ok := t.RawGetString("err").(lua.LString); ok {
			obj = msg
		}
	}
	L.SetTop(0)
	L.Push(lua.LFalse)
	L.Push(obj)
	return 2
}

// luaError is Lua 5.1's error. gopher-lua's counts levels above 1 one
// frame short; this one names the frame level counts from error's caller.
func luaError(L *lua.LState) int {
	obj := L.Get(1)
	level := L.OptInt(2, 1)
	switch obj.(type) {
	case lua.LString, lua.LNumber:
		msg := luaString(obj)
		if level > 0 {
			msg = where(L, level) + msg
		}
		L.Error(lua.LString(msg), 0)
	}
	L.Error(obj, 0)
	return 0
}

// where is luaL_where: "source:line: " of the Lua function level frames
// above the running Go function, or "" if that is not a Lua function.
func where(L *lua.LState, level int) string {
	dbg, ok := L.GetStack(level)
	if !ok {
		return ""
	}
	if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil || dbg.What == "G" || dbg.CurrentLine <= 0 {
		return ""
	}
	return fmt.Sprintf("%s:%d: ", dbg.Source, dbg.CurrentLine)
}

// gcinfo is Lua 5.1's gcinfo, and collectgarbage: the memory in use, in
// kilobytes. gopher-lua's memory is Go's, collected by Go, so there is
// nothing meaningful to report or to do.
func gcinfo(L *lua.LState) int {
	L.Push(lua.LNumber(0))
	return 1
}
