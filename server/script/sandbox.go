package script

import (
	"math"

	lua "github.com/yuin/gopher-lua"
)

// sandbox is one prepared Lua state: Redis 7.0's libraries, with every
// table a script can reach made read-only. Scripts see library tables and
// the global table only through empty proxy tables whose metatables send
// reads to the real table and refuse writes, which is how gopher-lua (no
// read-only tables of its own) gets Redis 7.0's "Attempt to modify a
// readonly table". Because nothing a script can reach is writable, a
// sandbox can run one script after another without one seeing another's
// leftovers; KEYS and ARGV are replaced on each run.
type sandbox struct {
	L       *lua.LState
	globals *lua.LTable // the real global table, holding proxies
	env     *lua.LTable // the proxy scripts see as _G
	// real maps each proxy to the table behind it.
	real map[*lua.LTable]*lua.LTable
	// proxyOf maps each real library table to its proxy.
	proxyOf map[*lua.LTable]*lua.LTable
	envMeta *lua.LTable // what getmetatable(_G) shows: a proxy
	strMeta *lua.LTable // what getmetatable("") shows: a proxy
	null    *lua.LUserData
	handler *lua.LFunction // the error handler of every run
	run     *run           // the script running now; nil between runs
}

// globalNames are the globals Redis 7.0.15 leaves to scripts, less
// cmsgpack and struct, which this package does not provide, and KEYS and
// ARGV, which are set per run.
var globalNames = []string{
	"_VERSION", "assert", "collectgarbage", "coroutine", "error",
	"getmetatable", "ipairs", "load", "loadstring", "math", "next", "pairs",
	"pcall", "rawequal", "rawget", "rawset", "select", "setmetatable",
	"string", "table", "tonumber", "tostring", "type", "unpack", "xpcall",
}

// libraries are the library tables scripts may read but not change.
var libraries = []string{"string", "table", "math", "coroutine", "cjson", "bit", "redis"}

func newSandbox() *sandbox {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:        true,
		CallStackSize:       1000,
		RegistrySize:        1024,
		RegistryMaxSize:     1 << 20,
		MinimizeStackMemory: true,
	})
	sb := &sandbox{
		L:       L,
		globals: L.G.Global,
		real:    map[*lua.LTable]*lua.LTable{},
		proxyOf: map[*lua.LTable]*lua.LTable{},
		null:    L.NewUserData(),
	}
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{"", lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath}, {lua.CoroutineLibName, lua.OpenCoroutine}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	// gopher-lua's math.huge is the largest finite number; Lua's is +Inf
	// (cjson refuses to encode it, comparisons and arithmetic differ).
	L.GetGlobal(lua.MathLibName).(*lua.LTable).RawSetString("huge", lua.LNumber(math.Inf(1)))
	sb.keepGlobals()
	sb.separateStringMeta()
	sb.installFormat()
	sb.addTableCompat()
	sb.installBase()
	sb.globals.RawSetString("redis", sb.redisLib())
	sb.globals.RawSetString("cjson", sb.cjsonLib())
	sb.globals.RawSetString("bit", sb.bitLib())
	sb.handler = L.NewFunction(sb.errorHandler)
	sb.globals.RawSetString("__redis__err__handler", sb.handler)
	sb.lock()
	return sb
}

// keepGlobals drops every global Redis 7.0 does not offer (print,
// dofile, loadfile, getfenv, setfenv, newproxy, module and the like).
func (sb *sandbox) keepGlobals() {
	keep := map[string]lua.LValue{}
	for _, name := range globalNames {
		keep[name] = sb.globals.RawGetString(name)
	}
	var drop []lua.LValue
	sb.globals.ForEach(func(k, _ lua.LValue) { drop = append(drop, k) })
	for _, k := range drop {
		sb.globals.RawSet(k, lua.LNil)
	}
	for name, v := range keep {
		sb.globals.RawSetString(name, v)
	}
}

// separateStringMeta gives strings a metatable of their own: gopher-lua
// makes the string table its own metatable, which would show scripts a
// string.__index that Lua 5.1 does not have.
func (sb *sandbox) separateStringMeta() {
	str := sb.globals.RawGetString("string").(*lua.LTable)
	str.RawSetString("__index", lua.LNil)
	mt := sb.L.NewTable()
	mt.RawSetString("__index", str)
	sb.L.SetMetatable(lua.LString(""), mt)
}

// lock puts proxies in front of the library tables, the string metatable
// and the global table.
func (sb *sandbox) lock() {
	L := sb.L
	for _, name := range libraries {
		t := sb.globals.RawGetString(name).(*lua.LTable)
		sb.globals.RawSetString(name, sb.proxy(t, L.NewFunction(sb.readThrough(t))))
	}
	if mt, ok := L.GetMetatable(lua.LString("")).(*lua.LTable); ok {
		sb.strMeta = sb.proxy(mt, L.NewFunction(sb.readThrough(mt)))
	}
	envIndex := L.NewFunction(sb.globalIndex)
	fakeMeta := L.NewTable()
	fakeMeta.RawSetString("__index", envIndex)
	sb.envMeta = sb.proxy(fakeMeta, L.NewFunction(sb.readThrough(fakeMeta)))
	sb.env = sb.proxy(sb.globals, envIndex)
	sb.globals.RawSetString("_G", sb.env)
}

// proxy returns an empty table that reads through index and refuses
// every write.
func (sb *sandbox) proxy(real *lua.LTable, index *lua.LFunction) *lua.LTable {
	p := sb.L.NewTable()
	mt := sb.L.NewTable()
	mt.RawSetString("__index", index)
	mt.RawSetString("__newindex", sb.L.NewFunction(refuseWrite))
	sb.L.SetMetatable(p, mt)
	sb.real[p] = real
	sb.proxyOf[real] = p
	return p
}

// readThrough is a proxy's __index: the real table's value, with a real
// library table replaced by its proxy so that no path leads to a
// writable one.
func (sb *sandbox) readThrough(real *lua.LTable) lua.LGFunction {
	return func(L *lua.LState) int {
		L.Push(sb.hide(real.RawGet(L.Get(2))))
		return 1
	}
}

// globalIndex is _G's __index: reading a global that does not exist is
// an error in Redis, so that typos fail loudly.
func (sb *sandbox) globalIndex(L *lua.LState) int {
	k := L.Get(2)
	if v := sb.globals.RawGet(k); v != lua.LNil {
		L.Push(v)
		return 1
	}
	switch k.(type) {
	case lua.LString, lua.LNumber:
	default:
		L.RaiseError("Second argument to luaProtectedTableError must be a string or number")
	}
	L.RaiseError("Script attempted to access nonexistent global variable '%s'", luaString(k))
	return 0
}

func refuseWrite(L *lua.LState) int {
	L.RaiseError(msgReadonlyTable)
	return 0
}

// hide replaces a real table that has a proxy by that proxy.
func (sb *sandbox) hide(v lua.LValue) lua.LValue {
	if t, ok := v.(*lua.LTable); ok {
		if p, ok := sb.proxyOf[t]; ok {
			return p
		}
	}
	return v
}

// backing returns the real table behind a proxy, or t itself.
func (sb *sandbox) backing(t *lua.LTable) (real *lua.LTable, isProxy bool) {
	if r, ok := sb.real[t]; ok {
		return r, true
	}
	return t, false
}

// newArray makes a Lua array of strings (KEYS, ARGV).
func newArray(L *lua.LState, items [][]byte) *lua.LTable {
	t := L.CreateTable(len(items), 0)
	for i, it := range items {
		t.RawSetInt(i+1, lua.LString(it))
	}
	return t
}
