package server

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/server/store"
)

// TestMalformedInput: each malformed input gets Redis's error, the
// connection is closed, and the server keeps answering other clients.
func TestMalformedInput(t *testing.T) {
	ts := defaultTestServer(t)
	cases := []struct{ in, reply string }{
		{"*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length"},
		{"*1\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length"},
		{"*1\r\n$600000000\r\n", "-ERR Protocol error: invalid bulk length"},
		{"*1\r\n$3\r\nabcXY", "-ERR Protocol error: invalid bulk length"},
		{"*2000000\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"*abc\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"*1\r\nx\r\n", "-ERR Protocol error: expected '$', got 'x'"},
		{"SET \"a b\r\n", "-ERR Protocol error: unbalanced quotes in request"},
		{strings.Repeat("x", 70000), "-ERR Protocol error: too big inline request"},
		{"*" + strings.Repeat("1", 70000), "-ERR Protocol error: too big mbulk count string"},
	}
	for _, c := range cases {
		r := ts.dial(t)
		r.send(c.in)
		if got := r.line(); got != c.reply {
			t.Errorf("%.20q: reply %q, want %q", c.in, got, c.reply)
		}
		r.expectClosed()
		other := ts.dial(t)
		other.send("*1\r\n$4\r\nPING\r\n")
		if got := other.line(); got != "+PONG" {
			t.Fatalf("server stopped answering after %.20q: %q", c.in, got)
		}
	}
}

// TestRedisQuirks: inputs Redis accepts and redcon alone would not.
func TestRedisQuirks(t *testing.T) {
	ts := defaultTestServer(t)
	r := ts.dial(t)
	r.send("*0\r\n*-1\r\n\r\nPING\r\n*1\r\n$4\r\nping\r\n")
	for i := 0; i < 2; i++ {
		if got := r.line(); got != "+PONG" {
			t.Fatalf("reply %d = %q", i, got)
		}
	}
	r.send("SET k \"a\\x41\\nb\"\r\nGET k\r\n")
	if got := r.line(); got != "+OK" {
		t.Fatal(got)
	}
	if got := r.line(); got != "$4" {
		t.Fatal(got)
	}
	if got := r.line() + "|" + r.line(); got != "aA\n|b" { // value "aA\nb"
		t.Fatal(got)
	}
}

