package server

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestInfoCommandAndErrorStats: INFO commandstats counts each command's
// calls, batched or not, and its failures and refusals; errorstats
// counts error replies by code; CPU reports the process's CPU time;
// commandstats is in INFO all, not in the default INFO; CONFIG RESETSTAT
// clears them, as in Redis.
func TestInfoCommandAndErrorStats(t *testing.T) {
	ts := startServer(t, DefaultConfig(), nil)
	c := ts.client(t, &redis.Options{Protocol: 2})
	ctx := context.Background()
	c.Set(ctx, "a", "1", 0)
	c.Get(ctx, "a")
	c.Pipelined(ctx, func(p redis.Pipeliner) error { // a batch of GETs
		for range 4 {
			p.Get(ctx, "a")
		}
		return nil
	})
	c.Incr(ctx, "a")
	c.Set(ctx, "s", "x", 0)
	c.Incr(ctx, "s")                 // fails: not an integer
	c.Do(ctx, "nosuch")              // unknown: an error, no command
	c.Do(ctx, "get", "a", "b", "c")  // arity: an error, not a call
	c.Do(ctx, "evalsha", "abc", "0") // NOSCRIPT
	c.Do(ctx, "eval", "return redis.error_reply('MINE failed')", "0")

	stats := infoFields(t, c, "commandstats")
	for name, want := range map[string]string{
		"cmdstat_get":  "calls=5,",
		"cmdstat_set":  "calls=2,",
		"cmdstat_incr": "calls=2,",
	} {
		if !strings.HasPrefix(stats[name], want) {
			t.Errorf("%s = %q, want %s...", name, stats[name], want)
		}
	}
	if !strings.HasSuffix(stats["cmdstat_incr"], ",rejected_calls=0,failed_calls=1") {
		t.Errorf("cmdstat_incr = %q, want one failed call", stats["cmdstat_incr"])
	}
	errs := infoFields(t, c, "errorstats")
	if errs["errorstat_ERR"] != "count=3" || errs["errorstat_NOSCRIPT"] != "count=1" || errs["errorstat_MINE"] != "count=1" || len(errs) != 3 {
		t.Errorf("errorstats = %v, want ERR 3, NOSCRIPT 1, MINE 1", errs)
	}
	if got := infoFields(t, c, "stats")["total_error_replies"]; got != "5" {
		t.Errorf("total_error_replies = %q, want 5", got)
	}
	cpu := infoFields(t, c, "cpu")
	for _, f := range []string{"used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children"} {
		if _, err := strconv.ParseFloat(cpu[f], 64); err != nil {
			t.Errorf("INFO cpu %s = %q", f, cpu[f])
		}
	}
	def, _ := c.Info(ctx).Result()
	all, _ := c.Info(ctx, "all").Result()
	if strings.Contains(def, "# Commandstats") || !strings.Contains(all, "# Commandstats") {
		t.Errorf("Commandstats in the default INFO: %v, in INFO all: %v; want no, yes",
			strings.Contains(def, "# Commandstats"), strings.Contains(all, "# Commandstats"))
	}
	for _, sec := range []string{"# CPU", "# Modules", "# Errorstats"} {
		if !strings.Contains(def, sec) {
			t.Errorf("the default INFO lacks %s", sec)
		}
	}

	if err := c.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if got := infoFields(t, c, "errorstats"); len(got) != 0 {
		t.Errorf("errorstats after CONFIG RESETSTAT = %v", got)
	}
	if got := infoFields(t, c, "commandstats"); len(got) != 2 || !strings.HasPrefix(got["cmdstat_config|resetstat"], "calls=1,") ||
		!strings.HasPrefix(got["cmdstat_info"], "calls=1,") {
		t.Errorf("commandstats after CONFIG RESETSTAT = %v, want its own call and one INFO", got)
	}
}

// infoFields returns the fields of INFO section.
func infoFields(t *testing.T, c *redis.Client, section string) map[string]string {
	t.Helper()
	text, err := c.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(text, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
			out[k] = v
		}
	}
	return out
}
