package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/bench/await"
	"github.com/ringcache/ringcache/bench/loopback"
	"github.com/ringcache/ringcache/bench/process"
)

// binPath is the ringcache binary built once for the process-level tests.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ringcache-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "ringcache")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building ringcache: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// node is one ringcache process started by a test.
type node struct {
	*process.Process
	t    *testing.T
	addr string
	log  string
}

// freeAddr returns a loopback address free for TCP and UDP (a gossip
// address needs both) that a restarted node can bind again.
func freeAddr(t *testing.T) string {
	t.Helper()
	a, err := loopback.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// startNode runs the binary with args plus --listen and waits until it
// answers PING.
func startNode(t *testing.T, addr string, args ...string) *node {
	t.Helper()
	n, err := launchNode(t, addr, args...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// errStartup is wrapped by launchNode's errors for a process that exited
// or did not answer at start.
var errStartup = errors.New("ringcache did not start")

// launchNode is startNode returning its failure instead of failing t.
func launchNode(t *testing.T, addr string, args ...string) (*node, error) {
	t.Helper()
	n := &node{t: t, addr: addr, log: filepath.Join(t.TempDir(), "node.log")}
	cfg := process.Config{
		Bin: binPath, Args: append([]string{"--listen", addr, "--log-level", "warn"}, args...),
		Log: n.log, Addr: addr, StartTimeout: 20 * time.Second,
	}
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--requirepass" {
			cfg.Password = args[i+1]
		}
	}
	p, err := process.Start(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errStartup, err)
	}
	n.Process = p
	t.Cleanup(n.kill)
	return n, nil
}

func (n *node) logText() string {
	b, _ := os.ReadFile(n.log)
	return string(b)
}

// kill sends SIGKILL to the process (if still running) and waits for it.
func (n *node) kill() { n.Kill() }

// stop sends SIGTERM and waits for a clean exit.
func (n *node) stop() error {
	if err := n.Stop(context.Background(), 30*time.Second); err != nil {
		return err
	}
	return n.Wait()
}

// writeUntilKilled writes distinct keys from several clients until the node
// is SIGKILLed after `before` acknowledged writes; it returns the keys whose
// SET was acknowledged.
func writeUntilKilled(t *testing.T, n *node, before int64) []string {
	t.Helper()
	ctx := context.Background()
	var acked int64
	var mu sync.Mutex
	var keys []string
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := redis.NewClient(&redis.Options{Addr: n.addr, MaxRetries: -1, PoolSize: 1})
			defer c.Close()
			for i := 0; ; i++ {
				k := fmt.Sprintf("k:%d:%d", w, i)
				if err := c.Set(ctx, k, "v:"+k, 0).Err(); err != nil {
					return // the node is gone
				}
				mu.Lock()
				keys = append(keys, k)
				mu.Unlock()
				if atomic.AddInt64(&acked, 1) == before {
					n.kill()
				}
			}
		}(w)
	}
	wg.Wait()
	return keys
}

func countPresent(t *testing.T, addr string, keys []string) (present int, wrong []string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	for i := 0; i < len(keys); i += 500 {
		batch := keys[i:min(i+500, len(keys))]
		vals, err := c.MGet(ctx, batch...).Result()
		if err != nil {
			t.Fatal(err)
		}
		for j, v := range vals {
			switch v {
			case nil:
			case "v:" + batch[j]:
				present++
			default:
				wrong = append(wrong, batch[j])
			}
		}
	}
	return present, wrong
}

// Every mode hands a write to the OS before acknowledging it, so a SIGKILL
// (unlike a power loss) loses no acknowledged write in any of them.
func TestProcessSIGKILLLosesNoAcknowledgedWrite(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		writes int64
	}{{"always", 3000}, {"everysec", 20000}, {"no", 20000}} {
		t.Run(tc.mode, func(t *testing.T) {
			dir := t.TempDir()
			addr := freeAddr(t)
			n := startNode(t, addr, "--data-dir", dir, "--fsync", tc.mode)
			keys := writeUntilKilled(t, n, tc.writes)
			startNode(t, addr, "--data-dir", dir, "--fsync", tc.mode)
			present, wrong := countPresent(t, addr, keys)
			if len(wrong) > 0 {
				t.Fatalf("%d keys have a wrong value, e.g. %s", len(wrong), wrong[0])
			}
			if present != len(keys) {
				t.Fatalf("fsync %s: only %d of %d acknowledged keys survived SIGKILL", tc.mode, present, len(keys))
			}
			t.Logf("fsync %s: all %d acknowledged keys survived SIGKILL", tc.mode, len(keys))
		})
	}
}

func TestProcessSIGTERMShutsDownCleanly(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	n := startNode(t, addr, "--data-dir", dir, "--fsync", "no")
	c := redis.NewClient(&redis.Options{Addr: addr})
	ctx := context.Background()
	for i := 0; i < 1000; i++ {
		if err := c.Set(ctx, fmt.Sprint("t", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if err := n.stop(); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, n.logText())
	}
	startNode(t, addr, "--data-dir", dir)
	c = redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	if got := c.DBSize(ctx).Val(); got != 1000 {
		t.Fatalf("after SIGTERM and restart DBSIZE = %d, want 1000", got)
	}
}

func TestProcessRefusesBadConfig(t *testing.T) {
	out, err := exec.Command(binPath, "--fsync", "sometimes", "--data-dir", t.TempDir()).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit = %v, want status 2; output %s", err, out)
	}
	if !strings.Contains(string(out), "fsync") {
		t.Fatalf("message does not name the setting: %s", out)
	}
}

