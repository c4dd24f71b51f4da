package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"strconv"
	"strings"
	"time"
)

// Connection commands: session state, authentication, handshake.

func cmdPing(x *call) error {
	switch len(x.args) {
	case 1:
		x.conn.WriteString("PONG")
	case 2:
		x.conn.WriteBulk(x.args[1])
	default:
		return wrongArity(x.cmd.name)
	}
	return nil
}

func cmdEcho(x *call) error {
	x.conn.WriteBulk(x.args[1])
	return nil
}

// checkAuth compares credentials with the default user's in constant time.
// Only the "default" user exists; with no RequirePass it accepts any
// password, like Redis's nopass default user.
func (s *Server) checkAuth(user, pass []byte) bool {
	userOK := user == nil || string(user) == "default"
	required := s.live.password()
	if required == "" {
		return userOK
	}
	// Hashing first makes the comparison independent of the lengths.
	got, want := sha256.Sum256(pass), sha256.Sum256([]byte(required))
	passOK := subtle.ConstantTimeCompare(got[:], want[:]) == 1
	return passOK && userOK
}

func cmdAuth(x *call) error {
	var user, pass []byte
	switch len(x.args) {
	case 2:
		if x.s.live.password() == "" {
			return errNoPassword
		}
		pass = x.args[1]
	case 3:
		user, pass = x.args[1], x.args[2]
	default:
		return errSyntax
	}
	if !x.s.checkAuth(user, pass) {
		return errWrongPass
	}
	x.c.authed = true
	x.conn.WriteString("OK")
	return nil
}

// cmdHello answers HELLO [protover [AUTH user pass] [SETNAME name]]: it
// switches the connection to RESP2 or RESP3 once the options are valid and
// the client authenticated, and answers in the protocol chosen.
func cmdHello(x *call) error {
	resp3 := x.conn.resp3
	if len(x.args) >= 2 {
		ver, ok := parseInt64(x.args[1])
		if !ok {
			return newReplyError("ERR Protocol version is not an integer or out of range")
		}
		if ver != 2 && ver != 3 {
			return errNoProto
		}
		resp3 = ver == 3
	}
	var user, pass, name []byte
	for j := 2; j < len(x.args); j++ {
		more := len(x.args) - 1 - j
		opt := x.args[j]
		switch {
		case equalFold(opt, "auth") && more >= 2:
			user, pass = x.args[j+1], x.args[j+2]
			j += 2
		case equalFold(opt, "setname") && more >= 1:
			name = x.args[j+1]
			if err := validateName(name); err != nil {
				return err
			}
			j++
		default:
			return newReplyError("ERR Syntax error in HELLO option '" + clip(opt, 128) + "'")
		}
	}
	if pass != nil {
		if !x.s.checkAuth(user, pass) {
			return errWrongPass
		}
		x.c.authed = true
	}
	if x.c.needsAuth() {
		return newReplyError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
	}
	if name != nil {
		x.c.setName(string(name))
	}
	x.c.setProto(resp3)
	w := x.conn
	w.WriteMap(7)
	w.WriteBulkString("server")
	w.WriteBulkString("redis")
	w.WriteBulkString("version")
	w.WriteBulkString(redisVersion)
	w.WriteBulkString("proto")
	w.WriteInt(w.proto())
	w.WriteBulkString("id")
	w.WriteInt64(x.c.id)
	w.WriteBulkString("mode")
	w.WriteBulkString("standalone")
	w.WriteBulkString("role")
	w.WriteBulkString("master")
	w.WriteBulkString("modules")
	w.WriteArray(0)
	return nil
}

// validateName applies Redis's rule for client names: printable ASCII
// without spaces.
func validateName(name []byte) error {
	for _, c := range name {
		if c < '!' || c > '~' {
			return newReplyError("ERR Client names cannot contain spaces, newlines or special characters.")
		}
	}
	return nil
}

func cmdSelect(x *call) error {
	id, ok := parseInt64(x.args[1])
	if !ok || id < math32Min || id > math32Max {
		return errNotInteger
	}
	if id < 0 || id >= int64(x.s.cfg.Databases) {
		return errDBIndex
	}
	x.c.selectDB(int(id))
	x.conn.WriteString("OK")
	return nil
}

const (
	math32Min = -1 << 31
	math32Max = 1<<31 - 1
)

func cmdQuit(x *call) error {
	x.conn.WriteString("OK")
	x.c.closed = true
	x.conn.Close()
	return nil
}

// cmdReset returns the session to its initial state, including
// unauthenticating it when a password is configured.
func cmdReset(x *call) error {
	x.c.setName("")
	x.c.authed = x.s.live.password() == ""
	x.c.clearConsistency()
	x.c.setProto(false)
	x.c.replyOff, x.c.skipNext, x.c.noEvict = false, false, false
	x.c.selectDB(0)
	x.c.discardTxn()
	x.conn.unmute()
	x.conn.WriteString("RESET")
	return nil
}

func cmdClientSetName(x *call) error {
	if err := validateName(x.args[2]); err != nil {
		return err
	}
	x.c.setName(string(x.args[2]))
	x.conn.WriteString("OK")
	return nil
}

