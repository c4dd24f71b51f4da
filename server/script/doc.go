// Package script runs Redis 7.0 Lua scripts (EVAL semantics) on
// gopher-lua, for the RESP server's EVAL, EVALSHA, EVAL_RO, EVALSHA_RO
// and SCRIPT handlers. The server owns the commands; a script reaches
// them only through the Host it is given, so this package knows nothing
// of storage or the cluster.
//
// # What a script sees
//
// Exactly what Redis 7.0.15 gives it, checked byte for byte against
// redis-server by the oracle test: KEYS and ARGV; the redis table (call,
// pcall, error_reply, status_reply, sha1hex, log, setresp, set_repl,
// replicate_commands, breakpoint, debug, acl_check_cmd, the LOG_* and
// REPL_* constants, REDIS_VERSION "7.0.15"); the base, table, string, math
// and coroutine libraries without file or module access; cjson and bit,
// written here in Go after lua-cjson 2.1.0 and LuaBitOp; Redis 7's pcall,
// which hands back an error table's err string. Reading an undefined
// global, creating a global or changing any library table fails with
// Redis's texts.
//
// # Sandboxes
//
// A sandbox is a prepared gopher-lua state. Scripts reach the global
// table and every library table only through empty proxies whose
// metatables read through and refuse writes (gopher-lua has no read-only
// tables), and the base functions that could write past a proxy (rawset,
// setmetatable, table.insert...) refuse them. So a script cannot leave
// anything behind, and sandboxes are pooled and reused; KEYS and ARGV
// are replaced on each run. Compiled scripts (*lua.FunctionProto) are
// cached by SHA1 and shared by all sandboxes.
//
// # Conversions and errors
//
// Replies of redis.call are parsed from RESP2 or RESP3 (resp.go) into
// Lua values, and a script's result is encoded back (convert.go), both as
// Redis 7.0's script_lua.c does, including its quirks: numbers are
// truncated to integers, a nil ends an array, booleans follow the
// script's protocol (redis.setresp) while aggregates, doubles and nulls
// follow the client's. Errors carry Redis's texts and its
// "script: <sha>, on @user_script:<line>." suffix; the fixed replies the
// server needs (BUSY, NOSCRIPT, NOTBUSY, UNKILLABLE) are exported.
//
// # Busy scripts
//
// Scripts run on their callers' goroutines, many at a time. A script
// that runs longer than BusyThreshold makes Busy true (the server then
// answers ReplyBusy, as Redis does), and Kill stops busy scripts that
// have not written, through the context gopher-lua checks before every
// instruction. A run's state moves atomically from active to either wrote
// or killed, so a kill never lands after a write. The ctx given to Eval
// stops a script the same way, for shutdown.
//
// # Known differences from Redis 7.0.15
//
// gopher-lua words syntax and runtime errors its own way (the
// "Error compiling script (new function): user_script:<line>:" prefix and
// the error reply shape match, the message does not); it converts numbers
// to strings for concatenation with Go's shortest form rather than
// "%.14g" (tostring and string results passed to Redis are Lua's);
// map, set and cjson object order is insertion order rather than Lua's
// hash order; cmsgpack and struct are not provided; cjson's settings
// functions report the defaults and change nothing; a table error without
// an err field, which crashes Redis 7.0.15, replies "-ERR unknown error"
// with the usual position suffix.
package script
