package server

import (
	"bytes"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/tidwall/match"

	"github.com/ringcache/ringcache/server/store"
)

// Server administration commands: DBSIZE, FLUSH*, TIME, CONFIG, COMMAND.

// redisVersion is the Redis version the server reports to clients; tools
// gate features on it.
const redisVersion = "7.2.0"

func cmdDBSize(x *call) error {
	counts, err := x.s.dbCounts(x, false)
	if err != nil {
		return err
	}
	var n int64
	if x.c.db < len(counts) {
		n = max(counts[x.c.db].Keys, 0)
	}
	if _, estimated := x.s.store.(KeyEstimator); estimated && n < exactDBSize {
		if n, err = x.countByScan(); err != nil {
			return err
		}
	}
	x.conn.WriteInt64(n)
	return nil
}

// exactDBSize is the size under which a store whose counts are estimates
// (a cluster's: every member's copies over N, short while a write has not
// reached every replica) counts a database by scanning it instead: each
// key once, its replicas merged by version, as SCAN returns it.
const exactDBSize = 10000

// countByScan counts the keys of the connection's database with a whole
// scan.
func (x *call) countByScan() (int64, error) {
	var n int64
	err := x.distinctKeys(func([]byte) { n++ })
	return n, err
}

// cmdFlush answers FLUSHDB and FLUSHALL [ASYNC|SYNC]; both modes flush
// before replying. FLUSHALL drops every key at once (Store.Flush); so does
// FLUSHDB when there is one database. Otherwise FLUSHDB deletes its
// database's keys one by one, as a scan finds them (flushDB).
func cmdFlush(x *call) error {
	switch {
	case len(x.args) == 1:
	case len(x.args) == 2 && (equalFold(x.args[1], "async") || equalFold(x.args[1], "sync")):
	default:
		return errSyntax
	}
	if x.cmd.name == "flushdb" && x.s.cfg.Databases > 1 {
		if err := x.flushDB(); err != nil {
			return err
		}
	} else if err := x.s.store.Flush(x.ctx()); err != nil {
		return err
	}
	x.conn.WriteString("OK")
	return nil
}

// flushDBBatch is how many keys one delete of FLUSHDB writes.
const flushDBBatch = 1000

// flushDB deletes every key of the connection's database: a scan of the
// keyspace, and a delete (a tombstone through the write path, so every
// replica drops the key and nothing older comes back) of each key of the
// database it finds. Keys written while it runs may survive.
func (x *call) flushDB() error {
	if _, ok := x.s.store.(Scanner); !ok {
		return x.s.store.Flush(x.ctx()) // it cannot tell databases apart
	}
	muts := make([]store.Mutation, 0, flushDBBatch)
	err := x.eachKeys(flushDBBatch, func(keys [][]byte) error {
		for _, k := range keys {
			muts = append(muts, store.Mutation{Key: k, Delete: true})
		}
		if len(muts) < flushDBBatch {
			return nil
		}
		err := x.putMany(muts)
		muts = muts[:0]
		return err
	})
	if err != nil || len(muts) == 0 {
		return err
	}
	return x.putMany(muts)
}

func cmdTime(x *call) error {
	us := x.s.now().UnixMicro()
	x.conn.WriteArray(2)
	x.conn.WriteBulkString(strconv.FormatInt(us/1e6, 10))
	x.conn.WriteBulkString(strconv.FormatInt(us%1e6, 10))
	return nil
}

