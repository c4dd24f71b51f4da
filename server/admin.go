package server

import (
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/tidwall/match"
)

// Server administration commands: DBSIZE, FLUSH*, TIME, CONFIG, COMMAND.

// redisVersion is the Redis version the server reports to clients; tools
// gate features on it.
const redisVersion = "7.2.0"

func cmdDBSize(x *call) error {
	n, err := x.s.store.Len(x.ctx())
	if err != nil {
		return err
	}
	x.conn.WriteInt64(n)
	return nil
}

// cmdFlush answers FLUSHDB and FLUSHALL [ASYNC|SYNC]; both modes flush
// before replying.
func cmdFlush(x *call) error {
	switch {
	case len(x.args) == 1:
	case len(x.args) == 2 && (equalFold(x.args[1], "async") || equalFold(x.args[1], "sync")):
	default:
		return errSyntax
	}
	if err := x.s.store.Flush(x.ctx()); err != nil {
		return err
	}
	x.conn.WriteString("OK")
	return nil
}

func cmdTime(x *call) error {
	us := x.s.now().UnixMicro()
	x.conn.WriteArray(2)
	x.conn.WriteBulkString(strconv.FormatInt(us/1e6, 10))
	x.conn.WriteBulkString(strconv.FormatInt(us%1e6, 10))
	return nil
}

// configParams returns every CONFIG GET parameter with its value: the
// Redis parameters clients and tools ask for, then Config.Settings.
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
		"maxclients":                strconv.Itoa(s.cfg.MaxClients),
		"databases":                 "1",
		"timeout":                   strconv.FormatInt(int64(s.cfg.IdleTimeout.Seconds()), 10),
		"save":                      "",
		"appendonly":                "no",
		"requirepass":               s.cfg.RequirePass,
		"protected-mode":            yesno(s.cfg.ProtectedMode),
		"port":                      port,
		"bind":                      bind,
		"proto-max-bulk-len":        strconv.FormatInt(s.cfg.MaxBulkLen, 10),
		"client-query-buffer-limit": strconv.FormatInt(s.cfg.QueryBufferLimit, 10),
		"maxmemory":                 "0",
		"maxmemory-policy":          "noeviction",
		"cluster-enabled":           "no",
		"slowlog-log-slower-than":   "-1",
		"slowlog-max-len":           "0",
		"io-threads":                "1",
	}
	if s.cfg.Settings != nil {
		for k, v := range s.cfg.Settings() {
			m[strings.ToLower(k)] = v
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
	x.conn.WriteArray(len(out))
	for _, v := range out {
		x.conn.WriteBulkString(v)
	}
	return nil
}

// cmdConfigSet rejects every parameter: configuration is owned by the
// binary and fixed at start.
func cmdConfigSet(x *call) error {
	return newReplyError("ERR Unknown option or number of arguments for CONFIG SET - '" +
		clip(x.args[2], 128) + "'")
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
	w.WriteArray(len(flags))
	for _, f := range flags {
		w.WriteString(f)
	}
	w.WriteInt(c.firstKey)
	w.WriteInt(c.lastKey)
	w.WriteInt(c.step)
	cats := aclCategories(c)
	w.WriteArray(len(cats))
	for _, cat := range cats {
		w.WriteString(cat)
	}
	w.WriteArray(0) // tips
	w.WriteArray(0) // key specs
	subs := sortedSubs(c)
	w.WriteArray(len(subs))
	for _, s := range subs {
		writeCommandInfo(x, s)
	}
}

func aclCategories(c *command) []string {
	var cats []string
	if c.flags&flagWrite != 0 {
		cats = append(cats, "@write")
	}
	if c.flags&flagReadonly != 0 {
		cats = append(cats, "@read")
	}
	if c.group != "" && c.group != "server" {
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
	x.conn.WriteArray(2 * len(cmds))
	for _, c := range cmds {
		x.conn.WriteBulkString(c.name)
		writeCommandDoc(x, c)
	}
	return nil
}

func writeCommandDoc(x *call, c *command) {
	w := x.conn
	n := 6
	if c.subs != nil {
		n += 2
	}
	w.WriteArray(n)
	w.WriteBulkString("summary")
	w.WriteBulkString(c.summary)
	w.WriteBulkString("since")
	w.WriteBulkString(c.since)
	w.WriteBulkString("group")
	w.WriteBulkString(c.group)
	if c.subs != nil {
		subs := sortedSubs(c)
		w.WriteBulkString("subcommands")
		w.WriteArray(2 * len(subs))
		for _, s := range subs {
			w.WriteBulkString(s.name)
			writeCommandDoc(x, s)
		}
	}
}

// cmdCommandList answers COMMAND LIST; FILTERBY is not supported and
// lists everything.
func cmdCommandList(x *call) error {
	cmds := sortedCommands()
	x.conn.WriteArray(len(cmds))
	for _, c := range cmds {
		x.conn.WriteBulkString(c.name)
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
