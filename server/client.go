package server

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"
)

// client is one connection's session state. Fields without a comment are
// touched only by the connection's goroutine.
type client struct {
	id      int64
	conn    *clientConn
	created time.Time
	authed  bool // false until AUTH when RequirePass is set

	// lastActive is the Unix time in ms of the last command, read by
	// CLIENT LIST from other goroutines.
	lastActive atomic.Int64
	// lastCmd is the last command run, for CLIENT LIST's cmd= field.
	lastCmd atomic.Pointer[command]

	mu struct {
		sync.Mutex
		name, libName, libVer string
	}

	closed bool // QUIT ran; skip the rest of the pipeline

	// Scratch space reused across pipelines so the hot path does not
	// allocate. Each is cleared after use so it does not pin requests.
	cmds    []redcon.Command
	keys    [][]byte
	muts    []Mutation
	hashes  []uint64
	stripes []int
	ends    []int
	call    call
}

func (c *client) needsAuth() bool { return !c.authed }

func (c *client) setName(name string) {
	c.mu.Lock()
	c.mu.name = name
	c.mu.Unlock()
}

func (c *client) name() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.name
}

func (c *client) setLib(name, ver *string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if name != nil {
		c.mu.libName = *name
	}
	if ver != nil {
		c.mu.libVer = *ver
	}
}

func (c *client) lib() (name, ver string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.libName, c.mu.libVer
}

// clientOf returns the session behind a redcon connection, attaching it on
// the connection's first command.
func clientOf(conn redcon.Conn) *client {
	if c, ok := conn.Context().(*client); ok {
		return c
	}
	cc, ok := conn.NetConn().(*clientConn)
	if !ok {
		return nil
	}
	conn.SetContext(cc.cl)
	return cc.cl
}
