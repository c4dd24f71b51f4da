package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ringcache/ringcache/engine"
)

// SAVE and BGSAVE leave one backup in the data directory: data-dir/checkpoint,
// a Pebble checkpoint of data-dir/db (opened in its place, it is the store as
// of the save). A new one is written beside it and takes its place only once
// complete, so a failed or interrupted save leaves the previous backup whole.

const (
	checkpointDir  = "checkpoint"
	checkpointTemp = "checkpoint.tmp"
	checkpointOld  = "checkpoint.old"
)

func checkpoint(eng *engine.Engine, dataDir string) error {
	dir := filepath.Join(dataDir, checkpointDir)
	tmp := filepath.Join(dataDir, checkpointTemp)
	old := filepath.Join(dataDir, checkpointOld)
	for _, leftover := range []string{tmp, old} {
		if err := os.RemoveAll(leftover); err != nil {
			return fmt.Errorf("checkpoint: removing %s: %w", leftover, err)
		}
	}
	if err := eng.Checkpoint(tmp); err != nil {
		return err
	}
	if err := os.Rename(dir, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := syncDir(dataDir); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return os.RemoveAll(old)
}

// syncDir makes the renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
