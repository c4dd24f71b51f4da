package main

import (
	"bufio"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestMonitorWithRedisCli: redis-cli monitor prints the same lines
// (timestamps and client ports aside) for ringcache, one node and a
// cluster, as for redis-server.
func TestMonitorWithRedisCli(t *testing.T) {
	cli := needTool(t, "redis-cli")
	oracle, targets := startCompatTargets(t)
	norm := regexp.MustCompile(`^\d+\.\d{6} \[(\d+) 127\.0\.0\.1:\d+\] `)
	watch := func(addr string) []string {
		t.Helper()
		h, p := hostPort(t, addr)
		cmd := exec.Command(cli, "-h", h, "-p", p, "monitor")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		rd := bufio.NewReader(out)
		if l, err := rd.ReadString('\n'); err != nil || strings.TrimSpace(l) != "OK" {
			t.Fatalf("redis-cli monitor on %s: %q, %v", addr, l, err)
		}
		c, err := dialRESP(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		script := [][]string{{"SET", "mon:k", "v"}, {"GET", "mon:k"}, {"SELECT", "2"}, {"SET", "mon:k2", "a b\"c\n\x01"},
			{"MGET", "mon:k", "mon:x"}, {"DEL", "mon:k2"}, {"SELECT", "0"}, {"INCR", "mon:n"}, {"DEL", "mon:n", "mon:k"}}
		for _, a := range script {
			if _, err := c.do(a...); err != nil {
				t.Fatal(err)
			}
		}
		var lines []string
		for range script {
			l, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("redis-cli monitor on %s after %q: %v", addr, lines, err)
			}
			lines = append(lines, norm.ReplaceAllString(strings.TrimSpace(l), "[$1] "))
		}
		return lines
	}
	want := watch(oracle)
	for _, tg := range targets {
		if got := watch(tg.addr); !slices.Equal(got, want) {
			t.Fatalf("redis-cli monitor on %s:\n%s\nredis-server:\n%s", tg.name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}
