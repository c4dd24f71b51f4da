package script

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Run is one invocation of a script: what EVAL and EVALSHA pass besides
// the script itself.
type Run struct {
	// Keys and Args become the script's KEYS and ARGV tables.
	Keys, Args [][]byte
	// Proto is the calling client's protocol, 2 or 3 (0 counts as 2): how
	// the script's result is encoded. Commands the script calls answer in
	// the script's own protocol, 2 until it calls redis.setresp(3).
	Proto int
	// ReadOnly refuses write commands, for EVAL_RO and EVALSHA_RO.
	ReadOnly bool
	// Host runs the commands the script calls.
	Host Host
}

// Host runs the commands a script calls with redis.call and redis.pcall.
// It is called on the goroutine that called Eval, one call at a time.
type Host interface {
	// Command describes the command named by args (args[0],
	// case-insensitive; for commands with subcommands the host may look at
	// args[1]). ok is false for an unknown command.
	Command(args [][]byte) (c Command, ok bool)
	// Call runs the command and returns its complete reply encoded as RESP
	// in protocol proto (2 or 3): one reply, possibly an aggregate,
	// possibly an error reply ("-ERR ...\r\n").
	Call(args [][]byte, proto int) []byte
}

// Command is what the engine needs to know of a command before a script
// may call it.
type Command struct {
	// Arity follows Redis: >0 is the exact number of arguments including
	// the name, <0 means at least -Arity.
	Arity int
	// Write is true if the command may write.
	Write bool
	// NoScript is true for commands scripts may not call (MULTI, EVAL,
	// WATCH, SUBSCRIBE, ...).
	NoScript bool
}

// States of a run; a run that has written can no longer be killed, and a
// killed one can no longer write. The transitions are atomic so that a
// kill racing a write lets exactly one of them happen.
const (
	runActive int32 = iota
	runWrote
	runKilled
)

// run is the state of one script invocation.
type run struct {
	sha      string
	host     Host
	client   int // the caller's protocol
	proto    int // the script's protocol, changed by redis.setresp
	readOnly bool
	logger   *slog.Logger
	ctx      context.Context
	cancel   context.CancelFunc
	start    time.Time
	state    atomic.Int32
}

// command describes args[0] through the host.
func (r *run) command(args [][]byte) (Command, bool) {
	if r.host == nil {
		return Command{}, false
	}
	return r.host.Command(args)
}

// call runs one command for redis.call or redis.pcall, after the checks
// Redis's scriptCall makes, in its order.
func (r *run) call(L *lua.LState, args [][]byte) lua.LValue {
	cmd, ok := r.command(args)
	switch {
	case !ok:
		return callError(L, msgUnknownCommand)
	case (cmd.Arity > 0 && cmd.Arity != len(args)) || len(args) < -cmd.Arity:
		return callError(L, msgWrongArity)
	case cmd.NoScript:
		return callError(L, msgNoScript)
	case cmd.Write && r.readOnly:
		return callError(L, msgReadOnly)
	case cmd.Write && !r.markWrote():
		L.Error(errTable(L, msgKilled), 0)
	}
	rep, rest, err := parseReply(r.host.Call(args, r.proto))
	if err != nil || len(rest) != 0 {
		return callError(L, "Malformed reply from command "+strings.ToUpper(string(args[0])))
	}
	return toLua(L, rep)
}

func callError(L *lua.LState, msg string) *lua.LTable {
	t := errTable(L, msg)
	t.RawSetString("ignore_error_stats_update", lua.LTrue)
	return t
}

// markWrote records that the script writes; false if it was killed.
func (r *run) markWrote() bool {
	return r.state.CompareAndSwap(runActive, runWrote) || r.state.Load() == runWrote
}

// kill stops the run unless it has written; it reports whether the run
// is (now) killed.
func (r *run) kill() bool {
	if r.state.CompareAndSwap(runActive, runKilled) || r.state.Load() == runKilled {
		r.cancel()
		return true
	}
	return false
}

// abortText is the error a run ended from outside gets.
func (r *run) abortText() string {
	if r.state.Load() == runKilled {
		return msgKilled
	}
	return "Script aborted: " + context.Cause(r.ctx).Error()
}

// exec runs a compiled script in the sandbox and returns its reply; ok is
// false when the sandbox should not be reused.
func (sb *sandbox) exec(r *run, proto *lua.FunctionProto, keys, args [][]byte) (out []byte, ok bool) {
	L := sb.L
	L.SetContext(r.ctx)
	sb.run = r
	defer func() {
		sb.run = nil
		L.RemoveContext()
		L.SetTop(0)
	}()
	sb.globals.RawSetString("KEYS", newArray(L, keys))
	sb.globals.RawSetString("ARGV", newArray(L, args))
	fn := L.NewFunctionFromProto(proto)
	fn.Env = sb.env
	L.Push(fn)
	if err := L.PCall(0, 1, sb.handler); err != nil {
		return failure(r.sha, err), r.ctx.Err() == nil
	}
	return encoder{client: r.client, script: r.proto}.encode(nil, L.Get(-1), 0), true
}

// errorHandler turns whatever a script raised into Redis's error table
// {err=..., source=..., line=...}, as Redis's __redis__err__handler does:
// the position is that of the Lua code that raised it, or that called
// the Go function that did.
func (sb *sandbox) errorHandler(L *lua.LState) int {
	var t *lua.LTable
	switch v := L.Get(1).(type) {
	case *lua.LTable:
		t = v
	default:
		// Not errTable: the text is the message as it is, whatever its start.
		t = field(L, "err", lua.LString("ERR "+luaValueString(v)))
	}
	if sb.run != nil && sb.run.ctx.Err() != nil {
		t = errTable(L, sb.run.abortText())
	}
	level := 1
	if dbg, ok := L.GetStack(level); ok {
		if _, err := L.GetInfo("S", dbg, lua.LNil); err == nil && dbg.What == "G" {
			level++
		}
	}
	if dbg, ok := L.GetStack(level); ok {
		if _, err := L.GetInfo("Sl", dbg, lua.LNil); err == nil && dbg.What != "G" {
			t.RawSetString("source", lua.LString("@"+dbg.Source))
			t.RawSetString("line", lua.LNumber(dbg.CurrentLine))
		}
	}
	L.Push(t)
	return 1
}

// luaValueString is Lua's tostring for any value, without metamethods.
func luaValueString(v lua.LValue) string {
	switch v.(type) {
	case lua.LString, lua.LNumber:
		return luaString(v)
	}
	return v.String()
}

// failure is the error reply of a script that raised an error: the
// message, and where it was raised.
func failure(sha string, err error) []byte {
	var tbl *lua.LTable
	if apiErr, ok := err.(*lua.ApiError); ok {
		tbl, _ = apiErr.Object.(*lua.LTable)
	}
	if tbl == nil {
		msg := err.Error()
		if len(msg) > 100 {
			msg = msg[:100]
		}
		return []byte(errorReply("ERR Error running script " + sha + ", " + msg))
	}
	msg := "ERR unknown error"
	if s, ok := stringish(tbl.RawGetString("err")); ok {
		msg = s
	}
	text := "-" + msg
	src, okSrc := stringish(tbl.RawGetString("source"))
	line, okLine := stringish(tbl.RawGetString("line"))
	if okSrc && okLine {
		text += " script: " + sha + ", on " + src + ":" + line + "."
	}
	return []byte(errorReply(text))
}

// stringish is lua_isstring + lua_tostring: strings and numbers.
func stringish(v lua.LValue) (string, bool) {
	switch v.(type) {
	case lua.LString, lua.LNumber:
		return luaString(v), true
	}
	return "", false
}
