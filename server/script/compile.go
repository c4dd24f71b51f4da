package script

import (
	"bytes"
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// chunkName is the name Redis gives every EVAL script: errors say
// "user_script:<line>: ...".
const chunkName = "user_script"

// compiled is a cached script. proto is shared by every sandbox that
// runs the script; gopher-lua never changes a FunctionProto after
// compiling it.
type compiled struct {
	body     []byte
	proto    *lua.FunctionProto
	shebang  bool // the body starts with a "#!lua" line
	noWrites bool // the shebang has flags=no-writes
}

// compile parses the shebang line, if any, and compiles the body.
func compile(body []byte) (*compiled, error) {
	c := &compiled{body: body}
	src, err := c.parseShebang(body)
	if err != nil {
		return nil, err
	}
	proto, err := compileLua(src)
	if err != nil {
		return nil, err
	}
	c.proto = proto
	return c, nil
}

// scriptFlags are the shebang flags Redis 7.0 accepts. Only no-writes
// changes what the engine does; the others concern a single Redis
// server's OOM, replica and cluster checks.
var scriptFlags = map[string]bool{
	"no-writes": true, "allow-oom": true, "allow-stale": true,
	"no-cluster": true, "allow-cross-slot-keys": true,
}

// parseShebang reads a "#!lua flags=..." first line as Redis 7.0 does
// and returns the source to compile: the body without the shebang line
// but with its newline, so line numbers stay the user's.
func (c *compiled) parseShebang(body []byte) ([]byte, error) {
	if !bytes.HasPrefix(body, []byte("#!")) {
		return body, nil
	}
	end := bytes.IndexByte(body, '\n')
	if end < 0 {
		return nil, compileError("ERR Invalid script shebang")
	}
	parts := strings.Fields(string(body[:end]))
	if parts[0] != "#!lua" {
		return nil, compileError("ERR Unexpected engine in script shebang: " + parts[0])
	}
	c.shebang = true
	for _, p := range parts[1:] {
		flags, ok := strings.CutPrefix(p, "flags=")
		if !ok {
			return nil, compileError("ERR Unknown lua shebang option: " + p)
		}
		for _, f := range strings.Split(flags, ",") {
			if f == "" && flags == "" {
				continue
			}
			if !scriptFlags[f] {
				return nil, compileError("ERR Unexpected flag in script shebang: " + f)
			}
			c.noWrites = c.noWrites || f == "no-writes"
		}
	}
	return body[end:], nil
}

// compileLua compiles src, with errors worded as Redis words them:
// "Error compiling script (new function): user_script:<line>: ...".
func compileLua(src []byte) (proto *lua.FunctionProto, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = compileError(fmt.Sprintf("ERR Error compiling script (new function): %s: %v", chunkName, r))
		}
	}()
	chunk, err := parse.Parse(bytes.NewReader(src), chunkName)
	if err != nil {
		return nil, compileError("ERR Error compiling script (new function): " + parseMessage(err, src))
	}
	proto, err = lua.Compile(chunk, chunkName)
	if err != nil {
		return nil, compileError("ERR Error compiling script (new function): " + err.Error())
	}
	return proto, nil
}

// parseMessage words a gopher-lua syntax error the way Lua 5.1 shapes
// them, "user_script:<line>: <message> near '<token>'". The message
// itself is gopher-lua's ("syntax error"), not Lua's.
func parseMessage(err error, src []byte) string {
	pe, ok := err.(*parse.Error)
	if !ok {
		return chunkName + ": " + strings.TrimSpace(err.Error())
	}
	line, token := pe.Pos.Line, pe.Token
	if line == parse.EOF {
		line, token = bytes.Count(src, []byte("\n"))+1, "<eof>"
	}
	msg := strings.TrimSpace(pe.Message)
	if token == "" {
		return fmt.Sprintf("%s:%d: %s", chunkName, line, msg)
	}
	return fmt.Sprintf("%s:%d: %s near '%s'", chunkName, line, msg, token)
}
