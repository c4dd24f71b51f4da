package script

import (
	lua "github.com/yuin/gopher-lua"
)

// Argument checks of Lua 5.1's auxiliary library, with its error texts:
// gopher-lua's leave the quotes off the function's name. Lua names the
// function as the caller spelled it; these name it as the library does.

// argError is luaL_argerror: "bad argument #n to 'fname' (msg)".
func argError(L *lua.LState, n int, fname, msg string) {
	L.RaiseError("bad argument #%d to '%s' (%s)", n, fname, msg)
}

// typeError is luaL_typerror: argument n is not of type want.
func typeError(L *lua.LState, n int, fname, want string) {
	got := "no value"
	if n <= L.GetTop() {
		got = L.Get(n).Type().String()
	}
	argError(L, n, fname, want+" expected, got "+got)
}

// checkString is luaL_checklstring: a string, or a number as its "%.14g"
// text.
func checkString(L *lua.LState, n int, fname string) string {
	switch v := L.Get(n).(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return luaString(v)
	}
	typeError(L, n, fname, "string")
	return ""
}

// checkNumber is luaL_checknumber: a number, or a string that reads as
// one.
func checkNumber(L *lua.LState, n int, fname string) float64 {
	f, ok := luaNumber(L.Get(n))
	if !ok {
		typeError(L, n, fname, "number")
	}
	return f
}

// checkAny is luaL_checkany: argument n must be given, nil or not.
func checkAny(L *lua.LState, n int, fname string) {
	if n > L.GetTop() {
		argError(L, n, fname, "value expected")
	}
}
