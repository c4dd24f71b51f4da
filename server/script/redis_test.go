package script

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringcache/ringcache/bench/await"
	"github.com/ringcache/ringcache/bench/loopback"
)

// startRedis starts redis-server on a free loopback port for the test's
// duration. Without redis-server the test is skipped, unless CI is set.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server not found: %v", err)
		}
		t.Skip("redis-server not found")
	}
	addr, err := loopback.Addr()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--busy-reply-threshold", "100000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	err = await.Poll(context.Background(), 10*time.Second, 20*time.Millisecond, func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// respConn is a raw connection to redis-server: commands out, raw reply
// bytes in.
type respConn struct {
	t  testing.TB
	c  net.Conn
	rd *bufio.Reader
}

func dialRESP(t testing.TB, addr string, proto int) *respConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &respConn{t: t, c: c, rd: bufio.NewReader(c)}
	if proto == 3 {
		rc.do("HELLO", "3")
	}
	return rc
}

func (rc *respConn) do(args ...string) []byte {
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	return rc.doBytes(bs)
}

func (rc *respConn) doBytes(args [][]byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := rc.c.Write(b.Bytes()); err != nil {
		rc.t.Fatal(err)
	}
	var out []byte
	if err := readRaw(rc.rd, &out); err != nil {
		rc.t.Fatal(err)
	}
	return out
}

// readRaw appends one complete reply, as sent, to out.
func readRaw(rd *bufio.Reader, out *[]byte) error {
	line, err := rd.ReadBytes('\n')
	if err != nil {
		return err
	}
	*out = append(*out, line...)
	body := string(line[1 : len(line)-2])
	switch line[0] {
	case '$', '=', '!':
		n, _ := strconv.Atoi(body)
		if n < 0 {
			return nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return err
		}
		*out = append(*out, buf...)
	case '*', '~', '%', '|', '>':
		n, _ := strconv.Atoi(body)
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		for range max(n, 0) {
			if err := readRaw(rd, out); err != nil {
				return err
			}
		}
		if line[0] == '|' {
			return readRaw(rd, out)
		}
	}
	return nil
}

// redisHost is a Host that runs the script's commands on redis-server,
// over one connection per protocol, and describes commands with COMMAND
// INFO.
type redisHost struct {
	conns map[int]*respConn
	mu    sync.Mutex
	info  map[string]*Command
}

func newRedisHost(t testing.TB, addr string) *redisHost {
	return &redisHost{
		conns: map[int]*respConn{2: dialRESP(t, addr, 2), 3: dialRESP(t, addr, 3)},
		info:  map[string]*Command{},
	}
}

func (h *redisHost) Command(args [][]byte) (Command, bool) {
	name := strings.ToLower(string(args[0]))
	c := h.describe(name)
	if c == nil {
		return Command{}, false
	}
	if c.Arity == subcommands {
		if len(args) < 2 {
			return Command{Arity: -2}, true
		}
		c = h.describe(name + "|" + strings.ToLower(string(args[1])))
		if c == nil {
			return Command{}, false
		}
	}
	return *c, true
}

// subcommands marks a container command (CLIENT, CONFIG...) in the cache.
const subcommands = 1 << 30

func (h *redisHost) describe(name string) *Command {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.info[name]; ok {
		return c
	}
	raw := h.conns[2].do("COMMAND", "INFO", name)
	r, _, err := parseReply(raw)
	var c *Command
	if err == nil && len(r.elems) == 1 && !r.elems[0].null && len(r.elems[0].elems) >= 3 {
		info := r.elems[0].elems
		c = &Command{Arity: int(info[1].num)}
		for _, f := range info[2].elems {
			switch string(f.str) {
			case "write", "may_replicate":
				c.Write = true
			case "noscript":
				c.NoScript = true
			}
		}
		if len(info) >= 10 && len(info[9].elems) > 0 {
			c.Arity = subcommands
		}
	}
	h.info[name] = c
	return c
}

func (h *redisHost) Call(args [][]byte, proto int) []byte {
	return h.conns[proto].doBytes(args)
}
