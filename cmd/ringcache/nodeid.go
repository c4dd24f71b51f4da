package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const nodeIDFile = "node-id"

// loadNodeID returns the node's id. An explicit id is kept in the data
// directory on first use and must match it afterwards, so a data directory
// is never served under two identities; with no explicit id, the kept one is
// used or a new random one is made.
func loadNodeID(dataDir, want string) (string, error) {
	path := filepath.Join(dataDir, nodeIDFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		have := strings.TrimSpace(string(data))
		if want != "" && want != have {
			return "", fmt.Errorf("%w: node-id: %q, but %s belongs to node %q", errConfig, want, dataDir, have)
		}
		return have, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("node-id: %w", err)
	}
	id := want
	if id == "" {
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		id = "node-" + hex.EncodeToString(b[:])
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("node-id: %w", err)
	}
	return id, os.Rename(tmp, path)
}
