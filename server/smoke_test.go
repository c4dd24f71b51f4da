package server

import (
	"context"
	"testing"
)

func TestSmoke(t *testing.T) {
	ts := defaultTestServer(t)
	c := ts.client(t, nil)
	ctx := context.Background()
	if err := c.Set(ctx, "a", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	v, err := c.Get(ctx, "a").Result()
	if err != nil || v != "1" {
		t.Fatal(v, err)
	}
	r := ts.dial(t)
	r.send("PING\r\n")
	if got := r.line(); got != "+PONG" {
		t.Fatal(got)
	}
	r.send("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n")
	if got := r.line(); got != "+PONG" {
		t.Fatal(got)
	}
	r.send("*1\r\n$-5\r\n")
	if got := r.line(); got != "-ERR Protocol error: invalid bulk length" {
		t.Fatal(got)
	}
	r.expectClosed()
}