func TestPipelineOrdering(t *testing.T) {
	ts := defaultTestServer(t)
	r := ts.dial(t)
	var b strings.Builder
	b.WriteString("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n1\r\n")
	b.WriteString("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
	b.WriteString("*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n")
	b.WriteString("*3\r\n$4\r\nMGET\r\n$1\r\nk\r\n$1\r\nz\r\n")
	b.WriteString("*5\r\n$4\r\nMSET\r\n$1\r\nk\r\n$1\r\n7\r\n$1\r\nk\r\n$1\r\n8\r\n")
	b.WriteString("*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\n9\r\n")
	b.WriteString("*2\r\n$3\r\nget\r\n$1\r\nk\r\n")
	b.WriteString("*1\r\n$4\r\nQUIT\r\n")
	b.WriteString("*1\r\n$4\r\nPING\r\n")
	r.send(b.String())
	want := []string{"+OK", "$1", "1", ":2", "*2", "$1", "2", "$-1", "+OK", "+OK", "$1", "9", "+OK"}
	for _, w := range want {
		if got := r.line(); got != w {
			t.Fatalf("got %q, want %q", got, w)
		}
	}
	r.expectClosed()
}

func TestMaxClients(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxClients = 2
	ts := startServer(t, cfg, nil)
	r1, r2 := ts.dial(t), ts.dial(t)
	for _, r := range []*rawConn{r1, r2} {
		r.send("PING\r\n")
		if got := r.line(); got != "+PONG" {
			t.Fatal(got)
		}
	}
	r3 := ts.dial(t)
	if got := r3.line(); got != "-ERR max number of clients reached" {
		t.Fatalf("third client got %q", got)
	}
	r3.expectClosed()
	if ts.Stats().ConnectionsRejected != 1 {
		t.Errorf("rejected = %d", ts.Stats().ConnectionsRejected)
	}
	r1.send("QUIT\r\n")
	r1.line()
	eventually(t, 5*time.Second, func() bool { return ts.Stats().ConnectionsCurrent == 1 }, "slot freed")
	r4 := ts.dial(t)
	r4.send("PING\r\n")
	if got := r4.line(); got != "+PONG" {
		t.Fatalf("client after a slot freed got %q", got)
	}
}

func TestProtectedModeDecision(t *testing.T) {
	tcp := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 5000} }
	on := DefaultConfig()
	withPass := DefaultConfig()
	withPass.RequirePass = "x"
	off := DefaultConfig()
	off.ProtectedMode = false
	cases := []struct {
		cfg  Config
		addr net.Addr
		deny bool
	}{
		{on, tcp("127.0.0.1"), false},
		{on, tcp("127.5.5.5"), false},
		{on, tcp("::1"), false},
		{on, tcp("10.0.0.1"), true},
		{on, tcp("192.168.1.1"), true},
		{on, tcp("2001:db8::1"), true},
		{on, &net.UnixAddr{Name: "/tmp/s", Net: "unix"}, false},
		{withPass, tcp("10.0.0.1"), false},
		{off, tcp("10.0.0.1"), false},
	}
	for _, c := range cases {
		if got := protectedModeDenies(c.cfg.ProtectedMode, c.cfg.RequirePass, c.addr); got != c.deny {
			t.Errorf("%v pass=%q protected=%v: deny %v", c.addr, c.cfg.RequirePass, c.cfg.ProtectedMode, got)
		}
	}
	if !strings.HasPrefix(msgDenied, "-DENIED ringcache is running in protected mode") {
		t.Error(msgDenied)
	}
}

func TestAuth(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RequirePass = "secret"
	ts := startServer(t, cfg, nil)

	r := ts.dial(t)
	for _, c := range []struct{ in, want string }{
		{"PING\r\n", "-NOAUTH Authentication required."},
		{"GET k\r\n", "-NOAUTH Authentication required."},
		{"GET\r\n", "-ERR wrong number of arguments for 'get' command"},
		{"CLIENT SETNAME x\r\n", "-NOAUTH Authentication required."},
		{"HELLO 2\r\n", "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"},
		{"AUTH wrong\r\n", "-WRONGPASS invalid username-password pair or user is disabled."},
		{"AUTH bob secret\r\n", "-WRONGPASS invalid username-password pair or user is disabled."},
		{"AUTH secret\r\n", "+OK"},
		{"PING\r\n", "+PONG"},
		{"RESET\r\n", "+RESET"},
		{"PING\r\n", "-NOAUTH Authentication required."},
		{"AUTH default secret\r\n", "+OK"},
		{"PING\r\n", "+PONG"},
	} {
		r.send(c.in)
		if got := r.line(); got != c.want {
			t.Fatalf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
	// HELLO 2 AUTH authenticates in the handshake.
	h := ts.dial(t)
	h.send("HELLO 2 AUTH default secret\r\n")
	if got := h.line(); got != "*14" {
		t.Fatalf("HELLO AUTH: %q", got)
	}
	// go-redis: HELLO 3 AUTH gets NOPROTO, then legacy AUTH succeeds.
	c := ts.client(t, &redis.Options{Password: "secret"})
	if err := c.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatalf("go-redis with password: %v", err)
	}
	bad := ts.client(t, &redis.Options{Password: "nope", MaxRetries: -1})
	if err := bad.Ping(context.Background()).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("go-redis with a wrong password: %v", err)
	}
}

