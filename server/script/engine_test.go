package script

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringcache/ringcache/bench/await"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"default", DefaultConfig(), true},
		{"zero", Config{}, true},
		{"negative threshold", Config{BusyThreshold: -1}, false},
		{"negative cache", Config{MaxCached: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrConfig)) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestCache(t *testing.T) {
	e := newEngine(t, DefaultConfig())
	body := []byte("return ARGV[1]")
	sha, err := e.Load(body)
	if err != nil || sha != SHA1Hex(body) {
		t.Fatalf("Load = %q, %v", sha, err)
	}
	if !e.Exists(sha) || !e.Exists(strings.ToUpper(sha)) {
		t.Fatal("Exists is false for a loaded script")
	}
	if b, ok := e.Body(sha); !ok || string(b) != string(body) {
		t.Fatalf("Body = %q, %v", b, ok)
	}
	got, err := e.EvalSHA(context.Background(), sha, Run{Args: [][]byte{[]byte("x")}})
	if err != nil || string(got) != "$1\r\nx\r\n" {
		t.Fatalf("EvalSHA = %q, %v", got, err)
	}
	e.Flush()
	if e.Exists(sha) {
		t.Fatal("Exists after Flush")
	}
	_, err = e.EvalSHA(context.Background(), sha, Run{})
	if !errors.Is(err, ErrNoScript) || RESPError(err) != ReplyNoScript {
		t.Fatalf("EvalSHA after Flush: %v, %q", err, RESPError(err))
	}
	eval(e, string(body), Run{})
	if !e.Exists(sha) {
		t.Fatal("Eval did not cache the script")
	}
}

func TestLoadCompileError(t *testing.T) {
	e := newEngine(t, DefaultConfig())
	for _, body := range []string{"return +", "#!lua flags=bogus\nreturn 1", "#!lua"} {
		_, err := e.Load([]byte(body))
		if !errors.Is(err, ErrCompile) {
			t.Fatalf("Load(%q) = %v, want ErrCompile", body, err)
		}
		if r := RESPError(err); r[:5] != "-ERR " {
			t.Fatalf("RESPError = %q", r)
		}
		if e.Exists(SHA1Hex([]byte(body))) {
			t.Fatalf("a script that does not compile was cached")
		}
	}
}

func TestMaxCachedKeepsLoaded(t *testing.T) {
	e := newEngine(t, Config{MaxCached: 2})
	loaded, _ := e.Load([]byte("return 'loaded'"))
	var evaled []string
	for i := range 3 {
		body := fmt.Sprintf("return %d", i)
		eval(e, body, Run{})
		evaled = append(evaled, SHA1Hex([]byte(body)))
	}
	if !e.Exists(loaded) {
		t.Fatal("a script cached by Load was evicted")
	}
	if e.Exists(evaled[0]) || e.Exists(evaled[1]) || !e.Exists(evaled[2]) {
		t.Fatalf("eviction did not drop the oldest EVAL scripts: %v %v %v",
			e.Exists(evaled[0]), e.Exists(evaled[1]), e.Exists(evaled[2]))
	}
}

// A sandbox is reused: nothing one script does may show in the next.
func TestNoLeftovers(t *testing.T) {
	sb := newSandbox()
	host := newMemHost()
	runOn := func(script string) string {
		c, err := compile([]byte(script))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r := &run{sha: "x", host: host, client: 2, proto: 2, logger: DefaultConfig().Logger, ctx: ctx, cancel: cancel}
		out, _ := sb.exec(r, c.proto, nil, [][]byte{[]byte("a")})
		return string(out)
	}
	runOn(`
		KEYS[1] = 'dirty'
		redis.setresp(3)
		for _, f in ipairs({
			function() x = 1 end,
			function() string.upper = nil end,
			function() rawset(_G, 'y', 1) end,
			function() rawset(string, 'z', 1) end,
			function() getmetatable('').__index = {} end,
			function() setmetatable(_G, nil) end,
			function() getmetatable(_G).__index = nil end,
			function() rawget(_G, 'redis').call = nil end,
			function() rawget(getmetatable(''), '__index').len = nil end,
			function() table.insert(cjson, 1) end,
			function() local f = loadstring('w = 1') f() end,
		}) do pcall(f) end
		return 1`)
	got := runOn(`return {#KEYS, type(rawget(_G, 'x')), type(rawget(_G, 'y')), ('a'):upper(), type(rawget(string, 'z')),
		type(redis.call), pcall(function() return w end), type(getmetatable(_G)), #cjson, true}`)
	if want := "*10\r\n:0\r\n$3\r\nnil\r\n$3\r\nnil\r\n$1\r\nA\r\n$3\r\nnil\r\n$8\r\nfunction\r\n$-1\r\n$5\r\ntable\r\n:0\r\n:1\r\n"; got != want {
		t.Fatalf("second script saw leftovers:\n got %q\nwant %q", got, want)
	}
}