func TestProcessMetricsEndpoint(t *testing.T) {
	addr, maddr := freeAddr(t), freeAddr(t)
	startNode(t, addr, "--data-dir", t.TempDir(), "--metrics-listen", maddr)
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	c.Set(context.Background(), "a", "b", 0)
	c.Get(context.Background(), "a")
	body := httpGet(t, "http://"+maddr+"/metrics")
	for _, want := range []string{
		`ringcache_commands_total{command="set"}`,
		`ringcache_command_duration_seconds_bucket{command="get"`,
		"ringcache_connected_clients",
		`ringcache_engine{stat=`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestProcessConfigGetShowsSettings(t *testing.T) {
	addr := freeAddr(t)
	n := startNode(t, addr, "--data-dir", t.TempDir(), "--client-timeout", "30s", "--requirepass", "s3cret",
		"--procs", "1", "--log-level", "info")
	c := redis.NewClient(&redis.Options{Addr: addr, Password: "s3cret"})
	defer c.Close()
	got, err := c.ConfigGet(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"timeout": "30", "request-timeout": "1s", "fsync": "everysec", "procs": "1"} {
		if got[key] != want {
			t.Errorf("CONFIG GET %s = %q, want %q", key, got[key], want)
		}
	}
	// The ready line reports the GOMAXPROCS in effect, not just the setting.
	if log := n.logText(); !strings.Contains(log, "procs=1") {
		t.Errorf("ready log does not report procs=1:\n%s", log)
	}
	if !strings.HasPrefix(got["node-id"], "node-") {
		t.Errorf("CONFIG GET node-id = %q, want the generated id", got["node-id"])
	}
	// Like Redis, an authenticated client may read requirepass itself;
	// nothing else may carry the secret.
	for key, v := range got {
		if key != "requirepass" && strings.Contains(v, "s3cret") {
			t.Errorf("CONFIG GET %s reveals the password", key)
		}
	}
}

// TestConfigSetLogLevel: CONFIG SET log-level changes the level of the
// running process's log; CONFIG GET shows it; a bad level is refused with
// the levels there are.
func TestConfigSetLogLevel(t *testing.T) {
	n := startNode(t, freeAddr(t), "--data-dir", t.TempDir())
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: n.addr})
	defer c.Close()
	malformed := func() { // a protocol error: logged at debug
		conn, err := net.Dial("tcp", n.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write([]byte("*x\r\n"))
		io.ReadAll(conn)
	}
	const line = "closing client on protocol error"
	malformed()
	if got, _ := c.ConfigGet(ctx, "log-level").Result(); got["log-level"] != "warn" {
		t.Fatalf("CONFIG GET log-level = %v, want warn", got)
	}
	err := c.ConfigSet(ctx, "log-level", "bogus").Err()
	if err == nil || err.Error() != `ERR CONFIG SET failed (possibly related to argument 'log-level') - unknown log level "bogus" (debug, info, warn, error)` {
		t.Fatalf("CONFIG SET log-level bogus: %v", err)
	}
	if err := c.ConfigSet(ctx, "log-level", "debug").Err(); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.ConfigGet(ctx, "log-level").Result(); got["log-level"] != "debug" {
		t.Fatalf("CONFIG GET log-level = %v, want debug", got)
	}
	malformed()
	await.T(t, 5*time.Second, "the debug line in the log", func() bool { return strings.Count(n.logText(), line) == 1 })
}

// TestConfigSetThrottles: in a cluster, CONFIG SET changes the node's
// anti-entropy, stream and hint-replay rates (in the flags' units), CONFIG
// GET shows the new values, and a bad one is refused with its reason.
func TestConfigSetThrottles(t *testing.T) {
	c := startProcCluster(t, 2).client(0)
	defer c.Close()
	ctx := context.Background()
	if err := c.ConfigSet(ctx, "anti-entropy-rate", "2mb").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, "CONFIG", "SET", "stream-rate", "0", "hint-replay-rate", "512kb").Err(); err != nil {
		t.Fatal(err)
	}
	got, err := c.ConfigGet(ctx, "*-rate").Result()
	if err != nil || got["anti-entropy-rate"] != "2mb" || got["stream-rate"] != "0" || got["hint-replay-rate"] != "512kb" {
		t.Fatalf("CONFIG GET *-rate = %v, %v", got, err)
	}
	for _, bad := range [][2]string{{"anti-entropy-rate", "0"}, {"hint-replay-rate", "fast"}} {
		if err := c.ConfigSet(ctx, bad[0], bad[1]).Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR CONFIG SET failed (possibly related to argument '"+bad[0]+"') - ") {
			t.Fatalf("CONFIG SET %s %s: %v", bad[0], bad[1], err)
		}
	}
	if err := c.ConfigSet(ctx, "replicas", "5").Err(); err == nil || !strings.HasSuffix(err.Error(), "can't set immutable config") {
		t.Fatalf("CONFIG SET replicas: %v", err)
	}
}