func cmdClientGetName(x *call) error {
	if name := x.c.name(); name != "" {
		x.conn.WriteBulkString(name)
	} else {
		x.conn.WriteNull()
	}
	return nil
}

func cmdClientID(x *call) error {
	x.conn.WriteInt64(x.c.id)
	return nil
}

func cmdClientSetInfo(x *call) error {
	attr, val := x.args[2], string(x.args[3])
	var name, ver *string
	switch {
	case equalFold(attr, "lib-name"):
		name = &val
	case equalFold(attr, "lib-ver"):
		ver = &val
	default:
		return newReplyError("ERR Unrecognized option '" + clip(attr, 128) + "'")
	}
	if validateName(x.args[3]) != nil {
		return newReplyError("ERR " + clip(attr, 128) + " cannot contain spaces, newlines or special characters.")
	}
	x.c.setLib(name, ver)
	x.conn.WriteString("OK")
	return nil
}

func cmdClientInfo(x *call) error {
	x.conn.WriteVerbatim(x.s.clientLine(x.c, time.Now()))
	return nil
}

// cmdClientList answers CLIENT LIST [TYPE type] [ID id...].
func cmdClientList(x *call) error {
	var ids map[int64]bool
	all := true
	args := x.args[2:]
	switch {
	case len(args) == 0:
	case len(args) == 2 && equalFold(args[0], "type"):
		switch t := strings.ToLower(string(args[1])); t {
		case "normal":
		case "master", "replica", "slave", "pubsub":
			all = false
		default:
			return newReplyError("ERR Unknown client type '" + clip(args[1], 128) + "'")
		}
	case len(args) >= 2 && equalFold(args[0], "id"):
		ids = map[int64]bool{}
		for _, a := range args[1:] {
			id, ok := parseInt64(a)
			if !ok || id <= 0 {
				return newReplyError("ERR Invalid client ID")
			}
			ids[id] = true
		}
	default:
		return errSyntax
	}
	var b strings.Builder
	now := time.Now()
	if all {
		for _, c := range x.s.clients() {
			if ids == nil || ids[c.id] {
				b.WriteString(x.s.clientLine(c, now))
			}
		}
	}
	x.conn.WriteVerbatim(b.String())
	return nil
}

// clientLine renders one CLIENT LIST line with Redis 7.2's fields; the
// buffer and memory fields the server does not track are zero.
func (s *Server) clientLine(c *client, now time.Time) string {
	name := c.name()
	libName, libVer := c.lib()
	cmd := "NULL"
	if last := c.lastCmd.Load(); last != nil {
		cmd = last.name
	}
	age := int64(now.Sub(c.created) / time.Second)
	idle := max((now.UnixMilli()-c.lastActive.Load())/1000, 0)
	var b strings.Builder
	kv := func(k, v string) {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
		b.WriteByte(' ')
	}
	itoa := func(v int64) string { return strconv.FormatInt(v, 10) }
	kv("id", itoa(c.id))
	kv("addr", c.conn.RemoteAddr().String())
	kv("laddr", c.conn.LocalAddr().String())
	kv("fd", "-1")
	kv("name", name)
	kv("age", itoa(age))
	kv("idle", itoa(idle))
	kv("flags", "N")
	kv("db", itoa(int64(c.dbShown.Load())))
	for _, f := range []string{"sub", "psub", "ssub"} {
		kv(f, "0")
	}
	kv("multi", "-1")
	for _, f := range []string{"watch", "qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp", "obl", "oll", "omem", "tot-mem"} {
		kv(f, "0")
	}
	kv("events", "r")
	kv("cmd", cmd)
	kv("user", "default")
	kv("redir", "-1")
	kv("resp", strconv.Itoa(int(c.proto.Load())))
	kv("lib-name", libName)
	b.WriteString("lib-ver=")
	b.WriteString(libVer)
	b.WriteByte('\n')
	return b.String()
}

func cmdClientHelp(x *call) error {
	return writeHelp(x, "CLIENT", []string{
		"GETNAME", "    Return the name of the current connection.",
		"ID", "    Return the ID of the current connection.",
		"INFO", "    Return information about the current client connection.",
		"KILL <ip:port>", "    Kill connection made from <ip:port>.",
		"KILL <option> <value> [<option> <value> [...]]", "    Kill connections. Options are: ID, TYPE, USER, ADDR, LADDR, SKIPME.",
		"LIST [TYPE <type>] [ID <id> [<id> ...]]", "    Return information about client connections.",
		"NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
		"PAUSE <timeout> [WRITE|ALL]", "    Suspend all, or just write, clients for <timeout> milliseconds.",
		"REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
		"SETINFO <option> <value>", "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
		"SETNAME <name>", "    Assign the name <name> to the current connection.",
		"UNPAUSE", "    Stop the current client pause, resuming traffic.",
	})
}

// writeHelp writes a container's HELP reply like Redis's addReplyHelp.
func writeHelp(x *call, name string, lines []string) error {
	x.conn.WriteArray(len(lines) + 3)
	x.conn.WriteString(name + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, l := range lines {
		x.conn.WriteString(l)
	}
	x.conn.WriteString("HELP")
	x.conn.WriteString("    Print this help.")
	return nil
}