const spin = "local i = 0\nwhile true do i = i + 1 end"

func evalAsync(e *Engine, ctx context.Context, script string, r Run) <-chan string {
	done := make(chan string, 1)
	go func() { done <- string(e.Eval(ctx, []byte(script), r)) }()
	return done
}

func waitReply(t *testing.T, done <-chan string) string {
	t.Helper()
	select {
	case got := <-done:
		return got
	case <-time.After(10 * time.Second):
		t.Fatal("script did not end")
		return ""
	}
}

func TestKill(t *testing.T) {
	e := newEngine(t, Config{BusyThreshold: 20 * time.Millisecond})
	if err := e.Kill(); !errors.Is(err, ErrNotBusy) || RESPError(err) != ReplyNotBusy {
		t.Fatalf("Kill with nothing running = %v", err)
	}
	for _, script := range []string{spin, "while true do pcall(function() while true do end end) end"} {
		done := evalAsync(e, context.Background(), script, Run{})
		await.T(t, 5*time.Second, "a busy script", e.Busy)
		if err := e.Kill(); err != nil {
			t.Fatalf("Kill = %v", err)
		}
		got := waitReply(t, done)
		want := fmt.Sprintf("-ERR Script killed by user with SCRIPT KILL... script: %s, on @user_script:", SHA1Hex([]byte(script)))
		if len(got) < len(want) || got[:len(want)] != want {
			t.Fatalf("killed script replied %q, want prefix %q", got, want)
		}
		if e.Busy() {
			t.Fatal("Busy after the script was killed")
		}
	}
}

func TestKillUnkillable(t *testing.T) {
	e := newEngine(t, Config{BusyThreshold: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := evalAsync(e, ctx, "redis.call('set', 'k', 'v')\n"+spin, Run{Host: newMemHost()})
	await.T(t, 5*time.Second, "a busy script", e.Busy)
	if err := e.Kill(); !errors.Is(err, ErrUnkillable) || RESPError(err) != ReplyUnkillable {
		t.Fatalf("Kill of a script that wrote = %v", err)
	}
	if !e.Busy() {
		t.Fatal("an unkillable script stopped")
	}
	cancel() // as a shutdown would
	if got := waitReply(t, done); got[:27] != "-ERR Script aborted: contex" {
		t.Fatalf("aborted script replied %q", got)
	}
}

func TestKillLeavesYoungScripts(t *testing.T) {
	e := newEngine(t, Config{BusyThreshold: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := evalAsync(e, ctx, spin, Run{})
	time.Sleep(10 * time.Millisecond) // give it time to start; either way it is not busy
	if e.Busy() || !errors.Is(e.Kill(), ErrNotBusy) {
		t.Fatal("a script younger than the threshold counted as busy")
	}
	e.SetBusyThreshold(time.Millisecond)
	await.T(t, 5*time.Second, "busy after lowering the threshold", e.Busy)
	cancel()
	waitReply(t, done)
}

func TestConcurrentEvals(t *testing.T) {
	e := newEngine(t, DefaultConfig())
	host := newMemHost()
	scripts := []string{
		"return redis.call('incr', KEYS[1])",
		"redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])",
		"return cjson.encode({ARGV[1], tonumber(ARGV[2])})",
		"return bit.bxor(tonumber(ARGV[2]), 255)",
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				key := fmt.Sprintf("k%d", g)
				n := fmt.Sprint(i)
				s := scripts[i%len(scripts)]
				got := eval(e, s, Run{Keys: [][]byte{[]byte(key)}, Args: [][]byte{[]byte("v" + n), []byte(n)}, Host: host, Proto: 2 + i%2})
				var want string
				switch i % len(scripts) {
				case 0:
					continue // counts interleave with the set script on the same key
				case 1:
					want = fmt.Sprintf("$%d\r\nv%s\r\n", len(n)+1, n)
				case 2:
					want = string(appendBulk(nil, fmt.Sprintf("[\"v%s\",%s]", n, n)))
				case 3:
					want = fmt.Sprintf(":%d\r\n", i^255)
				}
				if got != want {
					errs <- fmt.Errorf("script %d: got %q, want %q", i%len(scripts), got, want)
					return
				}
				if i%50 == 0 {
					e.Flush()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
