package script

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// memHost is an in-memory Host with a handful of string commands, for
// tests that do not need redis-server.
type memHost struct {
	mu   sync.Mutex
	data map[string]string
}

func newMemHost() *memHost { return &memHost{data: map[string]string{}} }

var memCommands = map[string]Command{
	"get":   {Arity: 2},
	"set":   {Arity: -3, Write: true},
	"del":   {Arity: -2, Write: true},
	"incr":  {Arity: 2, Write: true},
	"ping":  {Arity: -1},
	"multi": {Arity: 1, NoScript: true},
}

func (h *memHost) Command(args [][]byte) (Command, bool) {
	c, ok := memCommands[strings.ToLower(string(args[0]))]
	return c, ok
}

func (h *memHost) Call(args [][]byte, proto int) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	key := ""
	if len(args) > 1 {
		key = string(args[1])
	}
	switch strings.ToLower(string(args[0])) {
	case "get":
		v, ok := h.data[key]
		if !ok {
			if proto == 3 {
				return []byte("_\r\n")
			}
			return []byte("$-1\r\n")
		}
		return appendBulk(nil, v)
	case "set":
		h.data[key] = string(args[2])
		return []byte("+OK\r\n")
	case "del":
		_, ok := h.data[key]
		delete(h.data, key)
		if ok {
			return []byte(":1\r\n")
		}
		return []byte(":0\r\n")
	case "incr":
		n, err := strconv.ParseInt(h.data[key]+strings.Repeat("0", btoi(h.data[key] == "")), 10, 64)
		if err != nil {
			return []byte("-ERR value is not an integer or out of range\r\n")
		}
		h.data[key] = strconv.FormatInt(n+1, 10)
		return appendInt(nil, ':', n+1)
	}
	return []byte("+PONG\r\n")
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func newEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func eval(e *Engine, script string, r Run) string {
	return string(e.Eval(context.Background(), []byte(script), r))
}
