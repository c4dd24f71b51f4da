package script

import (
	"log/slog"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Redis's version, as redis.REDIS_VERSION and redis.REDIS_VERSION_NUM
// report it to scripts; INFO says the same.
const (
	redisVersion    = "7.0.15"
	redisVersionNum = 0x07000f // major<<16 | minor<<8 | patch
)

// redisLib builds the redis table.
func (sb *sandbox) redisLib() *lua.LTable {
	L := sb.L
	t := L.NewTable()
	fns := map[string]lua.LGFunction{
		"call":               func(L *lua.LState) int { return sb.call(L, true) },
		"pcall":              func(L *lua.LState) int { return sb.call(L, false) },
		"log":                sb.log,
		"setresp":            sb.setresp,
		"set_repl":           setRepl,
		"replicate_commands": func(L *lua.LState) int { L.Push(lua.LTrue); return 1 },
		"breakpoint":         func(L *lua.LState) int { L.Push(lua.LFalse); return 1 },
		"debug":              func(L *lua.LState) int { return 0 },
		"sha1hex":            sha1hex,
		"error_reply":        errorReplyFn,
		"status_reply":       statusReply,
		"acl_check_cmd":      sb.aclCheckCmd,
	}
	for name, fn := range fns {
		t.RawSetString(name, L.NewFunction(fn))
	}
	nums := map[string]int{
		"LOG_DEBUG": 0, "LOG_VERBOSE": 1, "LOG_NOTICE": 2, "LOG_WARNING": 3,
		"REPL_NONE": 0, "REPL_AOF": 1, "REPL_SLAVE": 2, "REPL_REPLICA": 2, "REPL_ALL": 3,
		"REDIS_VERSION_NUM": redisVersionNum,
	}
	for name, n := range nums {
		t.RawSetString(name, lua.LNumber(n))
	}
	t.RawSetString("REDIS_VERSION", lua.LString(redisVersion))
	return t
}

// raise raises err as redis.call does: an error table, no position.
func raise(L *lua.LState, err string) {
	L.Error(errTable(L, err), 0)
}

// call is redis.call (raise) and redis.pcall.
func (sb *sandbox) call(L *lua.LState, raiseErr bool) int {
	args, bad := commandArgs(L)
	var result lua.LValue
	if bad != "" {
		result = errTable(L, bad)
	} else {
		result = sb.run.call(L, args)
	}
	if t, ok := result.(*lua.LTable); ok && raiseErr && isErrTable(t) {
		L.Error(t, 0)
	}
	L.Push(result)
	return 1
}

// commandArgs reads redis.call's arguments: strings as they are, numbers
// as "%.17g" (Lua's own "%.14g" would lose precision).
func commandArgs(L *lua.LState) (args [][]byte, bad string) {
	n := L.GetTop()
	if n == 0 {
		return nil, msgNoArgs
	}
	args = make([][]byte, n)
	for i := 1; i <= n; i++ {
		switch v := L.Get(i).(type) {
		case lua.LString:
			args[i-1] = []byte(v)
		case lua.LNumber:
			args[i-1] = []byte(formatG(float64(v), 17))
		default:
			return nil, msgArgType
		}
	}
	return args, ""
}

func isErrTable(t *lua.LTable) bool {
	_, ok := t.RawGetString("err").(lua.LString)
	return ok
}

// logLevels maps redis.LOG_* to slog levels.
var logLevels = [...]slog.Level{slog.LevelDebug, slog.LevelDebug + 2, slog.LevelInfo, slog.LevelWarn}

func (sb *sandbox) log(L *lua.LState) int {
	n := L.GetTop()
	if n < 2 {
		raise(L, "redis.log() requires two arguments or more.")
	}
	lvl, ok := luaNumber(L.Get(1))
	if !ok {
		raise(L, "First argument must be a number (log level).")
	}
	level := int(lvl)
	if level < 0 || level > 3 {
		raise(L, "Invalid debug level.")
	}
	var parts []string
	for i := 2; i <= n; i++ {
		switch v := L.Get(i).(type) {
		case lua.LString, lua.LNumber:
			parts = append(parts, luaString(v))
		}
	}
	if sb.run != nil {
		sb.run.logger.Log(sb.run.ctx, logLevels[level], strings.Join(parts, " "), "script", sb.run.sha)
	}
	return 0
}

func (sb *sandbox) setresp(L *lua.LState) int {
	if L.GetTop() != 1 {
		raise(L, "redis.setresp() requires one argument.")
	}
	n, _ := luaNumber(L.Get(1))
	if resp := int(n); resp == 2 || resp == 3 {
		sb.run.proto = resp
		return 0
	}
	raise(L, "RESP version must be 2 or 3.")
	return 0
}

// setRepl checks its argument as Redis does; replication is the
// cluster's business, not the script's, so the flags have no effect.
func setRepl(L *lua.LState) int {
	if L.GetTop() != 1 {
		raise(L, "redis.set_repl() requires two arguments.")
	}
	n, _ := luaNumber(L.Get(1))
	if int(n)&^3 != 0 {
		raise(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
	}
	return 0
}

func sha1hex(L *lua.LState) int {
	if L.GetTop() != 1 {
		raise(L, "wrong number of arguments")
	}
	L.Push(lua.LString(SHA1Hex([]byte(luaString(L.Get(1))))))
	return 1
}

func errorReplyFn(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if L.GetTop() != 1 || !ok {
		L.Push(errTable(L, "wrong number or type of arguments"))
		return 1
	}
	msg := string(s)
	if !strings.HasPrefix(msg, "-") {
		msg = "-" + msg
	}
	L.Push(errTable(L, msg))
	return 1
}

func statusReply(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if L.GetTop() != 1 || !ok {
		L.Push(errTable(L, "wrong number or type of arguments"))
		return 1
	}
	t := L.NewTable()
	t.RawSetString("ok", s)
	L.Push(t)
	return 1
}

// aclCheckCmd is redis.acl_check_cmd. The host has no per-user ACLs, so
// every known command is allowed.
func (sb *sandbox) aclCheckCmd(L *lua.LState) int {
	args, bad := commandArgs(L)
	if bad != "" {
		raise(L, bad)
	}
	if _, ok := sb.run.command(args); !ok {
		raise(L, "Invalid command passed to redis.acl_check_cmd()")
	}
	L.Push(lua.LTrue)
	return 1
}

// luaNumber is lua_tonumber: numbers, and strings that read as numbers.
func luaNumber(v lua.LValue) (float64, bool) {
	switch n := v.(type) {
	case lua.LNumber:
		return float64(n), true
	case lua.LString:
		return parseLuaNumber(string(n))
	}
	return 0, false
}

// errTable builds the error table Redis's luaPushErrorBuff builds: a
// text starting with '-' carries its own error code ("-WRONGTYPE ..."),
// any other gets "ERR".
func errTable(L *lua.LState, text string) *lua.LTable {
	code, msg := "ERR", text
	if strings.HasPrefix(text, "-") {
		if c, m, found := strings.Cut(text[1:], " "); found {
			code, msg = c, m
		} else {
			msg = text[1:]
		}
	}
	t := L.NewTable()
	t.RawSetString("err", lua.LString(code+" "+strings.Trim(msg, "\r\n")))
	return t
}
