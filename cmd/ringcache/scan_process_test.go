package main

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/bench/await"
)

// TestScanClusterWithANodeKilled: 100,000 keys on 4 nodes (N=3, R=W=2); a
// SCAN through node 1 at COUNT 500, with a node SIGKILLed halfway through
// the iteration while other clients add and delete keys. Redis's rules:
// every key present for the whole iteration is returned; a key deleted
// before the iteration began is not; keys added or deleted during it may
// or may not be. KEYS through another node afterwards answers exactly the
// keys present then.
func TestScanClusterWithANodeKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-node cluster")
	}
	const keys = 100_000
	c := startProcCluster(t, 4)
	c.waitAlive(4)
	ctx := context.Background()
	cl := c.client(0)
	key := func(i int) string { return fmt.Sprintf("scan:%d", i) }
	for b := 0; b < keys; b += 1000 {
		args := make([]any, 0, 2000)
		for i := b; i < b+1000; i++ {
			args = append(args, key(i), "v")
		}
		if err := cl.MSet(ctx, args...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Deleted before the scan: never returned.
	for b := 0; b < keys; b += 1000 {
		var del []string
		for i := b; i < b+1000; i += 100 {
			del = append(del, key(i))
		}
		if err := cl.Del(ctx, del...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	stable := func(i int) bool { return i%100 != 0 && i%100 != 50 }

	// During the scan: keys i%100 == 50 are deleted, new ones added.
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		w := c.client(2)
		for i := 50; i < keys; i += 100 {
			if err := w.Del(ctx, key(i)).Err(); err != nil {
				writeErr = fmt.Errorf("DEL %s: %w", key(i), err)
				return
			}
			if err := w.Set(ctx, fmt.Sprintf("added:%d", i), "v", 0).Err(); err != nil {
				writeErr = fmt.Errorf("SET added:%d: %w", i, err)
				return
			}
		}
	}()

	sc := c.client(1)
	seen := map[string]int{}
	killed := false
	cursor, steps := uint64(0), 0
	for {
		var page []string
		var err error
		page, cursor, err = sc.Scan(ctx, cursor, "", 500).Result()
		if err != nil {
			t.Fatalf("SCAN step %d (node killed: %v): %v", steps, killed, err)
		}
		for _, k := range page {
			seen[k]++
		}
		steps++
		if !killed && len(seen) > keys/2 {
			c.nodes[3].proc.kill()
			killed = true
		}
		if cursor == 0 {
			break
		}
	}
	wg.Wait()
	if writeErr != nil {
		t.Fatal(writeErr)
	}
	if !killed {
		t.Fatal("the scan ended before half the keys: no node was killed during it")
	}
	missing, wrong := 0, 0
	for i := range keys {
		n := seen[key(i)]
		if stable(i) && n == 0 {
			if missing++; missing <= 5 {
				t.Errorf("%s, present throughout, was not returned", key(i))
			}
		}
		if i%100 == 0 && n > 0 {
			if wrong++; wrong <= 5 {
				t.Errorf("%s, deleted before the scan, was returned", key(i))
			}
		}
	}
	for k := range seen {
		if !strings.HasPrefix(k, "scan:") && !strings.HasPrefix(k, "added:") {
			t.Errorf("SCAN returned %q, never written", k)
		}
	}
	t.Logf("%d steps, %d keys returned (%d distinct), %d missing, %d deleted ones returned", steps, sumCounts(seen), len(seen), missing, wrong)
	if missing > 0 || wrong > 0 {
		t.FailNow()
	}

	// With node 4 still down, KEYS through node 3 answers what was
	// written.
	want := 0
	for i := range keys {
		if stable(i) {
			want++
		}
	}
	got, err := c.client(2).Keys(ctx, "scan:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != want {
		t.Fatalf("KEYS scan:* answered %d keys, want %d", len(got), want)
	}
	for _, k := range got {
		var i int
		if _, err := fmt.Sscanf(k, "scan:%d", &i); err != nil || !stable(i) {
			t.Fatalf("KEYS returned %s, deleted", k)
		}
	}
	added, err := c.client(2).Keys(ctx, "added:*").Result()
	if err != nil || len(added) != keys/100 {
		t.Fatalf("KEYS added:* answered %d keys (%v), want %d", len(added), err, keys/100)
	}
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestRedisCliScanAndBigkeys: redis-cli --scan (with --pattern), --bigkeys,
// --memkeys, and -n 0 and -n 1 against a node and a cluster.
func TestRedisCliScanAndBigkeys(t *testing.T) {
	needTool(t, "redis-cli")
	_, targets := startCompatTargets(t)
	for _, tg := range targets {
		cl := redis.NewClient(&redis.Options{Addr: tg.addr, MaxRetries: -1})
		defer cl.Close()
		ctx := context.Background()
		for i := range 300 {
			if err := cl.Set(ctx, fmt.Sprintf("cli:%d", i), strings.Repeat("x", i), 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		host, port := hostPort(t, tg.addr)
		run := func(args ...string) string {
			t.Helper()
			out, err := exec.Command("redis-cli", append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s: redis-cli %s: %v\n%s", tg.name, strings.Join(args, " "), err, out)
			}
			return string(out)
		}
		lines := strings.Fields(run("--scan", "--pattern", "cli:1*"))
		want := 0
		for i := range 300 {
			if strings.HasPrefix(fmt.Sprint(i), "1") {
				want++
			}
		}
		slices.Sort(lines)
		if len(slices.Compact(lines)) != want {
			t.Fatalf("%s: redis-cli --scan --pattern cli:1* listed %d keys, want %d", tg.name, len(lines), want)
		}
		if out := run("--bigkeys"); !strings.Contains(out, `Biggest string found '"cli:299"' has 299 bytes`) || !strings.Contains(out, "Sampled 300 keys") {
			t.Fatalf("%s: redis-cli --bigkeys:\n%s", tg.name, out)
		}
		if out := run("--memkeys"); !strings.Contains(out, `Biggest string found '"cli:299"'`) || !strings.Contains(out, "Sampled 300 keys") {
			t.Fatalf("%s: redis-cli --memkeys:\n%s", tg.name, out)
		}
		if out := strings.TrimSpace(run("-n", "0", "GET", "cli:3")); out != "xxx" {
			t.Fatalf("%s: redis-cli -n 0 GET cli:3: %q", tg.name, out)
		}
		// Database 1 through -n 1: its own keys only.
		if out := strings.TrimSpace(run("-n", "1", "SET", "cli:3", "in db 1")); out != "OK" {
			t.Fatalf("%s: redis-cli -n 1 SET: %q", tg.name, out)
		}
		if out := strings.TrimSpace(run("-n", "1", "GET", "cli:3")); out != "in db 1" {
			t.Fatalf("%s: redis-cli -n 1 GET cli:3: %q", tg.name, out)
		}
		if out := strings.TrimSpace(run("-n", "0", "GET", "cli:3")); out != "xxx" {
			t.Fatalf("%s: redis-cli -n 0 GET cli:3 after the -n 1 SET: %q", tg.name, out)
		}
		if out := strings.Fields(run("-n", "1", "--scan")); !slices.Equal(out, []string{"cli:3"}) {
			t.Fatalf("%s: redis-cli -n 1 --scan: %q", tg.name, out)
		}
		if out := strings.TrimSpace(run("-n", "1", "DBSIZE")); out != "1" {
			t.Fatalf("%s: redis-cli -n 1 DBSIZE: %q", tg.name, out)
		}
	}
}

// TestDatabasesInACluster: the same key names in databases 0 and 1 of a
// 3-node cluster are different keys on every replica. With a node
// SIGKILLed, reads, DBSIZE and SCAN of database 1 answer its keys only;
// FLUSHDB there deletes them (tombstones the restarted node gets too)
// and leaves database 0 alone; INFO counts each database, expiries and
// average TTL included.
func TestDatabasesInACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	const keys = 200
	c := startProcCluster(t, 3)
	c.waitAlive(3)
	ctx := context.Background()
	dbClient := func(i, db int) *redis.Client {
		cl := redis.NewClient(&redis.Options{Addr: c.nodes[i].client, DB: db, MaxRetries: -1})
		t.Cleanup(func() { cl.Close() })
		return cl
	}
	key := func(i int) string { return fmt.Sprintf("dbk:%d", i) }
	zero, one := dbClient(0, 0), dbClient(0, 1)
	for i := range keys {
		if err := zero.Set(ctx, key(i), "zero", 0).Err(); err != nil {
			t.Fatal(err)
		}
		ttl := time.Duration(0)
		if i%2 == 0 {
			ttl = time.Hour
		}
		if err := one.Set(ctx, key(i), "one", ttl).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// A replica's copy that came too late for its write (a loaded
	// machine) waits as a hint; a repair round on every node makes the
	// replicas agree, so that the counts are exact.
	for i := range c.nodes {
		cl := redis.NewClient(&redis.Options{Addr: c.nodes[i].client, MaxRetries: -1, ReadTimeout: 2 * time.Minute})
		err := cl.Do(ctx, "RINGCACHE", "REPAIR").Err()
		cl.Close()
		if err != nil {
			t.Fatalf("RINGCACHE REPAIR on node%d: %v", i+1, err)
		}
	}
	await.T(t, 20*time.Second, "INFO keyspace to count both databases", func() error {
		info, err := dbClient(1, 0).Info(ctx, "keyspace").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "db0:keys=200,expires=0,avg_ttl=0") || !strings.Contains(info, "db1:keys=200,expires=100,avg_ttl=") {
			return fmt.Errorf("INFO keyspace %q", info)
		}
		var ttl int64
		for _, l := range strings.Split(info, "\r\n") {
			if strings.HasPrefix(l, "db1:") {
				fmt.Sscanf(l[strings.Index(l, "avg_ttl=")+8:], "%d", &ttl)
			}
		}
		if ttl < 3500_000 || ttl > 3600_000 {
			return fmt.Errorf("db1 avg_ttl %d ms, want about an hour", ttl)
		}
		return nil
	})
	// Each owner holds the database 1 record under the key's name in
	// database 1: LOCALGET after SELECT 1 finds "one".
	rec, err := dbClient(2, 1).Do(ctx, "RINGCACHE", "LOCALGET", key(1)).Slice()
	if err != nil || !slices.Contains(rec, any("one")) {
		t.Fatalf("LOCALGET %s in database 1 on node3: %v, %v", key(1), rec, err)
	}

	c.nodes[2].proc.kill()
	one2, zero2 := dbClient(1, 1), dbClient(1, 0)
	for i := range keys {
		if v, err := one2.Get(ctx, key(i)).Result(); err != nil || v != "one" {
			t.Fatalf("GET %s in database 1 with node3 down: %q, %v", key(i), v, err)
		}
	}
	if n, err := one2.DBSize(ctx).Result(); err != nil || n != keys {
		t.Fatalf("DBSIZE of database 1 with node3 down: %d, %v", n, err)
	}
	if got, err := one2.Keys(ctx, "*").Result(); err != nil || len(got) != keys {
		t.Fatalf("KEYS * in database 1 with node3 down: %d keys, %v", len(got), err)
	}
	if err := one2.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("FLUSHDB of database 1 with node3 down: %v", err)
	}
	if n, err := zero2.DBSize(ctx).Result(); err != nil || n != keys {
		t.Fatalf("DBSIZE of database 0 after FLUSHDB of database 1: %d, %v", n, err)
	}
	c.start(2)
	c.waitAlive(3)
	await.T(t, 60*time.Second, "database 1 empty through the restarted node, database 0 whole", func() error {
		back1, back0 := dbClient(2, 1), dbClient(2, 0)
		if got, err := back1.Keys(ctx, "*").Result(); err != nil || len(got) != 0 {
			return fmt.Errorf("KEYS * in database 1 through node3: %d keys, %v", len(got), err)
		}
		for i := range keys {
			if v, err := back1.Get(ctx, key(i)).Result(); err != redis.Nil {
				return fmt.Errorf("GET %s in database 1 through node3: %q, %v", key(i), v, err)
			}
			if v, err := back0.Get(ctx, key(i)).Result(); err != nil || v != "zero" {
				return fmt.Errorf("GET %s in database 0 through node3: %q, %v", key(i), v, err)
			}
		}
		return nil
	})
}
