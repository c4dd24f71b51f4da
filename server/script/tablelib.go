package script

import (
	lua "github.com/yuin/gopher-lua"
)

// addTableCompat adds the Lua 5.1 table functions gopher-lua leaves out
// and Redis scripts can still call (foreach, foreachi and setn), and
// keeps the writing ones off read-only tables.
func (sb *sandbox) addTableCompat() {
	t := sb.globals.RawGetString("table").(*lua.LTable)
	for _, name := range []string{"insert", "remove", "sort"} {
		t.RawSetString(name, sb.L.NewFunction(sb.refuseProxy(t.RawGetString(name).(*lua.LFunction).GFunction)))
	}
	t.RawSetString("foreach", sb.L.NewFunction(tableForeach))
	t.RawSetString("foreachi", sb.L.NewFunction(tableForeachi))
	t.RawSetString("setn", sb.L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("'setn' is obsolete")
		return 0
	}))
}

// refuseProxy guards a table function that writes its first argument
// with raw sets, which would otherwise write into a read-only proxy.
func (sb *sandbox) refuseProxy(orig lua.LGFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		if t, ok := L.Get(1).(*lua.LTable); ok {
			if _, isProxy := sb.backing(t); isProxy {
				refuseReadonly(L)
			}
		}
		return orig(L)
	}
}

// tableForeach calls f(k, v) for every entry until f returns non-nil.
func tableForeach(L *lua.LState) int {
	t := L.CheckTable(1)
	f := L.CheckFunction(2)
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		if r := callPair(L, f, k, v); r != lua.LNil {
			L.Push(r)
			return 1
		}
	}
	return 0
}

// tableForeachi calls f(i, t[i]) for i = 1, #t until f returns non-nil.
func tableForeachi(L *lua.LState) int {
	t := L.CheckTable(1)
	f := L.CheckFunction(2)
	for i := 1; i <= t.Len(); i++ {
		if r := callPair(L, f, lua.LNumber(i), t.RawGetInt(i)); r != lua.LNil {
			L.Push(r)
			return 1
		}
	}
	return 0
}

func callPair(L *lua.LState, f *lua.LFunction, k, v lua.LValue) lua.LValue {
	L.Push(f)
	L.Push(k)
	L.Push(v)
	L.Call(2, 1)
	r := L.Get(-1)
	L.Pop(1)
	return r
}
