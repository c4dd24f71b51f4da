package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestBusyScript: a script that runs past busy-reply-threshold makes the
// node answer BUSY (the batched GET path too; WATCH, UNWATCH, MULTI and
// DISCARD run) until SCRIPT KILL stops it; one that wrote cannot be
// killed.
func TestBusyScript(t *testing.T) {
	cfg := DefaultConfig()
	cfg.BusyThreshold = 100 * time.Millisecond
	ts := startServer(t, cfg, nil)
	ctx := context.Background()
	cl := ts.client(t, &redis.Options{MaxRetries: -1})
	if err := cl.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, body string
		kill       string // SCRIPT KILL's answer
	}{
		{"read-only", "while true do end", "OK"},
		{"wrote", "redis.call('SET', 'w', '1') local t = redis.call('TIME')[1] + 2 while tonumber(redis.call('TIME')[1]) < t do end", "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			done := make(chan error, 1)
			other := ts.client(t, &redis.Options{MaxRetries: -1, ReadTimeout: -1})
			go func() { done <- other.Eval(sctx, tc.body, nil).Err() }()
			eventually(t, 5*time.Second, func() bool {
				err := cl.Get(ctx, "k").Err()
				return err != nil && strings.HasPrefix(err.Error(), "BUSY ")
			}, "GET never answered BUSY while the script ran")
			// As in Redis, a transaction can be begun and dropped meanwhile.
			conn := cl.Conn()
			for _, args := range [][]any{{"WATCH", "k"}, {"UNWATCH"}, {"MULTI"}, {"DISCARD"}} {
				if err := conn.Do(ctx, args...).Err(); err != nil {
					t.Errorf("%v while the script ran: %v, want OK", args, err)
				}
			}
			conn.Close()
			err := cl.Do(ctx, "SCRIPT", "KILL").Err()
			if tc.kill == "OK" && err != nil || tc.kill != "OK" && (err == nil || err.Error() != tc.kill) {
				t.Fatalf("SCRIPT KILL = %v, want %s", err, tc.kill)
			}
			if tc.kill != "OK" {
				if err := <-done; err != nil && err != redis.Nil {
					t.Fatalf("the unkillable script's EVAL = %v", err)
				}
				return
			}
			if err := <-done; err == nil || !strings.HasPrefix(err.Error(), "ERR Script killed by user with SCRIPT KILL...") {
				t.Fatalf("the killed script's EVAL = %v", err)
			}
			if v, err := cl.Get(ctx, "k").Result(); err != nil || v != "v" {
				t.Fatalf("GET after the kill = %q, %v", v, err)
			}
			if err := cl.Do(ctx, "SCRIPT", "KILL").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOTBUSY") {
				t.Fatalf("SCRIPT KILL with no script = %v, want NOTBUSY", err)
			}
		})
	}
}
