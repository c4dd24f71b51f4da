package server

import (
	"context"
	"regexp"
	"testing"
	"time"
)

// TestMonitor: a MONITOR connection gets a line per command other
// connections run, batched GET/SET runs included, in Redis's format
// (database, address, arguments quoted); admin commands and AUTH are not
// shown; other commands get an error; RESET makes it a normal connection
// again, QUIT ends it; Shutdown ends a monitor too.
func TestMonitor(t *testing.T) {
	ts := defaultTestServer(t)
	mon := ts.dial(t)
	mon.send("MONITOR\r\n")
	if got := mon.line(); got != "+OK" {
		t.Fatalf("MONITOR: %q", got)
	}
	c := ts.dial(t)
	c.send("SELECT 3\r\n")
	c.line()
	c.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$12\r\na \"quoted\"\n\x01\r\n")
	c.line()
	c.send("CONFIG GET maxclients\r\n") // admin: not shown
	for range 5 {
		c.line()
	}
	c.send("GET k\r\nGET other\r\n") // one batched run
	// The value holds a newline, so its bulk string reads as two lines.
	for _, want := range []string{"$12", "a \"quoted\"\n", "\x01", "$-1"} {
		if got := c.line(); got != want {
			t.Fatalf("GET reply line %q, want %q", got, want)
		}
	}
	line := regexp.MustCompile(`^\+\d+\.\d{6} \[3 127\.0\.0\.1:\d+\] (.*)$`)
	want := []string{`"SELECT" "3"`, `"SET" "k" "a \"quoted\"\n\x01"`, `"GET" "k"`, `"GET" "other"`}
	for _, w := range want {
		got := mon.line()
		// A line shows the database after its command ran, as in
		// Redis 7: SELECT's is 3.
		m := line.FindStringSubmatch(got)
		if m == nil || m[1] != w {
			t.Fatalf("monitor line %q, want one showing %s", got, w)
		}
	}
	mon.send("PING\r\n")
	if got := mon.line(); got != "-"+errMonitorOnly.msg {
		t.Fatalf("PING in MONITOR mode: %q", got)
	}
	mon.send("RESET\r\n")
	if got := mon.line(); got != "+RESET" {
		t.Fatalf("RESET in MONITOR mode: %q", got)
	}
	c.send("SET k2 v\r\n") // not shown any more
	if got := c.line(); got != "+OK" {
		t.Fatalf("SET k2: %q", got)
	}
	mon.send("PING\r\n")
	if got := mon.line(); got != "+PONG" {
		t.Fatalf("PING after RESET: %q (a monitor line?)", got)
	}
	mon.send("QUIT\r\n")
	if got := mon.line(); got != "+OK" {
		t.Fatalf("QUIT: %q", got)
	}
	mon.expectClosed()

	// QUIT while monitoring, and a monitor open at Shutdown.
	m2 := ts.dial(t)
	m2.send("MONITOR\r\nQUIT\r\n")
	if a, b := m2.line(), m2.line(); a != "+OK" || b != "+OK" {
		t.Fatalf("MONITOR then QUIT: %q %q", a, b)
	}
	m2.expectClosed()
	m3 := ts.dial(t)
	m3.send("MONITOR\r\n")
	if got := m3.line(); got != "+OK" {
		t.Fatalf("MONITOR: %q", got)
	}
	ctxS, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctxS); err != nil {
		t.Fatalf("Shutdown with a monitor connected: %v", err)
	}
	m3.expectClosed()
}
