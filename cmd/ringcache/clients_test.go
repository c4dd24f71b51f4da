package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clientsDir holds the real-client scripts and their npm packages
// (installed by .ci/run with npm ci).
var clientsDir = filepath.Join("..", "..", "testdata", "clients")

// realClient is a Redis client library run as its own process.
type realClient struct {
	name string
	argv []string // the script's command line, before address and prefix
	// ready reports why the client cannot run here ("" when it can).
	ready func() string
}

var realClients = []realClient{
	{"node-redis", []string{"node", "node-redis.mjs"}, nodeReady("redis")},
	{"ioredis", []string{"node", "ioredis.mjs"}, nodeReady("ioredis")},
	{"redis-py", []string{"/usr/bin/python3", "redis_py.py"}, func() string {
		if err := exec.Command("/usr/bin/python3", "-c", "import redis").Run(); err != nil {
			return "redis-py is not installed for /usr/bin/python3 (Debian's python3-redis): " + err.Error()
		}
		return ""
	}},
}

func nodeReady(pkg string) func() string {
	return func() string {
		if _, err := exec.LookPath("node"); err != nil {
			return "node is not installed"
		}
		if _, err := os.Stat(filepath.Join(clientsDir, "node_modules", pkg, "package.json")); err != nil {
			return "npm package " + pkg + " is not installed (npm ci in testdata/clients)"
		}
		return ""
	}
}

// TestRealClients runs each client library's script, in the library's
// default configuration (node-redis speaks RESP3, ioredis and redis-py
// RESP2), against redis-server and against ringcache, one node and a
// 3-node cluster, and requires the same output line for every step.
func TestRealClients(t *testing.T) {
	var runnable []realClient
	for _, c := range realClients {
		if why := c.ready(); why != "" {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s: %s (CI must install it)", c.name, why)
			}
			t.Logf("skipping %s: %s", c.name, why)
			continue
		}
		runnable = append(runnable, c)
	}
	if len(runnable) == 0 {
		t.Skip("no real client installed")
	}
	oracle, targets := startCompatTargets(t)
	for _, c := range runnable {
		prefix := "clients:" + c.name + ":"
		want := runClient(t, c, oracle, prefix+"redis:")
		for _, tg := range targets {
			got := runClient(t, c, tg.addr, prefix+tg.name+":")
			if len(got) != len(want) {
				t.Errorf("%s against ringcache (%s): %d lines, redis-server %d:\n%s", c.name, tg.name, len(got), len(want), strings.Join(got, "\n"))
				continue
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("%s against ringcache (%s):\n  redis-server: %s\n  ringcache:    %s", c.name, tg.name, want[i], got[i])
				}
			}
			t.Logf("%s against ringcache (%s): %d steps, %d the same as redis-server", c.name, tg.name, len(want)-1, countSame(got, want)-1)
		}
	}
}

// runClient runs one client's script against addr and returns its lines,
// the last of which says it got to the end.
func runClient(t *testing.T, c realClient, addr, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.argv[0], append(c.argv[1:], addr, prefix)...)
	cmd.Dir = clientsDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err != nil || lines[len(lines)-1] != `["done",true]` && lines[len(lines)-1] != `["done", true]` {
		t.Fatalf("%s against %s: %v\nstdout:\n%s\nstderr:\n%s", c.name, addr, err, out, stderr.String())
	}
	return lines
}

func countSame(a, b []string) int {
	n := 0
	for i := range min(len(a), len(b)) {
		if a[i] == b[i] {
			n++
		}
	}
	return n
}
