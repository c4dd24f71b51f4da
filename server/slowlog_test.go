package server

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestSlowlog: with slowlog-log-slower-than 0 every command is logged,
// newest first, with Redis's entry shape and its argument limits;
// slowlog-max-len bounds the log; RESET empties it.
func TestSlowlog(t *testing.T) {
	ts := defaultTestServer(t)
	c := ts.client(t, &redis.Options{Protocol: 2, ClientName: "slow"})
	ctx := context.Background()
	if err := c.ConfigSet(ctx, "slowlog-log-slower-than", "0").Err(); err != nil {
		t.Fatal(err)
	}
	c.SlowLogReset(ctx) // SlowLogReset is logged too, once it ran
	c.Set(ctx, "k", strings.Repeat("x", 200), 0)
	args := []any{"mset"}
	for i := range 20 {
		args = append(args, fmt.Sprintf("k%d", i), "v")
	}
	c.Do(ctx, args...)
	entries, err := c.SlowLogGet(ctx, 2).Result()
	if err != nil || len(entries) != 2 {
		t.Fatalf("SLOWLOG GET 2 = %+v, %v", entries, err)
	}
	mset, set := entries[0], entries[1]
	if mset.ID != set.ID+1 || mset.ClientName != "slow" || !strings.HasPrefix(mset.ClientAddr, "127.0.0.1:") {
		t.Fatalf("entries %+v", entries)
	}
	if len(mset.Args) != 32 || mset.Args[31] != "... (10 more arguments)" || mset.Args[0] != "mset" {
		t.Fatalf("MSET of 41 arguments logged as %d: %q", len(mset.Args), mset.Args)
	}
	if len(set.Args) != 3 || set.Args[2] != strings.Repeat("x", 128)+"... (72 more bytes)" {
		t.Fatalf("SET logged as %q", set.Args)
	}
	if err := c.ConfigSet(ctx, "slowlog-max-len", "3").Err(); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		c.Get(ctx, "k")
	}
	if n, err := c.Do(ctx, "slowlog", "len").Int(); err != nil || n != 3 {
		t.Fatalf("SLOWLOG LEN with max-len 3 = %d, %v", n, err)
	}
	if all, err := c.SlowLogGet(ctx, -1).Result(); err != nil || len(all) != 3 || all[0].Args[0] != "slowlog" {
		t.Fatalf("SLOWLOG GET -1 = %+v, %v", all, err)
	}
	if err := c.ConfigSet(ctx, "slowlog-log-slower-than", "-1").Err(); err != nil {
		t.Fatal(err)
	}
	c.Do(ctx, "slowlog", "reset")
	c.Get(ctx, "k")
	if n, err := c.Do(ctx, "slowlog", "len").Int(); err != nil || n != 0 {
		t.Fatalf("SLOWLOG LEN after RESET with the log off = %d, %v", n, err)
	}
}
