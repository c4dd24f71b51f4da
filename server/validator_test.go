package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeConn feeds fixed input in chunks of at most chunk bytes and records
// what is written back.
type fakeConn struct {
	in      []byte
	chunk   int
	written bytes.Buffer
}

func (f *fakeConn) Read(p []byte) (int, error) {
	if len(f.in) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), f.chunk, len(f.in))
	copy(p, f.in[:n])
	f.in = f.in[n:]
	return n, nil
}
func (f *fakeConn) Write(p []byte) (int, error)      { return f.written.Write(p) }
func (f *fakeConn) Close() error                     { return nil }
func (f *fakeConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (f *fakeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (f *fakeConn) SetDeadline(time.Time) error      { return nil }
func (f *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (f *fakeConn) SetWriteDeadline(time.Time) error { return nil }

// validate runs input through a clientConn and returns what it releases
// to redcon, what it writes back, and the terminating error.
func validate(t testing.TB, cfg Config, input []byte, chunk, readSize int, authed bool) (released, reply []byte, err error) {
	t.Helper()
	srv, e := New(cfg, newMemStore(nil))
	if e != nil {
		t.Fatal(e)
	}
	fc := &fakeConn{in: input, chunk: max(chunk, 1)}
	cc := newClientConn(srv, fc)
	cc.cl = &client{conn: cc, authed: authed}
	buf := make([]byte, max(readSize, 1))
	for i := 0; ; i++ {
		n, err := cc.Read(buf)
		released = append(released, buf[:n]...)
		if err != nil {
			return released, fc.written.Bytes(), err
		}
		if n == 0 && i > len(input)+10 {
			t.Fatal("no progress")
		}
	}
}

func smallLimits() Config {
	cfg := DefaultConfig()
	cfg.MaxBulkLen = 64
	cfg.MaxMultibulk = 8
	cfg.MaxInlineLen = 64
	cfg.QueryBufferLimit = 200
	cfg.PreAuthMaxBytes = 16
	cfg.PreAuthMaxMultibulk = 4
	cfg.RequirePass = "secret" // so that a client not authed has to AUTH
	return cfg
}

func TestValidator(t *testing.T) {
	cases := []struct {
		name     string
		in       string
		authed   bool
		released string
		reply    string // "" = closed without reply (EOF or silent)
		protoErr bool
	}{
		{"ok", "*1\r\n$4\r\nPING\r\n", true, "*1\r\n$4\r\nPING\r\n", "", false},
		{"star zero ignored", "*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", true, "*1\r\n$4\r\nPING\r\n", "", false},
		{"inline converted", "set a \"b c\"\r\n", true, "*3\r\n$3\r\nset\r\n$1\r\na\r\n$3\r\nb c\r\n", "", false},
		{"empty inline ignored", "\r\n  \r\nPING\n", true, "*1\r\n$4\r\nPING\r\n", "", false},
		{"negative bulk", "*1\r\n$-1\r\n", true, "*1\r\n", "-ERR Protocol error: invalid bulk length\r\n", true},
		{"bulk too big", "*1\r\n$65\r\n", true, "*1\r\n", "-ERR Protocol error: invalid bulk length\r\n", true},
		{"bad bulk number", "*1\r\n$x\r\n", true, "*1\r\n", "-ERR Protocol error: invalid bulk length\r\n", true},
		{"bulk missing crlf", "*1\r\n$1\r\naXY", true, "*1\r\n$1\r\na", "-ERR Protocol error: invalid bulk length\r\n", true},
		{"multibulk too big", "*9\r\n", true, "", "-ERR Protocol error: invalid multibulk length\r\n", true},
		{"multibulk not a number", "*x\r\n", true, "", "-ERR Protocol error: invalid multibulk length\r\n", true},
		{"multibulk bare lf", "*1\n", true, "", "-ERR Protocol error: invalid multibulk length\r\n", true},
		{"expected dollar", "*1\r\n:1\r\n", true, "*1\r\n", "-ERR Protocol error: expected '$', got ':'\r\n", true},
		{"unbalanced quotes", "set \"a\r\n", true, "", "-ERR Protocol error: unbalanced quotes in request\r\n", true},
		{"big inline", strings.Repeat("a", 70), true, "", "-ERR Protocol error: too big inline request\r\n", true},
		{"big mbulk count", "*" + strings.Repeat("1", 70), true, "", "-ERR Protocol error: too big mbulk count string\r\n", true},
		{"big bulk count", "*1\r\n$" + strings.Repeat("1", 70), true, "*1\r\n", "-ERR Protocol error: too big bulk count string\r\n", true},
		{"query buffer", "*4\r\n$60\r\n" + strings.Repeat("a", 60) + "\r\n$60\r\n" + strings.Repeat("a", 60) + "\r\n$60\r\n", true,
			"*4\r\n$60\r\n" + strings.Repeat("a", 60) + "\r\n$60\r\n" + strings.Repeat("a", 60) + "\r\n", "", true},
		{"preauth multibulk", "*5\r\n", false, "", "-ERR Protocol error: unauthenticated multibulk length\r\n", true},
		{"preauth bulk", "*1\r\n$17\r\n", false, "*1\r\n", "-ERR Protocol error: unauthenticated bulk length\r\n", true},
		{"preauth within limits", "*2\r\n$4\r\nAUTH\r\n$16\r\n" + strings.Repeat("p", 16) + "\r\n", false,
			"*2\r\n$4\r\nAUTH\r\n$16\r\n" + strings.Repeat("p", 16) + "\r\n", "", false},
		{"commands before error are released", "*1\r\n$4\r\nPING\r\n*1\r\n$-2\r\n", true,
			"*1\r\n$4\r\nPING\r\n*1\r\n", "-ERR Protocol error: invalid bulk length\r\n", true},
	}
	for _, c := range cases {
		for _, chunk := range []int{1, 3, 4096} {
			rel, reply, err := validate(t, smallLimits(), []byte(c.in), chunk, 4096, c.authed)
			if string(rel) != c.released || string(reply) != c.reply || errors.Is(err, errProtocol) != c.protoErr {
				t.Errorf("%s (chunk %d): released %q reply %q err %v; want %q %q protoErr=%v",
					c.name, chunk, rel, reply, err, c.released, c.reply, c.protoErr)
			}
		}
	}
}

// TestValidatorPreAuthOneAtATime: before AUTH the connection releases one
// command per Read, so AUTH takes effect before the next header is checked.
func TestValidatorPreAuthOneAtATime(t *testing.T) {
	srv, _ := New(smallLimits(), newMemStore(nil))
	in := "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n"
	cc := newClientConn(srv, &fakeConn{in: []byte(in), chunk: 1 << 20})
	cc.cl = &client{conn: cc}
	buf := make([]byte, 4096)
	n, err := cc.Read(buf)
	if err != nil || string(buf[:n]) != "*1\r\n$4\r\nPING\r\n" {
		t.Fatalf("first read %q, %v", buf[:n], err)
	}
	cc.cl.authed = true
	n, err = cc.Read(buf)
	if err != nil || string(buf[:n]) != "*1\r\n$4\r\nPING\r\n" {
		t.Fatalf("second read %q, %v", buf[:n], err)
	}
}

// checkReleased parses released bytes as strict RESP multibulk and fails if
// any header exceeds the limits.
func checkReleased(t *testing.T, b []byte, cfg Config, preAuth bool) {
	maxArgs, maxBulk := cfg.MaxMultibulk, cfg.MaxBulkLen
	if preAuth {
		maxArgs, maxBulk = cfg.PreAuthMaxMultibulk, cfg.PreAuthMaxBytes
	}
	readLine := func(prefix byte) (int64, bool) {
		if len(b) == 0 {
			return 0, false
		}
		if b[0] != prefix {
			t.Fatalf("released %q where %q header expected", b, prefix)
		}
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			return 0, false
		}
		v, ok := parseInt64(b[1:i])
		if !ok {
			t.Fatalf("released bad header %q", b[:i])
		}
		b = b[i+2:]
		return v, true
	}
	for len(b) > 0 {
		n, ok := readLine('*')
		if !ok {
			return
		}
		if n <= 0 || n > maxArgs {
			t.Fatalf("released multibulk count %d over limit %d", n, maxArgs)
		}
		for i := int64(0); i < n; i++ {
			size, ok := readLine('$')
			if !ok {
				return
			}
			if size < 0 || size > maxBulk {
				t.Fatalf("released bulk length %d over limit %d", size, maxBulk)
			}
			if int64(len(b)) < size+2 {
				return
			}
			if string(b[size:size+2]) != "\r\n" {
				t.Fatalf("released bulk without CRLF")
			}
			b = b[size+2:]
		}
	}
}

// FuzzValidator feeds arbitrary bytes in arbitrary chunks: the connection
// never panics, only releases well-formed RESP within the limits, and
// either ends at EOF or with one of Redis's protocol errors.
func FuzzValidator(f *testing.F) {
	seeds := []string{
		"*1\r\n$4\r\nPING\r\n", "*0\r\n", "*-1\r\n", "PING\r\n", "set a \"b\\x41\" 'c'\r\n",
		"*2\r\n$3\r\nGET\r\n$100\r\n", "*1\r\n$-1\r\n", "*99\r\n", "\"unbalanced\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint8(3), true)
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8, authed bool) {
		cfg := smallLimits()
		rel, reply, err := validate(t, cfg, in, int(chunk%32)+1, int(chunk%7)*512+1, authed)
		checkReleased(t, rel, cfg, !authed)
		if err == nil || (!errors.Is(err, io.EOF) && !errors.Is(err, errProtocol)) {
			t.Fatalf("unexpected end %v", err)
		}
		if len(reply) > 0 && !bytes.HasPrefix(reply, []byte("-ERR Protocol error: ")) {
			t.Fatalf("unexpected reply %q", reply)
		}
	})
}

func TestSplitInline(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{"   ", nil, true},
		{"get a", []string{"get", "a"}, true},
		{"  set\ta  b ", []string{"set", "a", "b"}, true},
		{`set "a b" c`, []string{"set", "a b", "c"}, true},
		{`set "a\nb\x41\"" c`, []string{"set", "a\nbA\"", "c"}, true},
		{`set 'it\'s' x`, []string{"set", "it's", "x"}, true},
		{`set a"b c"`, []string{"set", "ab c"}, true},
		{`set ""`, []string{"set", ""}, true},
		{`set "a"b`, nil, false},
		{`set "a`, nil, false},
		{`set 'a`, nil, false},
		{"get a\x00ignored", []string{"get", "a"}, true},
	}
	for _, c := range cases {
		got, ok := splitInline([]byte(c.in))
		if ok != c.ok {
			t.Errorf("%q: ok %v", c.in, ok)
			continue
		}
		var gs []string
		for _, g := range got {
			gs = append(gs, string(g))
		}
		if strings.Join(gs, "|") != strings.Join(c.want, "|") || len(gs) != len(c.want) {
			t.Errorf("%q: got %q want %q", c.in, gs, c.want)
		}
	}
}