// TestPreAuthLimits: before AUTH, big multibulks and bulks are refused
// with Redis 7's unauthenticated errors; after AUTH in the same pipeline
// the normal limits apply at once.
func TestPreAuthLimits(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RequirePass = "secret"
	ts := startServer(t, cfg, nil)

	r := ts.dial(t)
	r.send("*11\r\n")
	if got := r.line(); got != "-ERR Protocol error: unauthenticated multibulk length" {
		t.Fatal(got)
	}
	r.expectClosed()

	r = ts.dial(t)
	r.send("*2\r\n$4\r\nAUTH\r\n$16385\r\n")
	if got := r.line(); got != "-ERR Protocol error: unauthenticated bulk length" {
		t.Fatal(got)
	}
	r.expectClosed()

	r = ts.dial(t)
	big := strings.Repeat("v", 20000)
	r.send("AUTH secret\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$20000\r\n" + big + "\r\nSTRLEN k\r\n")
	for _, want := range []string{"+OK", "+OK", ":20000"} {
		if got := r.line(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

// panicStore panics on a chosen key.
type panicStore struct{ *memStore }

func (p panicStore) Get(ctx context.Context, keys [][]byte) ([]store.Item, error) {
	for _, k := range keys {
		if string(k) == "boom" {
			panic("boom")
		}
	}
	return p.memStore.Get(ctx, keys)
}

func TestPanicRecovery(t *testing.T) {
	ts := startServer(t, DefaultConfig(), panicStore{newMemStore(nil)})
	r := ts.dial(t)
	r.send("GET boom\r\n")
	if got := r.line(); got != "-ERR internal error" {
		t.Fatal(got)
	}
	r.expectClosed()
	other := ts.dial(t)
	other.send("PING\r\n")
	if got := other.line(); got != "+PONG" {
		t.Fatal(got)
	}
}

// errStore fails with a RESP-aware error and a plain one.
type noQuorum struct{}

func (noQuorum) Error() string     { return "not enough replicas" }
func (noQuorum) RESPError() string { return "NOQUORUM not enough replicas" }

func TestStoreErrors(t *testing.T) {
	ms := newMemStore(nil)
	ms.getHook = func(keys [][]byte) error {
		if string(keys[0]) == "plain" {
			return context.DeadlineExceeded
		}
		return noQuorum{}
	}
	ts := startServer(t, DefaultConfig(), ms)
	r := ts.dial(t)
	// PING splits the reads into two batches.
	r.send("GET x\r\nPING\r\nMGET plain y\r\nINCR x\r\n")
	for _, want := range []string{"-NOQUORUM not enough replicas", "+PONG", "-ERR context deadline exceeded", "-NOQUORUM not enough replicas"} {
		if got := r.line(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

// TestShutdownFinishesInFlight: a command blocked in the store when
// Shutdown starts completes and its reply is delivered before the close.
func TestShutdownFinishesInFlight(t *testing.T) {
	ms := newMemStore(nil)
	entered, release := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	ms.putHook = func(muts []store.Mutation) error {
		if string(muts[0].Key) == "slow" && once.CompareAndSwap(false, true) {
			close(entered)
			<-release
		}
		return nil
	}
	srv, err := New(DefaultConfig(), ms)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	ts := &testServer{Server: srv, addr: ln.Addr().String()}

	idle := ts.dial(t)
	idle.send("PING\r\n")
	idle.line()
	busy := ts.dial(t)
	busy.send("SET slow v\r\n")
	<-entered

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	idle.expectClosed()
	if _, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		// The listener is closed as Shutdown starts; a late dial may still
		// race it, but must not be served.
		t.Log("dial after Shutdown connected")
	}
	close(release)
	if got := busy.line(); got != "+OK" {
		t.Fatalf("in-flight reply %q", got)
	}
	busy.expectClosed()
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-done; err != ErrServerClosed {
		t.Fatalf("Serve: %v", err)
	}
}

func TestShutdownForce(t *testing.T) {
	ms := newMemStore(nil)
	block := make(chan struct{})
	defer close(block)
	entered := make(chan struct{})
	ms.putHook = func([]store.Mutation) error { close(entered); <-block; return nil }
	srv, _ := New(DefaultConfig(), ms)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	ts := &testServer{Server: srv, addr: ln.Addr().String()}
	r := ts.dial(t)
	r.send("SET k v\r\n")
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Shutdown = %v, want deadline exceeded", err)
	}
	r.expectClosed()
	if err := <-done; err != ErrServerClosed {
		t.Fatalf("Serve: %v", err)
	}
}

// TestExpiryWithClock: a key set with PX 100 disappears from GET, EXISTS,
// MGET and DBSIZE once the injected clock passes its expiry.
func TestExpiryWithClock(t *testing.T) {
	var nowMs atomic.Int64
	nowMs.Store(1_700_000_000_000)
	clock := func() time.Time { return time.UnixMilli(nowMs.Load()) }
	cfg := DefaultConfig()
	cfg.Now = clock
	ts := startServer(t, cfg, newMemStore(clock))
	c := ts.client(t, nil)
	run(t, c, []step{
		{args: a("set", "k", "v", "px", "100"), want: "OK"},
		{args: a("set", "p", "v"), want: "OK"},
		{args: a("pttl", "k"), want: int64(100)},
		{args: a("get", "k"), want: "v"},
		{args: a("dbsize"), want: int64(2)},
	})
	nowMs.Add(100)
	run(t, c, []step{
		{args: a("get", "k"), want: nil},
		{args: a("exists", "k", "p"), want: int64(1)},
		{args: a("mget", "k", "p"), want: []any{nil, "v"}},
		{args: a("dbsize"), want: int64(1)},
		{args: a("ttl", "k"), want: int64(-2)},
		{args: a("set", "k", "again", "nx"), want: "OK"},
		{args: a("ttl", "k"), want: int64(-1)},
		{args: a("incr", "n"), want: int64(1)},
		{args: a("pexpire", "n", "50"), want: int64(1)},
		{args: a("incr", "n"), want: int64(2)},
		{args: a("pttl", "n"), want: int64(50)}, // INCR keeps the expiry
	})
}

// TestExpiryRealTime uses the wall clock: PX 100 is gone within a bounded
// wait.
func TestExpiryRealTime(t *testing.T) {
	ts := defaultTestServer(t)
	c := ts.client(t, nil)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 100*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() bool {
		return c.Get(ctx, "k").Err() == redis.Nil && c.Exists(ctx, "k").Val() == 0 && c.DBSize(ctx).Val() == 0
	}, "key expired")
}

func TestConfigValidate(t *testing.T) {
	mod := func(f func(*Config)) Config { c := DefaultConfig(); f(&c); return c }
	bad := []Config{
		mod(func(c *Config) { c.MaxClients = 0 }),
		mod(func(c *Config) { c.MaxBulkLen = 0 }),
		mod(func(c *Config) { c.MaxMultibulk = -1 }),
		mod(func(c *Config) { c.MaxInlineLen = 10 }),
		mod(func(c *Config) { c.QueryBufferLimit = 0 }),
		mod(func(c *Config) { c.PreAuthMaxBytes = 0 }),
		mod(func(c *Config) { c.PreAuthMaxMultibulk = 2 }),
		mod(func(c *Config) { c.IdleTimeout = -time.Second }),
	}
	for i, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("case %d: Validate accepted %+v", i, c)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := New(DefaultConfig(), nil); err != ErrNilStore {
		t.Fatal(err)
	}
}

func TestIdleTimeout(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IdleTimeout = 200 * time.Millisecond
	ts := startServer(t, cfg, nil)
	r := ts.dial(t)
	r.send("PING\r\n")
	r.line()
	r.expectClosed() // bounded by the 10s deadline set in dial
}
