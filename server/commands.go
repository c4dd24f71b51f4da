package server

import "strings"

// cmdFlag describes a command for dispatch and for COMMAND's reply.
type cmdFlag uint32

const (
	flagWrite           cmdFlag = 1 << iota // modifies the keyspace
	flagReadonly                            // only reads the keyspace
	flagDenyOOM                             // may grow memory
	flagFast                                // O(1) or O(log N)
	flagNoAuth                              // allowed before AUTH
	flagAdmin                               // administrative
	flagLoading                             // allowed while loading
	flagStale                               // allowed on a stale replica
	flagNoScript                            // scripts may not call it
	flagAllowBusy                           // runs while a script is busy
	flagNoMulti                             // refused inside MULTI
	flagMovableKeys                         // keys found by parsing (COMMAND GETKEYS)
	flagNoMandatoryKeys                     // may have no key
	flagSkipMonitor                         // not fed to MONITOR as such
	flagSkipSlowlog                         // not logged in SLOWLOG as such
	flagNoAsyncLoading                      // refused during an async load
)

var flagNames = []struct {
	f    cmdFlag
	name string
}{
	{flagWrite, "write"}, {flagReadonly, "readonly"}, {flagDenyOOM, "denyoom"},
	{flagAdmin, "admin"}, {flagNoAuth, "no_auth"}, {flagLoading, "loading"},
	{flagStale, "stale"}, {flagFast, "fast"}, {flagNoScript, "noscript"}, {flagAllowBusy, "allow_busy"},
	{flagNoMulti, "no_multi"}, {flagMovableKeys, "movablekeys"}, {flagNoMandatoryKeys, "no_mandatory_keys"},
	{flagSkipMonitor, "skip_monitor"}, {flagSkipSlowlog, "skip_slowlog"}, {flagNoAsyncLoading, "no_async_loading"},
}

// command is one row of the command table. Key positions follow Redis's
// COMMAND convention (1-based; a negative last key counts from the end) so
// the cluster coordinator can later find keys without parsing arguments.
type command struct {
	name     string // lowercase full name; "client|setname" for subcommands
	arity    int    // exact argument count, or at least -arity when negative
	flags    cmdFlag
	firstKey int
	lastKey  int
	step     int
	group    string // COMMAND DOCS group
	// acl, when set, is the command's ACL categories as Redis lists them
	// ("@keyspace @read @slow @dangerous"), where they do not follow from
	// its flags and group (aclCategories).
	acl     string
	summary string // COMMAND DOCS summary
	since   string // Redis version that introduced it
	run     func(*call) error
	subs    map[string]*command
	// keys, when set, finds the command's keys in its arguments, for
	// commands whose keys no fixed positions describe (EVAL's numkeys).
	keys func(args [][]byte) [][]byte
	// primary, when set, reports whether the command with these
	// arguments reads and writes its keys: it then runs at their primary
	// (primary.go).
	primary func(args [][]byte) bool
}

// maxNameLen bounds command names; longer names cannot be in the table.
const maxNameLen = 16

// lookup finds a top-level command, case-insensitively, without
// allocating: the name is lowered into a stack buffer and the map index
// with string(bytes) does not copy.
func lookup(name []byte) *command {
	return lookupIn(commandTable, name)
}

func (c *command) lookupSub(name []byte) *command {
	return lookupIn(c.subs, name)
}

func lookupIn(m map[string]*command, name []byte) *command {
	if len(name) > maxNameLen {
		return nil
	}
	var buf [maxNameLen]byte
	for i, b := range name {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		buf[i] = b
	}
	return m[string(buf[:len(name)])]
}

// commandTable is every command the server speaks. It is built once, in
// init (the COMMAND handlers read it, so it cannot be a plain initializer),
// and never modified.
var commandTable map[string]*command

func init() { commandTable = buildTable() }

