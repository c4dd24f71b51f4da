package server

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestSaveCommands: one save at a time; BGSAVE SCHEDULE runs one more after
// the running one; a failed save is reported in INFO and stops SHUTDOWN
// SAVE unless FORCE; SHUTDOWN calls the hook and closes the connection.
func TestSaveCommands(t *testing.T) {
	release := make(chan struct{})
	var saves, shutdowns atomic.Int32
	var fail atomic.Bool
	cfg := DefaultConfig()
	cfg.Checkpoint = func() error {
		saves.Add(1)
		<-release
		if fail.Load() {
			return errors.New("disk full")
		}
		return nil
	}
	cfg.Shutdown = func() { shutdowns.Add(1) }
	ts := startServer(t, cfg, nil)
	// No retries: SHUTDOWN closes the connection, and a retry would save
	// again.
	c := ts.client(t, &redis.Options{Protocol: 2, MaxRetries: -1})
	ctx := context.Background()
	if got := c.BgSave(ctx).Val(); got != "Background saving started" {
		t.Fatalf("BGSAVE = %q", got)
	}
	if err := c.BgSave(ctx).Err(); err == nil || err.Error() != "ERR Background save already in progress" {
		t.Fatalf("second BGSAVE: %v", err)
	}
	if got := c.Do(ctx, "bgsave", "schedule").Val(); got != "Background saving scheduled" {
		t.Fatalf("BGSAVE SCHEDULE = %q", got)
	}
	if err := c.Save(ctx).Err(); err == nil || !strings.Contains(err.Error(), "in progress") {
		t.Fatalf("SAVE during BGSAVE: %v", err)
	}
	release <- struct{}{}
	release <- struct{}{} // the scheduled one
	eventually(t, 5*time.Second, func() bool {
		return strings.Contains(c.Info(ctx, "persistence").Val(), "rdb_bgsave_in_progress:0")
	}, "the saves to end")
	if n := saves.Load(); n != 2 {
		t.Fatalf("%d saves ran, want 2", n)
	}
	fail.Store(true)
	go func() { release <- struct{}{} }()
	if err := c.Save(ctx).Err(); err == nil || err.Error() != "ERR disk full" {
		t.Fatalf("failing SAVE: %v", err)
	}
	if info := c.Info(ctx, "persistence").Val(); !strings.Contains(info, "rdb_last_bgsave_status:err") {
		t.Fatalf("INFO after a failed save: %s", info)
	}
	go func() { release <- struct{}{} }()
	if err := c.Do(ctx, "shutdown", "save").Err(); err == nil || err.Error() != "ERR Errors trying to SHUTDOWN. Check logs." {
		t.Fatalf("SHUTDOWN with a failing save: %v", err)
	}
	if shutdowns.Load() != 0 {
		t.Fatal("shut down although the save failed")
	}
	go func() { release <- struct{}{} }()
	c.Do(ctx, "shutdown", "save", "force")
	if shutdowns.Load() != 1 {
		t.Fatal("SHUTDOWN SAVE FORCE did not shut down")
	}
}
