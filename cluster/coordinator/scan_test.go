package coordinator

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/server/store"
)

// scanAll runs Scan from the start to the end with count, and returns
// how often each key came back.
func scanAll(t *testing.T, co *Coordinator, count int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	cursor := uint64(0)
	for {
		keys, next, err := co.Scan(context.Background(), cursor, count)
		if err != nil {
			t.Fatalf("scan from %d: %v", cursor, err)
		}
		for _, k := range keys {
			seen[string(k)]++
		}
		if next == 0 {
			return seen
		}
		if next <= cursor || next >= 1<<53 {
			t.Fatalf("scan from %d: next cursor %d", cursor, next)
		}
		cursor = next
	}
}

func putKeys(t *testing.T, co *Coordinator, muts []store.Mutation) {
	t.Helper()
	for b := 0; b < len(muts); b += 100 {
		if err := co.Put(context.Background(), muts[b:min(b+100, len(muts))]); err != nil {
			t.Fatal(err)
		}
	}
}

// TestScanReturnsEveryLiveKey: on 4 nodes (N=3, R=W=2), a scan through
// any node, at any COUNT, returns each live key exactly once (the ring
// does not change), and no deleted or expired key; with a node down, or
// with a replica that missed writes and deletes, it still does.
func TestScanReturnsEveryLiveKey(t *testing.T) {
	tc := newTestCluster(t, 4, nil)
	co := tc.coords["n0"]
	var muts []store.Mutation
	live := map[string]bool{}
	for i := range 2000 {
		k := fmt.Sprintf("key:%d", i)
		muts = append(muts, store.Mutation{Key: []byte(k), Value: []byte("v")})
		live[k] = true
	}
	putKeys(t, co, muts)
	muts = muts[:0]
	for i := 0; i < 2000; i += 10 {
		k := fmt.Sprintf("key:%d", i)
		muts = append(muts, store.Mutation{Key: []byte(k), Delete: true})
		delete(live, k)
	}
	for i := 5; i < 2000; i += 50 {
		k := fmt.Sprintf("key:%d", i)
		muts = append(muts, store.Mutation{Key: []byte(k), Value: []byte("v"), ExpireAt: time.Now().Add(-time.Hour).UnixMilli()})
		delete(live, k)
	}
	putKeys(t, co, muts)
	check := func(what string, co *Coordinator, count int) {
		t.Helper()
		seen := scanAll(t, co, count)
		for k, n := range seen {
			if !live[k] || n != 1 {
				t.Fatalf("%s, COUNT %d: %q returned %d times (live: %v)", what, count, k, n, live[k])
			}
		}
		if len(seen) != len(live) {
			t.Fatalf("%s, COUNT %d: %d keys returned, want %d", what, count, len(seen), len(live))
		}
	}
	for _, count := range []int{1, 10, 1000, 100000} {
		check("all up", co, count)
	}
	check("through another node", tc.coords["n2"], 10)

	// n3 misses writes and deletes while it is down; back up, it is
	// stale, and scans must not take its word for it.
	tc.whileDown([]string{"n3"}, func() {
		check("n3 down", co, 10)
		muts = muts[:0]
		for i := 1; i < 2000; i += 10 {
			k := fmt.Sprintf("key:%d", i)
			muts = append(muts, store.Mutation{Key: []byte(k), Delete: true})
			delete(live, k)
		}
		for i := range 200 {
			k := fmt.Sprintf("new:%d", i)
			muts = append(muts, store.Mutation{Key: []byte(k), Value: []byte("v")})
			live[k] = true
		}
		putKeys(t, co, muts)
	})
	for _, id := range []string{"n0", "n3"} {
		check("n3 stale, through "+id, tc.coords[id], 7)
	}
	// Two nodes down: ranges they share have one replica left, fewer
	// than R.
	tc.net.set("n1", faultDown)
	tc.net.set("n2", faultDown)
	if err := scanUntilError(co); err == nil {
		t.Fatal("a scan with two of four nodes down read every range")
	}
	tc.net.set("n1", faultNone)
	tc.net.set("n2", faultNone)
}

func scanUntilError(co *Coordinator) error {
	cursor := uint64(0)
	for {
		_, next, err := co.Scan(context.Background(), cursor, 1000)
		if err != nil || next == 0 {
			return err
		}
		cursor = next
	}
}

func TestMergePages(t *testing.T) {
	rec := func(wall int64, tomb bool, exp int64) engine.Record {
		return engine.Record{Version: engine.Version{Wall: wall}, Tombstone: tomb, ExpireAt: exp}
	}
	keysIn := func(want ...string) []string { return want }
	var ks []string
	for i := range 40 {
		ks = append(ks, fmt.Sprint(i))
	}
	slices.SortFunc(ks, func(a, b string) int { return cmp.Compare(engine.Token([]byte(a)), engine.Token([]byte(b))) })
	tok := func(i int) uint64 { return engine.Token([]byte(ks[i])) }
	page := func(next uint64, more bool, entries map[int]engine.Record) replica.ScanReply {
		var p replica.ScanReply
		for _, i := range slices.Sorted(maps.Keys(entries)) {
			p.Keys, p.Recs = append(p.Keys, []byte(ks[i])), append(p.Recs, entries[i])
		}
		p.Next, p.More = next, more
		return p
	}
	now := int64(1000)
	a := page(0, false, map[int]engine.Record{0: rec(1, false, 0), 1: rec(5, true, 0), 2: rec(1, false, 0), 3: rec(1, false, 500), 30: rec(1, false, 0)})
	// b stopped after key 10: nothing of either page past that counts.
	b := page(tok(10)+1, true, map[int]engine.Record{1: rec(2, false, 0), 2: rec(3, true, 0), 4: rec(1, false, 0), 10: rec(1, false, 0)})
	got := mergePages([]replica.ScanReply{a, b}, 0, now)
	if !got.more || got.next != tok(10)+1 {
		t.Fatalf("next %d more %v, want %d", got.next, got.more, tok(10)+1)
	}
	var names []string
	for _, k := range got.keys {
		names = append(names, string(k))
	}
	// 1: deleted (newest a tombstone); 2: deleted by b; 3: expired;
	// 30: past where b stopped.
	if want := keysIn(ks[0], ks[4], ks[10]); !slices.Equal(names, want) {
		t.Fatalf("merged %q, want %q", names, want)
	}
	if got := mergePages([]replica.ScanReply{a}, 0, now); got.more || got.next != 0 || len(got.keys) != 3 {
		t.Fatalf("one exhausted page: %+v", got)
	}
}