func buildTable() map[string]*command {
	const (
		rw   = flagWrite | flagDenyOOM
		rwf  = flagWrite | flagDenyOOM | flagFast
		wf   = flagWrite | flagFast
		ro   = flagReadonly
		rof  = flagReadonly | flagFast
		conn = flagFast | flagLoading | flagStale
	)
	cmds := []*command{
		{name: "get", arity: 2, flags: rof, firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Returns the string value of a key.", since: "1.0.0", run: cmdGet},
		{name: "set", arity: -3, flags: rw, firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", since: "1.0.0", run: cmdSet},
		{name: "setnx", arity: 3, flags: rwf, firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Set the string value of a key only when the key doesn't exist.", since: "1.0.0", run: cmdSetNX},
		{name: "setex", arity: 4, flags: rw, firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", since: "2.0.0", run: cmdSetEX},
		{name: "psetex", arity: 4, flags: rw, firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", since: "2.6.0", run: cmdPSetEX},
		{name: "getdel", arity: 2, flags: wf, firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Returns the string value of a key after deleting the key.", since: "6.2.0", run: cmdGetDel},
		{name: "getex", arity: -2, flags: wf, firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Returns the string value of a key after setting its expiration time.", since: "6.2.0", run: cmdGetEx},
		{name: "mget", arity: -2, flags: rof, firstKey: 1, lastKey: -1, step: 1, group: "string", summary: "Atomically returns the string values of one or more keys.", since: "1.0.0", run: cmdMGet},
		{name: "mset", arity: -3, flags: rw, firstKey: 1, lastKey: -1, step: 2, group: "string", summary: "Atomically creates or modifies the string values of one or more keys.", since: "1.0.1", run: cmdMSet},
		{name: "incr", arity: 2, flags: rwf, firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", since: "1.0.0", run: cmdIncr},
		{name: "decr", arity: 2, flags: rwf, firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", since: "1.0.0", run: cmdDecr},
		{name: "incrby", arity: 3, flags: rwf, firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", since: "1.0.0", run: cmdIncrBy},
		{name: "decrby", arity: 3, flags: rwf, firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", since: "1.0.0", run: cmdDecrBy},
		{name: "append", arity: 3, flags: rwf, firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Appends a string to the value of a key. Creates the key if it doesn't exist.", since: "2.0.0", run: cmdAppend},
		{name: "strlen", arity: 2, flags: rof, firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Returns the length of a string value.", since: "2.2.0", run: cmdStrlen},
		{name: "getset", arity: 3, flags: rwf, firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Returns the previous string value of a key after setting it to a new value.", since: "1.0.0", run: cmdGetSet},
		{name: "msetnx", arity: -3, flags: rw, firstKey: 1, lastKey: -1, step: 2, group: "string", summary: "Atomically modifies the string values of one or more keys only when all keys don't exist.", since: "1.0.1", run: cmdMSetNX},
		{name: "getrange", arity: 4, flags: ro, firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Returns a substring of the string stored at a key.", since: "2.4.0", run: cmdGetRange},
		{name: "substr", arity: 4, flags: ro, firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Returns a substring from a string value.", since: "1.0.0", run: cmdGetRange},
		{name: "setrange", arity: 4, flags: rw, firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", since: "2.2.0", run: cmdSetRange},
		{name: "incrbyfloat", arity: 3, flags: rwf, firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", since: "2.6.0", run: cmdIncrByFloat},
		{name: "lcs", arity: -3, flags: ro, firstKey: 1, lastKey: 2, step: 1, group: "string", summary: "Finds the longest common substring.", since: "7.0.0", run: cmdLCS},
		{name: "getbit", arity: 3, flags: rof, firstKey: 1, lastKey: 1, step: 1, group: "bitmap", summary: "Returns a bit value by offset.", since: "2.2.0", run: cmdGetBit},
		{name: "setbit", arity: 4, flags: rw, firstKey: 1, lastKey: 1, step: 1, group: "bitmap", summary: "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.", since: "2.2.0", run: cmdSetBit},
		{name: "bitcount", arity: -2, flags: ro, firstKey: 1, lastKey: 1, step: 1, group: "bitmap", summary: "Counts the number of set bits (population counting) in a string.", since: "2.6.0", run: cmdBitCount},
		{name: "bitpos", arity: -3, flags: ro, firstKey: 1, lastKey: 1, step: 1, group: "bitmap", summary: "Finds the first set (1) or clear (0) bit in a string.", since: "2.8.7", run: cmdBitPos},
		{name: "bitop", arity: -4, flags: rw, firstKey: 2, lastKey: -1, step: 1, group: "bitmap", summary: "Performs bitwise operations on multiple strings, and stores the result.", since: "2.6.0", run: cmdBitOp},
		{name: "del", arity: -2, flags: flagWrite, firstKey: 1, lastKey: -1, step: 1, group: "generic", summary: "Deletes one or more keys.", since: "1.0.0", run: cmdDel},
		{name: "unlink", arity: -2, flags: flagWrite | flagFast, firstKey: 1, lastKey: -1, step: 1, group: "generic", summary: "Asynchronously deletes one or more keys.", since: "4.0.0", run: cmdDel},
		{name: "exists", arity: -2, flags: rof, firstKey: 1, lastKey: -1, step: 1, group: "generic", summary: "Determines whether one or more keys exist.", since: "1.0.0", run: cmdExists},
		{name: "expire", arity: -3, flags: wf, firstKey: 1, lastKey: 1, step: 1, group: "generic", summary: "Sets the expiration time of a key in seconds.", since: "1.0.0", run: cmdExpire},
		{name: "pexpire", arity: -3, flags: wf, firstKey: 1, lastKey: 1, step: 1, group: "generic", summary: "Sets the expiration time of a key in milliseconds.", since: "2.6.0", run: cmdPExpire},
		{name: "expireat", arity: -3, flags: wf, firstKey: 1, lastKey: 1, step: 1, group: "generic", summary: "Sets the expiration time of a key to a Unix timestamp.", since: "1.2.0", run: cmdExpireAt},
		{name: "pexpireat", arity: -3, flags: wf, firstKey: 1, lastKey: 1, step: 1, group: "generic", summary: "Sets the expiration time of a key to a Unix milliseconds timestamp.", since: "2.6.0", run: cmdPExpireAt},
		{name: "ttl", arity: 2, flags: rof, firstKey: 1, lastKey: 1, step: 1, group: "generic", summary: "Returns the expiration time in seconds of a key.", since: "1.0.0", run: cmdTTL},
		{name: "pttl", arity: 2, flags: rof, firstKey: 1, lastKey: 1, step: 1, group: "generic", summary: "Returns the expiration time in milliseconds of a key.", since: "2.6.0", run: cmdPTTL},
		{name: "expiretime", arity: 2, flags: rof, firstKey: 1, lastKey: 1, step: 1, group: "generic", summary: "Returns the expiration time of a key as a Unix timestamp.", since: "7.0.0", run: cmdExpireTime},
		{name: "pexpiretime", arity: 2, flags: rof, firstKey: 1, lastKey: 1, step: 1, group: "generic", summary: "Returns the expiration time of a key as a Unix milliseconds timestamp.", since: "7.0.0", run: cmdPExpireTime},
		{name: "persist", arity: 2, flags: wf, firstKey: 1, lastKey: 1, step: 1, group: "generic", summary: "Removes the expiration time of a key.", since: "2.2.0", run: cmdPersist},
		{name: "dump", arity: 2, flags: ro, firstKey: 1, lastKey: 1, step: 1, group: "generic", summary: "Returns a serialized representation of the value stored at a key.", since: "2.6.0", run: cmdDump},
		{name: "restore", arity: -4, flags: rw, firstKey: 1, lastKey: 1, step: 1, group: "generic", acl: "@keyspace @write @slow @dangerous", summary: "Creates a key from the serialized representation of a value.", since: "2.6.0", run: cmdRestore},
		{name: "bitfield", arity: -2, flags: rw, firstKey: 1, lastKey: 1, step: 1, group: "bitmap", summary: "Performs arbitrary bitfield integer operations on strings.", since: "3.2.0", run: cmdBitfield},
		{name: "bitfield_ro", arity: -2, flags: rof, firstKey: 1, lastKey: 1, step: 1, group: "bitmap", summary: "Performs arbitrary read-only bitfield integer operations on strings.", since: "6.0.0", run: cmdBitfieldRO},
		{name: "type", arity: 2, flags: rof, firstKey: 1, lastKey: 1, step: 1, group: "generic", summary: "Determines the type of value stored at a key.", since: "1.0.0", run: cmdType},
		{name: "touch", arity: -2, flags: rof, firstKey: 1, lastKey: -1, step: 1, group: "generic", summary: "Returns the number of existing keys out of those specified after updating the time they were last accessed.", since: "3.2.1", run: cmdExists},
		{name: "rename", arity: 3, flags: flagWrite, firstKey: 1, lastKey: 2, step: 1, group: "generic", summary: "Renames a key and overwrites the destination.", since: "1.0.0", run: cmdRename},
		{name: "renamenx", arity: 3, flags: wf, firstKey: 1, lastKey: 2, step: 1, group: "generic", summary: "Renames a key only when the target key name doesn't exist.", since: "1.0.0", run: cmdRenameNX},
		{name: "copy", arity: -3, flags: rw, firstKey: 1, lastKey: 2, step: 1, group: "generic", summary: "Copies the value of a key to a new key.", since: "6.2.0", run: cmdCopy},
		{name: "move", arity: 3, flags: wf, firstKey: 1, lastKey: 1, step: 1, group: "generic", summary: "Moves a key to another database.", since: "1.0.0", run: cmdMove},
		{name: "swapdb", arity: 3, flags: wf, group: "server", acl: "@keyspace @write @fast @dangerous", summary: "Swaps two Redis databases.", since: "4.0.0", run: cmdSwapDB},
		{name: "object", arity: -2, group: "generic", summary: "A container for object introspection commands.", since: "2.2.3", subs: subTable("object", []*command{
			{name: "encoding", arity: 3, flags: flagReadonly, firstKey: 2, lastKey: 2, step: 1, summary: "Returns the internal encoding of a Redis object.", since: "2.2.3", run: cmdObjectEncoding},
			{name: "freq", arity: 3, flags: flagReadonly, firstKey: 2, lastKey: 2, step: 1, summary: "Returns the logarithmic access frequency counter of a Redis object.", since: "4.0.0", run: cmdObjectFreq},
			{name: "idletime", arity: 3, flags: flagReadonly, firstKey: 2, lastKey: 2, step: 1, summary: "Returns the time since the last access to a Redis object.", since: "2.2.3", run: cmdObjectIdletime},
			{name: "refcount", arity: 3, flags: flagReadonly, firstKey: 2, lastKey: 2, step: 1, summary: "Returns the reference count of a value of a key.", since: "2.2.3", run: cmdObjectRefcount},
			{name: "help", arity: 2, flags: flagLoading | flagStale, summary: "Returns helpful text about the different subcommands.", since: "6.2.0", run: cmdObjectHelp},
		})},
		{name: "memory", arity: -2, group: "server", summary: "A container for memory diagnostics commands.", since: "4.0.0", subs: subTable("memory", []*command{
			{name: "usage", arity: -3, flags: flagReadonly, firstKey: 2, lastKey: 2, step: 1, summary: "Estimates the memory usage of a key.", since: "4.0.0", run: cmdMemoryUsage},
			{name: "help", arity: 2, flags: flagLoading | flagStale, summary: "Returns helpful text about the different subcommands.", since: "4.0.0", run: cmdMemoryHelp},
		})},
		{name: "scan", arity: -2, flags: flagReadonly, group: "generic", summary: "Iterates over the key names in the database.", since: "2.8.0", run: cmdScan},
		{name: "keys", arity: 2, flags: flagReadonly, group: "generic", acl: "@keyspace @read @slow @dangerous", summary: "Returns all key names that match a pattern.", since: "1.0.0", run: cmdKeys},
		{name: "randomkey", arity: 1, flags: flagReadonly, group: "generic", summary: "Returns a random key name from the database.", since: "1.0.0", run: cmdRandomKey},
		{name: "eval", arity: -3, flags: flagNoScript | flagStale | flagMovableKeys | flagNoMandatoryKeys | flagSkipMonitor, keys: evalKeys, group: "scripting", summary: "Executes a server-side Lua script.", since: "2.6.0", run: cmdEval},
		{name: "evalsha", arity: -3, flags: flagNoScript | flagStale | flagMovableKeys | flagNoMandatoryKeys | flagSkipMonitor, keys: evalKeys, group: "scripting", summary: "Executes a server-side Lua script by SHA1 digest.", since: "2.6.0", run: cmdEvalSHA},
		{name: "eval_ro", arity: -3, flags: flagNoScript | flagStale | flagReadonly | flagMovableKeys | flagNoMandatoryKeys | flagSkipMonitor, keys: evalKeys, group: "scripting", acl: "@slow @scripting", summary: "Executes a read-only server-side Lua script.", since: "7.0.0", run: cmdEvalRO},
		{name: "evalsha_ro", arity: -3, flags: flagNoScript | flagStale | flagReadonly | flagMovableKeys | flagNoMandatoryKeys | flagSkipMonitor, keys: evalKeys, group: "scripting", acl: "@slow @scripting", summary: "Executes a read-only server-side Lua script by SHA1 digest.", since: "7.0.0", run: cmdEvalSHARO},
		{name: "script", arity: -2, group: "scripting", summary: "A container for Lua scripts management commands.", since: "2.6.0", subs: subTable("script", []*command{
			{name: "load", arity: 3, flags: flagNoScript | flagStale, summary: "Loads a server-side Lua script to the script cache.", since: "2.6.0", run: cmdScriptLoad},
			{name: "exists", arity: -3, flags: flagNoScript, summary: "Determines whether server-side Lua scripts exist in the script cache.", since: "2.6.0", run: cmdScriptExists},
			{name: "flush", arity: -2, flags: flagNoScript, summary: "Removes all server-side Lua scripts from the script cache.", since: "2.6.0", run: cmdScriptFlush},
			{name: "kill", arity: 2, flags: flagNoScript | flagAllowBusy, summary: "Terminates a server-side Lua script during execution.", since: "2.6.0", run: cmdScriptKill},
			{name: "help", arity: 2, flags: flagLoading | flagStale, summary: "Returns helpful text about the different subcommands.", since: "5.0.0", run: cmdScriptHelp},
		})},
		{name: "multi", arity: 1, flags: flagFast | flagLoading | flagStale | flagAllowBusy, group: "transactions", summary: "Starts a transaction.", since: "1.2.0", run: cmdMulti},
		{name: "exec", arity: 1, flags: flagLoading | flagStale | flagSkipSlowlog, group: "transactions", summary: "Executes all commands in a transaction.", since: "1.2.0", run: cmdExec},
		{name: "discard", arity: 1, flags: flagFast | flagLoading | flagStale | flagAllowBusy, group: "transactions", summary: "Discards a transaction.", since: "2.0.0", run: cmdDiscard},
		{name: "watch", arity: -2, flags: flagFast | flagLoading | flagStale | flagAllowBusy, firstKey: 1, lastKey: -1, step: 1, group: "transactions", summary: "Monitors changes to keys to determine the execution of a transaction.", since: "2.2.0", run: cmdWatch},
		{name: "unwatch", arity: 1, flags: flagFast | flagLoading | flagStale | flagAllowBusy, group: "transactions", summary: "Forgets about watched keys of a transaction.", since: "2.2.0", run: cmdUnwatch},
		{name: "wait", arity: 3, group: "generic", acl: "@slow @connection", summary: "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", since: "3.0.0", run: cmdWait},
		{name: "dbsize", arity: 1, flags: rof, group: "server", acl: "@keyspace @read @fast", summary: "Returns the number of keys in the database.", since: "1.0.0", run: cmdDBSize},
		{name: "flushdb", arity: -1, flags: flagWrite, group: "server", acl: "@keyspace @write @slow @dangerous", summary: "Remove all keys from the current database.", since: "1.0.0", run: cmdFlush},
		{name: "flushall", arity: -1, flags: flagWrite, group: "server", acl: "@keyspace @write @slow @dangerous", summary: "Removes all keys from all databases.", since: "1.0.0", run: cmdFlush},
		{name: "ping", arity: -1, flags: flagFast, group: "connection", summary: "Returns the server's liveliness response.", since: "1.0.0", run: cmdPing},
		{name: "echo", arity: 2, flags: flagFast | flagLoading | flagStale, group: "connection", summary: "Returns the given string.", since: "1.0.0", run: cmdEcho},
		{name: "hello", arity: -1, flags: conn | flagNoAuth, group: "connection", summary: "Handshakes with the Redis server.", since: "6.0.0", run: cmdHello},
		{name: "auth", arity: -2, flags: conn | flagNoAuth, group: "connection", summary: "Authenticates the connection.", since: "1.0.0", run: cmdAuth},
		{name: "select", arity: 2, flags: conn, group: "connection", summary: "Changes the selected database.", since: "1.0.0", run: cmdSelect},
		{name: "quit", arity: -1, flags: conn | flagNoAuth, group: "connection", summary: "Closes the connection.", since: "1.0.0", run: cmdQuit},
		{name: "reset", arity: 1, flags: conn | flagNoAuth | flagAllowBusy, group: "connection", summary: "Resets the connection.", since: "6.2.0", run: cmdReset},
		{name: "time", arity: 1, flags: conn, group: "server", summary: "Returns the server time.", since: "2.6.0", run: cmdTime},
		{name: "info", arity: -1, flags: flagLoading | flagStale, group: "server", acl: "@slow @dangerous", summary: "Returns information and statistics about the server.", since: "1.0.0", run: cmdInfo},
		{name: "client", arity: -2, group: "connection", summary: "A container for client connection commands.", since: "2.4.0", subs: subTable("client", []*command{
			{name: "setname", arity: 3, flags: flagNoScript | flagLoading | flagStale, summary: "Sets the connection name.", since: "2.6.9", run: cmdClientSetName},
			{name: "getname", arity: 2, flags: flagNoScript | flagLoading | flagStale, summary: "Returns the name of the connection.", since: "2.6.9", run: cmdClientGetName},
			{name: "id", arity: 2, flags: flagNoScript | flagLoading | flagStale, summary: "Returns the unique client ID of the connection.", since: "5.0.0", run: cmdClientID},
			{name: "setinfo", arity: 4, flags: flagNoScript | flagLoading | flagStale, summary: "Sets information specific to the client or connection.", since: "7.2.0", run: cmdClientSetInfo},
			{name: "info", arity: 2, flags: flagNoScript | flagLoading | flagStale, summary: "Returns information about the connection.", since: "6.2.0", run: cmdClientInfo},
			{name: "list", arity: -2, flags: flagNoScript | flagAdmin | flagLoading | flagStale, summary: "Lists open connections.", since: "2.4.0", run: cmdClientList},
			{name: "reply", arity: 3, flags: flagNoScript | flagLoading | flagStale, summary: "Instructs the server whether to reply to commands.", since: "3.2.0", run: cmdClientReply},
			{name: "no-evict", arity: 3, flags: flagNoScript | flagAdmin | flagLoading | flagStale, summary: "Sets the client eviction mode of the connection.", since: "7.0.0", run: cmdClientNoEvict},
			{name: "kill", arity: -3, flags: flagNoScript | flagAdmin | flagLoading | flagStale, summary: "Terminates open connections.", since: "2.4.0", run: cmdClientKill},
			{name: "pause", arity: -3, flags: flagNoScript | flagAdmin | flagLoading | flagStale, summary: "Suspends commands processing.", since: "3.0.0", run: cmdClientPause},
			{name: "unpause", arity: 2, flags: flagNoScript | flagAdmin | flagLoading | flagStale, summary: "Resumes processing commands from paused clients.", since: "6.2.0", run: cmdClientUnpause},
			{name: "help", arity: 2, flags: flagLoading | flagStale, summary: "Returns helpful text about the different subcommands.", since: "5.0.0", run: cmdClientHelp},
		})},
		{name: "command", arity: -1, flags: flagLoading | flagStale, group: "server", acl: "@slow @connection", summary: "Returns detailed information about all commands.", since: "2.8.13", run: cmdCommand, subs: subTable("command", []*command{
			{name: "count", arity: 2, flags: flagLoading | flagStale, acl: "@slow @connection", summary: "Returns a count of commands.", since: "2.8.13", run: cmdCommandCount},
			{name: "info", arity: -2, flags: flagLoading | flagStale, acl: "@slow @connection", summary: "Returns information about one, multiple or all commands.", since: "2.8.13", run: cmdCommandInfo},
			{name: "docs", arity: -2, flags: flagLoading | flagStale, acl: "@slow @connection", summary: "Returns documentary information about one, multiple or all commands.", since: "7.0.0", run: cmdCommandDocs},
			{name: "list", arity: -2, flags: flagLoading | flagStale, acl: "@slow @connection", summary: "Returns a list of command names.", since: "7.0.0", run: cmdCommandList},
			{name: "getkeys", arity: -4, flags: flagLoading | flagStale, acl: "@slow @connection", summary: "Extracts the key names from an arbitrary command.", since: "2.8.13", run: cmdCommandGetKeys},
			{name: "help", arity: 2, flags: flagLoading | flagStale, acl: "@slow @connection", summary: "Returns helpful text about the different subcommands.", since: "5.0.0", run: cmdCommandHelp},
		})},
		// RINGCACHE's key arguments are not declared as keys: LOCALGET must
		// reach the node the operator chose, not the key's owner.
		{name: "ringcache", arity: -2, group: "cluster", summary: "A container for ringcache cluster commands.", since: redisVersion, subs: subTable("ringcache", []*command{
			{name: "nodes", arity: 2, flags: flagNoScript | flagLoading | flagStale, summary: "Returns every cluster member with its address, state and share of the ring.", since: redisVersion, run: cmdRingcacheNodes},
			{name: "owners", arity: 3, flags: flagNoScript | flagFast | flagLoading | flagStale, summary: "Returns the ids of the nodes that hold a key, in preference order.", since: redisVersion, run: cmdRingcacheOwners},
			{name: "localget", arity: 3, flags: flagNoScript | flagReadonly | flagFast, summary: "Returns this node's own stored record of a key, without a quorum.", since: redisVersion, run: cmdRingcacheLocalGet},
			{name: "consistency", arity: -2, flags: flagNoScript | conn, summary: "Sets, shows or resets the connection's read and write consistency levels.", since: redisVersion, run: cmdRingcacheConsistency},
			{name: "hints", arity: 2, flags: flagNoScript | flagLoading | flagStale, summary: "Returns the hints this node holds for each target node.", since: redisVersion, run: cmdRingcacheHints},
			{name: "repair", arity: 2, flags: flagNoScript | flagAdmin, summary: "Runs a full anti-entropy round on this node and returns its summary.", since: redisVersion, run: cmdRingcacheRepair},
			{name: "join", arity: 2, flags: flagNoScript | flagAdmin, summary: "Makes this node join its seeds' cluster.", since: redisVersion, run: cmdRingcacheJoin},
			{name: "leave", arity: 2, flags: flagNoScript | flagAdmin, summary: "Makes this node leave the cluster for good; it exits once its ranges moved.", since: redisVersion, run: cmdRingcacheLeave},
			{name: "remove", arity: -3, flags: flagNoScript | flagAdmin, summary: "Removes a dead member: its ranges move to their next owners.", since: redisVersion, run: cmdRingcacheRemove},
			{name: "script", arity: 3, flags: flagNoScript | flagLoading | flagStale, summary: "Returns the body of a cached script, or a null: members fetch the scripts they lack from each other.", since: redisVersion, run: cmdRingcacheScript},
			{name: "transfers", arity: 2, flags: flagNoScript | flagLoading | flagStale, summary: "Returns the topology operation in progress and this node's streaming, as name/value pairs.", since: redisVersion, run: cmdRingcacheTransfers},
			{name: "help", arity: 2, flags: flagLoading | flagStale, summary: "Returns helpful text about the different subcommands.", since: redisVersion, run: cmdRingcacheHelp},
		})},
		{name: "save", arity: 1, flags: flagAdmin | flagNoMulti | flagNoAsyncLoading, group: "server", summary: "Synchronously saves the database(s) to disk.", since: "1.0.0", run: cmdSave},
		{name: "bgsave", arity: -1, flags: flagAdmin | flagNoAsyncLoading, group: "server", summary: "Asynchronously saves the database(s) to disk.", since: "1.0.0", run: cmdBgSave},
		{name: "lastsave", arity: 1, flags: flagFast | flagLoading | flagStale, group: "server", acl: "@admin @fast @dangerous", summary: "Returns the Unix timestamp of the last successful save to disk.", since: "1.0.0", run: cmdLastSave},
		{name: "shutdown", arity: -1, flags: flagAdmin | flagLoading | flagStale | flagNoMulti, group: "server", summary: "Synchronously saves the database(s) to disk and shuts down the Redis server.", since: "1.0.0", run: cmdShutdown},
		{name: "slowlog", arity: -2, group: "server", summary: "A container for slow log commands.", since: "2.2.12", subs: subTable("slowlog", []*command{
			{name: "get", arity: -2, flags: flagAdmin | flagLoading | flagStale, summary: "Returns the slow log's entries.", since: "2.2.12", run: cmdSlowlogGet},
			{name: "len", arity: 2, flags: flagAdmin | flagLoading | flagStale, summary: "Returns the number of entries in the slow log.", since: "2.2.12", run: cmdSlowlogLen},
			{name: "reset", arity: 2, flags: flagAdmin | flagLoading | flagStale, summary: "Clears all entries from the slow log.", since: "2.2.12", run: cmdSlowlogReset},
			{name: "help", arity: 2, flags: flagLoading | flagStale, summary: "Show helpful text about the different subcommands", since: "6.2.0", run: cmdSlowlogHelp},
		})},
		{name: "monitor", arity: 1, flags: flagAdmin | flagLoading | flagStale, group: "server", summary: "Listens for all requests received by the server in real-time.", since: "1.0.0", run: cmdMonitor},
		{name: "latency", arity: -2, group: "server", summary: "A container for latency diagnostics commands.", since: "2.8.13", subs: subTable("latency", []*command{
			{name: "latest", arity: 2, flags: flagNoScript | flagAdmin | flagLoading | flagStale, summary: "Returns the latest latency samples for all events.", since: "2.8.13", run: cmdLatencyLatest},
			{name: "history", arity: 3, flags: flagNoScript | flagAdmin | flagLoading | flagStale, summary: "Returns timestamp-latency samples for an event.", since: "2.8.13", run: cmdLatencyHistory},
			{name: "reset", arity: -2, flags: flagNoScript | flagAdmin | flagLoading | flagStale, summary: "Resets the latency data for one or more events.", since: "2.8.13", run: cmdLatencyReset},
			{name: "graph", arity: 3, flags: flagNoScript | flagAdmin | flagLoading | flagStale, summary: "Returns a latency graph for an event.", since: "2.8.13", run: cmdLatencyGraph},
			{name: "doctor", arity: 2, flags: flagNoScript | flagAdmin | flagLoading | flagStale, summary: "Returns a human-readable latency analysis report.", since: "2.8.13", run: cmdLatencyDoctor},
			{name: "help", arity: 2, flags: flagLoading | flagStale, summary: "Returns helpful text about the different subcommands.", since: "2.8.13", run: cmdLatencyHelp},
		})},
		{name: "config", arity: -2, group: "server", summary: "A container for server configuration commands.", since: "2.0.0", subs: subTable("config", []*command{
			{name: "get", arity: -3, flags: flagNoScript | flagAdmin | flagLoading | flagStale, summary: "Returns the effective values of configuration parameters.", since: "2.0.0", run: cmdConfigGet},
			{name: "set", arity: -4, flags: flagNoScript | flagAdmin | flagLoading | flagStale, summary: "Sets configuration parameters in-flight.", since: "2.0.0", run: cmdConfigSet},
			{name: "resetstat", arity: 2, flags: flagNoScript | flagAdmin | flagLoading | flagStale, summary: "Resets the server's statistics.", since: "2.0.0", run: cmdConfigResetStat},
			{name: "help", arity: 2, flags: flagLoading | flagStale, summary: "Returns helpful text about the different subcommands.", since: "5.0.0", run: cmdConfigHelp},
		})},
	}
	m := make(map[string]*command, len(cmds))
	for _, c := range cmds {
		c.primary = primaryRules[c.name]
		c.flags |= extraFlags[c.name]
		if c.subs != nil {
			for _, sub := range c.subs {
				sub.group = c.group
			}
		}
		m[c.name] = c
	}
	return m
}

// primaryRules lists the read-modify-write commands, which run at their
// keys' primary. Blind writes (SET without options, SETEX, MSET, DEL)
// and reads run on any node.
var primaryRules = map[string]func(args [][]byte) bool{
	"set": setReads, "setnx": always, "getset": always, "getdel": always, "getex": always,
	"incr": always, "decr": always, "incrby": always, "decrby": always, "incrbyfloat": always,
	"append": always, "setrange": always, "setbit": always, "bitfield": always, "bitop": always,
	"msetnx": always, "expire": always, "pexpire": always, "expireat": always, "pexpireat": always,
	"persist": always, "restore": always, "rename": always, "renamenx": always, "copy": always,
	"move": always, "eval": always, "evalsha": always, "eval_ro": always, "evalsha_ro": always,
}

func always([][]byte) bool { return true }

// extraFlags adds flags to commands by name: those scripts may not call,
// and those that run while a script is busy, as in Redis 7.
var extraFlags = map[string]cmdFlag{
	"multi": flagNoScript, "exec": flagNoScript, "discard": flagNoScript, "watch": flagNoScript,
	"unwatch": flagNoScript, "monitor": flagNoScript, "save": flagNoScript, "bgsave": flagNoScript,
	"shutdown": flagNoScript | flagAllowBusy, "wait": flagNoScript,
	"auth": flagAllowBusy | flagNoScript, "hello": flagAllowBusy | flagNoScript, "quit": flagAllowBusy | flagNoScript,
	"reset": flagNoScript,
}

// setReads reports whether a SET reads the key before it writes: with
// NX, XX, GET or KEEPTTL. (A malformed SET runs where it is and fails
// there.)
func setReads(args [][]byte) bool {
	for _, a := range args[min(3, len(args)):] {
		if equalFold(a, "nx") || equalFold(a, "xx") || equalFold(a, "get") || equalFold(a, "keepttl") {
			return true
		}
	}
	return false
}

// subTable names subcommands "parent|sub" like Redis 7 and indexes them by
// their short name.
func subTable(parent string, subs []*command) map[string]*command {
	m := make(map[string]*command, len(subs))
	for _, s := range subs {
		short := s.name
		s.name = parent + "|" + short
		m[short] = s
	}
	return m
}

// shortName is the subcommand part of a full name.
func (c *command) shortName() string {
	if i := strings.IndexByte(c.name, '|'); i >= 0 {
		return c.name[i+1:]
	}
	return c.name
}