// configParams returns every CONFIG GET parameter with its value: the
// Redis parameters clients and tools ask for, and Config.Settings.
func (s *Server) configParams() map[string]string {
	port := ""
	bind := ""
	if a := s.Addr(); a != nil {
		if host, p, err := net.SplitHostPort(a.String()); err == nil {
			bind, port = host, p
		}
	}
	yesno := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	m := map[string]string{
		"maxclients":                strconv.FormatInt(s.live.maxClients.Load(), 10),
		"databases":                 strconv.Itoa(s.cfg.Databases),
		"timeout":                   strconv.FormatInt(int64(s.live.idle().Seconds()), 10),
		"save":                      "",
		"appendonly":                "no",
		"requirepass":               s.live.password(),
		"protected-mode":            yesno(s.live.protectedMode.Load()),
		"port":                      port,
		"bind":                      bind,
		"proto-max-bulk-len":        strconv.FormatInt(s.live.maxBulk(), 10),
		"client-query-buffer-limit": strconv.FormatInt(s.live.limits.Load().queryBuffer, 10),
		"cluster-enabled":           "no",
		"slowlog-log-slower-than":   strconv.FormatInt(s.slow.slowerThan.Load(), 10),
		"slowlog-max-len":           strconv.FormatInt(s.slow.maxLen.Load(), 10),
		"latency-monitor-threshold": strconv.FormatInt(s.latency.threshold.Load(), 10),
		"io-threads":                "1",
		"busy-reply-threshold":      strconv.FormatInt(s.scripts.BusyThreshold().Milliseconds(), 10),
		"lua-time-limit":            strconv.FormatInt(s.scripts.BusyThreshold().Milliseconds(), 10),
	}
	m["maxmemory"], m["maxmemory-policy"] = "0", "noeviction"
	if s.cfg.Memory != nil {
		u := s.cfg.Memory.Usage()
		m["maxmemory"], m["maxmemory-policy"] = strconv.FormatInt(u.Max, 10), u.Policy
	}
	if s.cfg.Settings != nil {
		// The binary's settings add to these; where both name one, the
		// server's value is the live one (CONFIG SET may have changed it).
		for k, v := range s.cfg.Settings() {
			k = strings.ToLower(k)
			if _, ok := m[k]; !ok {
				m[k] = v
			}
		}
	}
	return m
}

// cmdConfigGet answers CONFIG GET pattern [pattern...] with the matching
// parameters as a flat name/value array, each parameter once.
func cmdConfigGet(x *call) error {
	params := x.s.configParams()
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []string
	for _, name := range names {
		for _, pat := range x.args[2:] {
			if match.Match(name, strings.ToLower(string(pat))) {
				out = append(out, name, params[name])
				break
			}
		}
	}
	x.conn.WriteMap(len(out) / 2)
	for _, v := range out {
		x.conn.WriteBulkString(v)
	}
	return nil
}

// cmdConfigSet answers CONFIG SET name value [name value ...]: all the
// pairs apply or none does. A parameter CONFIG GET shows but that cannot
// change while the server runs is refused as Redis refuses its immutable
// ones.
func cmdConfigSet(x *call) error {
	if len(x.args)%2 != 0 {
		return wrongArity(x.cmd.name)
	}
	failed := func(name, why string) error {
		return newReplyError("ERR CONFIG SET failed (possibly related to argument '" + name + "') - " + why)
	}
	known := x.s.configParams()
	seen := map[string]bool{}
	var apply []func()
	for j := 2; j+1 < len(x.args); j += 2 {
		name := strings.ToLower(string(x.args[j]))
		set, runtime := runtimeParams[name]
		if bin, ok := x.s.cfg.RuntimeSettings[name]; ok && !runtime {
			set, runtime = binarySetting(bin), true
		}
		_, shown := known[name]
		switch {
		case !runtime && !shown:
			return newReplyError("ERR Unknown option or number of arguments for CONFIG SET - '" + clip(x.args[j], 128) + "'")
		case seen[name]:
			return failed(name, "duplicate parameter")
		case !runtime:
			return failed(name, "can't set immutable config")
		}
		seen[name] = true
		change, why := set(x.s, x.args[j+1])
		if why != "" {
			return failed(name, why)
		}
		apply = append(apply, change)
	}
	for _, change := range apply {
		change()
	}
	x.conn.WriteString("OK")
	return nil
}

// binarySetting is a paramSetter for one of Config.RuntimeSettings.
func binarySetting(set func(string) (func(), error)) paramSetter {
	return func(_ *Server, v []byte) (func(), string) {
		apply, err := set(string(v))
		if err != nil {
			return nil, err.Error()
		}
		return apply, ""
	}
}

func cmdConfigResetStat(x *call) error {
	x.s.resetStats()
	x.conn.WriteString("OK")
	return nil
}

