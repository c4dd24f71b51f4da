package main

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// needTool returns the path of a Redis command-line tool. Without it the
// test is skipped on a developer machine and fails in CI, which installs it.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (CI must install redis-tools)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func hostPort(t *testing.T, addr string) (string, string) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

func TestProcessRedisBenchmarkNoErrors(t *testing.T) {
	rb := needTool(t, "redis-benchmark")
	addr := freeAddr(t)
	startNode(t, addr, "--data-dir", t.TempDir())
	h, p := hostPort(t, addr)
	out, err := exec.Command(rb, "-h", h, "-p", p, "-t", "set,get", "-n", "20000", "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("redis-benchmark: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{"SET:", "GET:"} {
		if !strings.Contains(text, want) {
			t.Fatalf("redis-benchmark printed no %s result:\n%s", want, text)
		}
	}
	if strings.Contains(strings.ToLower(text), "error") {
		t.Fatalf("redis-benchmark reported errors:\n%s", text)
	}
	t.Logf("%s", text)
}

func TestProcessRedisCLISession(t *testing.T) {
	cli := needTool(t, "redis-cli")
	addr := freeAddr(t)
	startNode(t, addr, "--data-dir", t.TempDir())
	h, p := hostPort(t, addr)
	script := strings.Join([]string{
		"SET greeting hello",
		"GET greeting",
		"APPEND greeting \" world\"",
		"GET greeting",
		"INCR counter",
		"INCRBY counter 41",
		"SET temp x PX 100000",
		"EXISTS greeting counter temp missing",
		"DEL temp",
		"DBSIZE",
		"GET missing",
		"NOSUCHCOMMAND a",
		"GET",
	}, "\n") + "\n"
	cmd := exec.Command(cli, "-h", h, "-p", p)
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli: %v\n%s", err, out)
	}
	want := strings.Join([]string{
		"OK",
		"hello",
		"11",
		"hello world",
		"1",
		"42",
		"OK",
		"3",
		"1",
		"2",
		"",
		"ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'a' ",
		"", // redis-cli follows an error with an empty line
		"ERR wrong number of arguments for 'get' command",
		"",
	}, "\n") + "\n"
	if string(out) != want {
		t.Fatalf("redis-cli session:\n got %q\nwant %q", out, want)
	}
}
