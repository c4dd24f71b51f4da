package server

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/ringcache/ringcache/server/store"
)

// TestDeletesWriteTombstonesWhateverTheReadSaw: a command that deletes a
// key writes its tombstone even when its read found nothing, as the
// store's replicas may hold a copy the read missed (a failed write's)
// that must not surface after the command answered. MOVE included, when
// it answers 0 for want of the key.
func TestDeletesWriteTombstonesWhateverTheReadSaw(t *testing.T) {
	ts := defaultTestServer(t)
	var mu sync.Mutex
	var deleted [][]byte
	ts.store.putHook = func(muts []store.Mutation) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range muts {
			if m.Delete {
				deleted = append(deleted, bytes.Clone(m.Key))
			}
		}
		return nil
	}
	c := ts.dial(t)
	for _, tc := range []struct{ cmd, reply string }{
		{"DEL missing", ":0"},
		{"UNLINK missing", ":0"},
		{"GETDEL missing", "$-1"},
		{"MOVE missing 5", ":0"},
	} {
		mu.Lock()
		deleted = nil
		mu.Unlock()
		c.expect(tc.cmd, tc.reply)
		mu.Lock()
		if len(deleted) != 1 || string(deleted[0]) != "missing" {
			t.Errorf("%s: deletes written %q, want a tombstone of missing", tc.cmd, deleted)
		}
		mu.Unlock()
	}
}

// TestStoreMayKeepKeys: the store may keep the keys it was given after it
// returns (the cluster's background read repair does): the store keys of
// a database other than 0 are not a buffer the next command reuses.
func TestStoreMayKeepKeys(t *testing.T) {
	ts := defaultTestServer(t)
	var mu sync.Mutex
	var kept [][]byte
	keep := func(keys [][]byte) {
		mu.Lock()
		defer mu.Unlock()
		kept = append(kept, keys...)
	}
	ts.store.getHook = func(keys [][]byte) error { keep(keys); return nil }
	ts.store.putHook = func(muts []store.Mutation) error {
		for _, m := range muts {
			keep([][]byte{m.Key})
		}
		return nil
	}
	c := ts.dial(t)
	c.expect("SELECT 3", "+OK")
	names := []string{"key:a", "key:b", "key:c", "key:d"}
	for _, k := range names {
		c.expect("GET "+k, "$-1")
		c.expect("SET "+k+" v", "+OK")
	}
	c.expect("MGET key:a key:b", "*2", "$1", "v", "$1", "v")
	mu.Lock()
	defer mu.Unlock()
	var got []string
	for _, k := range kept {
		db, key, ok := splitDBKey(k)
		if !ok || db != 3 {
			t.Fatalf("kept store key %q: not of database 3", k)
		}
		got = append(got, string(key))
	}
	want := []string{"key:a", "key:a", "key:b", "key:b", "key:c", "key:c", "key:d", "key:d", "key:a", "key:b"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("the keys the store kept read, once every command ran: %q; want %q", got, want)
	}
}
