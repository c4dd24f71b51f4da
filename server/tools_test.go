package server

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// requireTool returns the path of a Redis tool, skipping when it is missing
// outside CI and failing when it is missing in CI.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not on PATH (required when CI is set)", name)
	}
	t.Skipf("%s not on PATH", name)
	return ""
}

func portOf(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

// TestRedisCLI drives a scripted redis-cli session through stdin.
func TestRedisCLI(t *testing.T) {
	cli := requireTool(t, "redis-cli")
	ts := defaultTestServer(t)
	script := strings.Join([]string{
		"PING",
		"SET greeting hello",
		"GET greeting",
		"APPEND greeting !",
		"GET greeting",
		"INCR counter",
		"MGET greeting nope counter",
		"DEL greeting",
		"EXISTS greeting",
		"DBSIZE",
		"BOGUS x",
		"CONFIG GET save",
	}, "\n") + "\n"
	cmd := exec.Command(cli, "-h", "127.0.0.1", "-p", portOf(ts.addr))
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli: %v\n%s", err, out)
	}
	want := strings.Join([]string{
		"PONG", "OK", "hello", "6", "hello!", "1",
		"hello!", "", "1",
		"1", "0", "1",
		// redis-cli follows an error with a blank line when not on a tty.
		"ERR unknown command 'BOGUS', with args beginning with: 'x' ", "",
		"save", "",
	}, "\n") + "\n"
	if string(out) != want {
		t.Fatalf("redis-cli output:\n%q\nwant:\n%q", out, want)
	}
}

// TestRedisBenchmark runs a short redis-benchmark and requires that every
// request succeeded; it does not judge speed.
func TestRedisBenchmark(t *testing.T) {
	bench := requireTool(t, "redis-benchmark")
	ts := defaultTestServer(t)
	for _, pipeline := range []string{"1", "16"} {
		cmd := exec.Command(bench, "-h", "127.0.0.1", "-p", portOf(ts.addr),
			"-t", "set,get", "-n", "20000", "-q", "-P", pipeline)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("redis-benchmark -P %s: %v\n%s", pipeline, err, out)
		}
		text := strings.ReplaceAll(string(out), "\r", "\n")
		if strings.Contains(strings.ToLower(text), "error") {
			t.Fatalf("redis-benchmark -P %s reported errors:\n%s", pipeline, text)
		}
		for _, want := range []string{"SET: ", "GET: "} {
			if !strings.Contains(text, want) || !strings.Contains(text, "requests per second") {
				t.Fatalf("redis-benchmark -P %s output lacks %q:\n%s", pipeline, want, text)
			}
		}
	}
	if ts.Stats().CommandsProcessed < 80000 {
		t.Errorf("CommandsProcessed = %d, want >= 80000", ts.Stats().CommandsProcessed)
	}
}
