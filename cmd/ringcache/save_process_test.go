package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestProcessSaveRestoreAndShutdown: SAVE and BGSAVE leave a checkpoint in
// the data directory, the later one replacing the earlier; LASTSAVE and
// INFO follow; SHUTDOWN ends the process cleanly without a reply; and the
// checkpoint, put in place of a data directory's db, starts a node that
// holds exactly what was written before the last save.
func TestProcessSaveRestoreAndShutdown(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	n := startNode(t, addr, "--data-dir", dir)
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	ctx := context.Background()
	for i := range 500 {
		if err := c.Set(ctx, fmt.Sprint("k", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now().Unix()
	if err := c.Save(ctx).Err(); err != nil {
		t.Fatalf("SAVE: %v", err)
	}
	if last, err := c.LastSave(ctx).Result(); err != nil || last < before {
		t.Fatalf("LASTSAVE = %d, %v; want >= %d", last, err, before)
	}
	c.Set(ctx, "after-save", "1", 0)
	if got, err := c.BgSave(ctx).Result(); err != nil || got != "Background saving started" {
		t.Fatalf("BGSAVE = %q, %v", got, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		info := c.Info(ctx, "persistence").Val()
		if strings.Contains(info, "rdb_bgsave_in_progress:0") && strings.Contains(info, "rdb_last_bgsave_status:ok") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("BGSAVE still running or failed: %s", info)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.Set(ctx, "after-bgsave", "1", 0)
	for _, leftover := range []string{"checkpoint.tmp", "checkpoint.old"} {
		if _, err := os.Stat(filepath.Join(dir, leftover)); err == nil {
			t.Errorf("%s left in the data directory", leftover)
		}
	}
	// go-redis reports the closed connection SHUTDOWN answers with as nil.
	if err := c.Shutdown(ctx).Err(); err != nil && strings.HasPrefix(err.Error(), "ERR") {
		t.Fatalf("SHUTDOWN answered %v, want the connection closed", err)
	}
	select {
	case <-n.Exited():
	case <-time.After(30 * time.Second):
		t.Fatal("the node did not exit after SHUTDOWN")
	}
	if !n.Success() {
		t.Fatalf("exit code %d after SHUTDOWN\n%s", n.ExitCode(), n.logText())
	}

	restored := t.TempDir()
	if out, err := exec.Command("cp", "-a", filepath.Join(dir, "checkpoint"), filepath.Join(restored, "db")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	addr2 := freeAddr(t)
	startNode(t, addr2, "--data-dir", restored)
	r := redis.NewClient(&redis.Options{Addr: addr2})
	defer r.Close()
	if got := r.DBSize(ctx).Val(); got != 501 {
		t.Fatalf("restored DBSIZE = %d, want 501 (500 keys and the one before BGSAVE)", got)
	}
	if r.Exists(ctx, "after-save").Val() != 1 || r.Exists(ctx, "after-bgsave").Val() != 0 {
		t.Fatal("the restored store is not the one of the last save")
	}
}