func cmdConfigHelp(x *call) error {
	return writeHelp(x, "CONFIG", []string{
		"GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
		"SET <directive> <value>", "    Set the configuration <directive> to <value>.",
		"RESETSTAT", "    Reset statistics reported by the INFO command.",
	})
}

// sortedCommands lists the table in name order, for stable COMMAND replies.
func sortedCommands() []*command {
	out := make([]*command, 0, len(commandTable))
	for _, c := range commandTable {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func sortedSubs(c *command) []*command {
	out := make([]*command, 0, len(c.subs))
	for _, s := range c.subs {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func cmdCommand(x *call) error {
	cmds := sortedCommands()
	x.conn.WriteArray(len(cmds))
	for _, c := range cmds {
		writeCommandInfo(x, c)
	}
	return nil
}

// cmdCommandGetKeys answers COMMAND GETKEYS command [arg ...] from the
// command table's key positions.
func cmdCommandGetKeys(x *call) error {
	args := x.args[2:]
	c, err := resolve(args)
	switch {
	case c == nil && lookup(args[0]) == nil:
		return newReplyError("ERR Invalid command specified")
	case err != nil || c == nil:
		return newReplyError("ERR Invalid number of arguments specified for command")
	}
	keys := keyArgs(c, args)
	if len(keys) == 0 {
		return newReplyError("ERR The command has no key arguments")
	}
	x.conn.WriteArray(len(keys))
	for _, k := range keys {
		x.conn.WriteBulk(k)
	}
	return nil
}

// keyArgs returns the keys among args (the command's name first) by the
// table's positions: firstKey, lastKey (negative from the end), step.
func keyArgs(c *command, args [][]byte) [][]byte {
	if c.keys != nil {
		return c.keys(args)
	}
	if c.firstKey <= 0 {
		return nil
	}
	last := c.lastKey
	if last < 0 {
		last += len(args)
	}
	var keys [][]byte
	for i := c.firstKey; i <= last && i < len(args); i += c.step {
		keys = append(keys, args[i])
	}
	return keys
}

func cmdCommandCount(x *call) error {
	x.conn.WriteInt(len(commandTable))
	return nil
}

// cmdCommandInfo answers COMMAND INFO [name...]; unknown names get a null.
func cmdCommandInfo(x *call) error {
	if len(x.args) == 2 {
		return cmdCommand(x)
	}
	x.conn.WriteArray(len(x.args) - 2)
	for _, name := range x.args[2:] {
		c := lookupFull(name)
		if c == nil {
			x.conn.WriteNull()
			continue
		}
		writeCommandInfo(x, c)
	}
	return nil
}

// lookupFull finds "get" or a subcommand written "client|setname".
func lookupFull(name []byte) *command {
	if i := strings.IndexByte(string(name), '|'); i >= 0 {
		parent := lookup(name[:i])
		if parent == nil || parent.subs == nil {
			return nil
		}
		return parent.lookupSub(name[i+1:])
	}
	return lookup(name)
}

// writeCommandInfo writes Redis 7's 10-element command description: name,
// arity, flags, first key, last key, step, ACL categories, tips, key specs,
// subcommands.
func writeCommandInfo(x *call, c *command) {
	w := x.conn
	w.WriteArray(10)
	w.WriteBulkString(c.name)
	w.WriteInt(c.arity)
	var flags []string
	for _, f := range flagNames {
		if c.flags&f.f != 0 {
			flags = append(flags, f.name)
		}
	}
	w.WriteSet(len(flags))
	for _, f := range flags {
		w.WriteString(f)
	}
	w.WriteInt(c.firstKey)
	w.WriteInt(c.lastKey)
	w.WriteInt(c.step)
	cats := aclCategories(c)
	w.WriteSet(len(cats))
	for _, cat := range cats {
		w.WriteString(cat)
	}
	// Redis 7.0 sends tips, key specs and subcommands as sets in RESP3.
	w.WriteSet(0) // tips
	w.WriteSet(0) // key specs
	subs := sortedSubs(c)
	w.WriteSet(len(subs))
	for _, s := range subs {
		writeCommandInfo(x, s)
	}
}

func aclCategories(c *command) []string {
	if c.acl != "" {
		return strings.Fields(c.acl)
	}
	if c.subs != nil {
		// A container's own categories: its subcommands have theirs.
		if c.flags&flagFast != 0 {
			return []string{"@fast"}
		}
		return []string{"@slow"}
	}
	var cats []string
	if c.flags&flagWrite != 0 {
		cats = append(cats, "@write")
	}
	if c.flags&flagReadonly != 0 {
		cats = append(cats, "@read")
	}
	switch c.group {
	case "", "server", "cluster":
	case "generic":
		cats = append(cats, "@keyspace")
	case "transactions":
		cats = append(cats, "@transaction")
	default:
		cats = append(cats, "@"+c.group)
	}
	if c.flags&flagFast != 0 {
		cats = append(cats, "@fast")
	} else {
		cats = append(cats, "@slow")
	}
	if c.flags&flagAdmin != 0 {
		cats = append(cats, "@admin", "@dangerous")
	}
	return cats
}

// cmdCommandDocs answers COMMAND DOCS [name...] as a flat map of name to a
// flat map of summary, since, group (and subcommands), which is what
// redis-cli reads to build its hints.
func cmdCommandDocs(x *call) error {
	var cmds []*command
	if len(x.args) == 2 {
		cmds = sortedCommands()
	} else {
		for _, name := range x.args[2:] {
			if c := lookupFull(name); c != nil {
				cmds = append(cmds, c)
			}
		}
	}
	x.conn.WriteMap(len(cmds))
	for _, c := range cmds {
		x.conn.WriteBulkString(c.name)
		writeCommandDoc(x, c)
	}
	return nil
}

func writeCommandDoc(x *call, c *command) {
	w := x.conn
	n := 3
	if c.subs != nil {
		n++
	}
	w.WriteMap(n)
	w.WriteBulkString("summary")
	w.WriteBulkString(c.summary)
	w.WriteBulkString("since")
	w.WriteBulkString(c.since)
	w.WriteBulkString("group")
	w.WriteBulkString(c.group)
	if c.subs != nil {
		subs := sortedSubs(c)
		w.WriteBulkString("subcommands")
		w.WriteMap(len(subs))
		for _, s := range subs {
			w.WriteBulkString(s.name)
			writeCommandDoc(x, s)
		}
	}
}

// cmdCommandList answers COMMAND LIST [FILTERBY MODULE name | ACLCAT
// category | PATTERN pattern] as Redis 7.0 does: the commands and
// subcommands ("config|get") the filter keeps, or all of them. No
// command comes from a module.
func cmdCommandList(x *call) error {
	args := x.args[2:]
	keep := func(*command) bool { return true }
	switch {
	case len(args) == 0:
	case len(args) != 3 || !equalFold(args[0], "filterby"):
		return errSyntax
	case equalFold(args[1], "module"):
		keep = func(*command) bool { return false }
	case equalFold(args[1], "aclcat"):
		cat := "@" + strings.ToLower(string(args[2]))
		keep = func(c *command) bool { return slices.Contains(aclCategories(c), cat) }
	case equalFold(args[1], "pattern"):
		pat := bytes.ToLower(args[2])
		keep = func(c *command) bool { return globMatch(pat, []byte(c.name)) }
	default:
		return errSyntax
	}
	var names []string
	for _, c := range sortedCommands() {
		if keep(c) {
			names = append(names, c.name)
		}
		for _, sub := range sortedSubs(c) {
			if keep(sub) {
				names = append(names, sub.name)
			}
		}
	}
	x.conn.WriteArray(len(names))
	for _, n := range names {
		x.conn.WriteBulkString(n)
	}
	return nil
}

func cmdCommandHelp(x *call) error {
	return writeHelp(x, "COMMAND", []string{
		"(no subcommand)", "    Return details about all commands.",
		"COUNT", "    Return the total number of commands in this server.",
		"LIST", "    Return a list of all commands in this server.",
		"INFO [<command-name> ...]", "    Return details about multiple commands.",
		"DOCS [<command-name> ...]", "    Return documentation details about multiple commands.",
	})
}
