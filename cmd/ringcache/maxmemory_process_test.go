package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/bench/await"
)

// oomText is the reply to a denyoom command past the budget, as Redis's.
const oomText = "OOM command not allowed when used memory > 'maxmemory'."

// evictMargin is how far past maxmemory writes may run ahead of eviction
// (engine/evict Margin: 1/64 of the budget plus 256 KiB), restated here so
// a change of it shows up as a failing test.
func evictMargin(maxMemory int64) int64 { return maxMemory/64 + 256<<10 }

// mmValue is the 100-byte value the tests write under key.
func mmValue(key string) string { return fmt.Sprintf("%-100.100s", "v:"+key) }

// mmRecordBytes is what a string record counts in used_memory: key, value
// and 64 bytes, plus the key again and 48 bytes when it has an expiry.
func mmRecordBytes(key, value string, ttl bool) int64 {
	n := int64(len(key) + len(value) + 64)
	if ttl {
		n += int64(len(key) + 48)
	}
	return n
}

// startMemNode starts a single node with a budget and policy.
func startMemNode(t *testing.T, dir, maxmemory, policy string) (*node, *redis.Client) {
	t.Helper()
	n := startNode(t, freeAddr(t), "--data-dir", dir, "--maxmemory", maxmemory,
		"--maxmemory-policy", policy, "--maxmemory-samples", "5")
	c := redis.NewClient(&redis.Options{Addr: n.addr, MaxRetries: -1, PoolSize: 4})
	t.Cleanup(func() { c.Close() })
	return n, c
}

// memFigures are a node's INFO memory and stats figures of the budget.
type memFigures struct {
	used, max, evicted int64
	policy             string
}

func mmInfo(t *testing.T, c *redis.Client) memFigures {
	t.Helper()
	var m memFigures
	var err error
	if m.used, err = infoInt(c, "memory", "used_memory"); err != nil {
		t.Fatal(err)
	}
	if m.max, err = infoInt(c, "memory", "maxmemory"); err != nil {
		t.Fatal(err)
	}
	if m.evicted, err = infoInt(c, "stats", "evicted_keys"); err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "maxmemory_policy:"); ok {
			m.policy = v
		}
	}
	return m
}

// awaitUsedAtMost polls used_memory until it is at most limit, failing
// the test past timeout; it returns the figure that satisfied it.
func awaitUsedAtMost(t *testing.T, c *redis.Client, limit int64, timeout time.Duration) int64 {
	t.Helper()
	var used int64
	err := await.Until(timeout, func() error {
		var err error
		if used, err = infoInt(c, "memory", "used_memory"); err != nil {
			return err
		}
		if used > limit {
			return fmt.Errorf("used_memory %d > %d", used, limit)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return used
}

// mmWrite SETs keys (pipelined, 500 a round) to mmValue(key), with the
// expiry ttl(i) when it is not 0 (ttl may be nil). It returns how many
// SETs failed and the first failure.
func mmWrite(t *testing.T, c *redis.Client, keys []string, ttl func(i int) time.Duration) (failed int, first error) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < len(keys); i += 500 {
		pipe := c.Pipeline()
		for j := i; j < min(i+500, len(keys)); j++ {
			var d time.Duration
			if ttl != nil {
				d = ttl(j)
			}
			pipe.Set(ctx, keys[j], mmValue(keys[j]), d)
		}
		cmds, err := pipe.Exec(ctx)
		if err != nil && !isReplyError(err) {
			t.Fatalf("pipeline: %v", err)
		}
		for _, cmd := range cmds {
			if err := cmd.Err(); err != nil {
				failed++
				if first == nil {
					first = err
				}
			}
		}
	}
	return failed, first
}

func isReplyError(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

func mmKeys(prefix string, from, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s:%06d", prefix, from+i)
	}
	return keys
}

// mmCountPresent returns how many of keys exist, checking the value of
// each that does.
func mmCountPresent(t *testing.T, c *redis.Client, keys []string) int {
	t.Helper()
	ctx := context.Background()
	present := 0
	for i := 0; i < len(keys); i += 500 {
		batch := keys[i:min(i+500, len(keys))]
		vals, err := c.MGet(ctx, batch...).Result()
		if err != nil {
			t.Fatal(err)
		}
		for j, v := range vals {
			if v == nil {
				continue
			}
			if v != mmValue(batch[j]) {
				t.Fatalf("%s = %q, want %q", batch[j], v, mmValue(batch[j]))
			}
			present++
		}
	}
	return present
}

// TestProcessMaxMemoryPolicies: under each evicting policy a node written
// three times its budget (100-byte values, pipelined; every key with an
// expiry under the volatile ones) evicts down to within the budget's
// margin at once, and to the budget itself soon after; evicted_keys grows
// and most keys are gone. OBJECT FREQ answers under LFU only, OBJECT
// IDLETIME under the others.
func TestProcessMaxMemoryPolicies(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 3x a 4 MiB budget under five policies")
	}
	const budget = 4 << 20
	_, c := startMemNode(t, t.TempDir(), "4mb", "allkeys-lru")
	ctx := context.Background()
	if got := c.ConfigGet(ctx, "maxmemory").Val()["maxmemory"]; got != fmt.Sprint(budget) {
		t.Fatalf("CONFIG GET maxmemory = %q, want %d", got, budget)
	}
	// A key with a TTL counts 100 + 2*len(key) + 112 bytes: write 3x
	// the budget of them.
	keysFor := func(volatile bool) int {
		per := mmRecordBytes("p:x:000000", mmValue(""), volatile)
		return int(3 * budget / per)
	}
	for _, policy := range []string{"allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-ttl", "volatile-lru"} {
		t.Run(policy, func(t *testing.T) {
			if err := c.ConfigSet(ctx, "maxmemory-policy", policy).Err(); err != nil {
				t.Fatal(err)
			}
			if err := c.FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			before := mmInfo(t, c)
			if before.policy != policy || before.max != budget || before.used != 0 {
				t.Fatalf("after CONFIG SET and FLUSHALL: %+v", before)
			}
			volatile := strings.HasPrefix(policy, "volatile-")
			n := keysFor(volatile)
			keys := mmKeys("p:"+policy[:1]+policy[len(policy)-1:], 0, n)
			var ttl func(int) time.Duration
			if volatile {
				ttl = func(i int) time.Duration { return time.Duration(10+i%50) * time.Minute }
			}
			start := time.Now()
			failed, first := mmWrite(t, c, keys, ttl)
			took := time.Since(start)
			if failed > 0 {
				t.Errorf("%d of %d SETs failed under %s, first: %v", failed, n, policy, first)
			}
			atEnd := mmInfo(t, c)
			used := awaitUsedAtMost(t, c, budget+evictMargin(budget), 5*time.Second)
			settled := awaitUsedAtMost(t, c, budget, 5*time.Second)
			after := mmInfo(t, c)
			size := c.DBSize(ctx).Val()
			t.Logf("%s: wrote %d keys (%d bytes) in %v; used_memory %d at the end of the writes, %d then %d (budget %d, margin %d); evicted_keys +%d; DBSIZE %d",
				policy, n, int64(n)*mmRecordBytes(keys[0], mmValue(""), volatile), took.Round(time.Millisecond),
				atEnd.used, used, settled, budget, evictMargin(budget), after.evicted-before.evicted, size)
			if after.evicted-before.evicted < int64(n)/2 {
				t.Errorf("evicted_keys grew by %d, want at least %d of %d written", after.evicted-before.evicted, n/2, n)
			}
			if size > int64(n)/2 {
				t.Errorf("DBSIZE %d of %d written: eviction did not keep the budget", size, n)
			}
			if size+(after.evicted-before.evicted) < int64(n-failed) {
				t.Errorf("DBSIZE %d + evicted %d < %d keys written", size, after.evicted-before.evicted, n-failed)
			}
			// The survivors hold what was written.
			if got := mmCountPresent(t, c, keys); int64(got) != size {
				t.Errorf("%d of the written keys exist, DBSIZE %d", got, size)
			}
			// OBJECT FREQ answers under LFU, OBJECT IDLETIME otherwise.
			var some string
			for _, k := range keys[len(keys)-200:] {
				if c.Exists(ctx, k).Val() == 1 {
					some = k
					break
				}
			}
			if some == "" {
				t.Fatal("none of the last 200 keys written survived")
			}
			_, ferr := c.ObjectFreq(ctx, some).Result()
			_, ierr := c.ObjectIdleTime(ctx, some).Result()
			if lfu := strings.HasSuffix(policy, "-lfu"); lfu != (ferr == nil) || lfu == (ierr == nil) {
				t.Errorf("under %s: OBJECT FREQ err %v, OBJECT IDLETIME err %v", policy, ferr, ierr)
			}
		})
	}
}

// TestProcessMaxMemoryLRUKeepsHotSet: under allkeys-lru, keys read all
// the time survive while three times the budget of other keys is
// written as fast as the node takes them, so that the whole dataset is
// written within a second or two: the access clock keeps reads by the
// second, and a read must still count as more recent than a write of its
// second.
func TestProcessMaxMemoryLRUKeepsHotSet(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 3x a 4 MiB budget over 6s")
	}
	const budget = 4 << 20
	_, c := startMemNode(t, t.TempDir(), "4mb", "allkeys-lru")
	ctx := context.Background()
	hot := mmKeys("hot", 0, 2000)
	if failed, err := mmWrite(t, c, hot, nil); failed > 0 {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var reads, misses atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := redis.NewClient(&redis.Options{Addr: c.Options().Addr, MaxRetries: -1})
		defer r.Close()
		for !stop.Load() {
			for i := 0; i < len(hot) && !stop.Load(); i += 500 {
				pipe := r.Pipeline()
				for _, k := range hot[i : i+500] {
					pipe.Get(ctx, k)
				}
				cmds, _ := pipe.Exec(ctx)
				for _, cmd := range cmds {
					reads.Add(1)
					if errors.Is(cmd.Err(), redis.Nil) {
						misses.Add(1)
					}
				}
			}
		}
	}()
	time.Sleep(200 * time.Millisecond)
	cold := mmKeys("cold", 0, int(3*budget/mmRecordBytes("cold:000000", mmValue(""), false)))
	start := time.Now()
	var failed int
	var first error
	for i := 0; i < len(cold); i += 1000 {
		f, err := mmWrite(t, c, cold[i:min(i+1000, len(cold))], nil)
		failed += f
		if first == nil {
			first = err
		}
	}
	took := time.Since(start)
	used := awaitUsedAtMost(t, c, budget+evictMargin(budget), 5*time.Second)
	stop.Store(true)
	wg.Wait()
	m := mmInfo(t, c)
	survived := mmCountPresent(t, c, hot)
	coldLeft := mmCountPresent(t, c, cold)
	t.Logf("hot set: %d of %d survived (%.1f%%) writing %d cold keys in %v (%d cold left); %d hot reads, %d misses; used_memory %d, budget %d; evicted_keys %d",
		survived, len(hot), 100*float64(survived)/float64(len(hot)), len(cold), took.Round(time.Millisecond), coldLeft,
		reads.Load(), misses.Load(), used, budget, m.evicted)
	if failed > 0 {
		t.Errorf("%d of %d SETs failed, first: %v", failed, len(cold), first)
	}
	if survived*100 < len(hot)*95 {
		t.Errorf("only %d of %d hot keys survived, want at least 95%%", survived, len(hot))
	}
	if m.evicted < int64(len(cold))/2 {
		t.Errorf("evicted_keys %d, want most of the %d cold keys", m.evicted, len(cold))
	}
}

// TestProcessMaxMemoryVolatileTTL: under volatile-ttl only keys with an
// expiry go, the nearest expiries first.
func TestProcessMaxMemoryVolatileTTL(t *testing.T) {
	if testing.Short() {
		t.Skip("overfills a 2 MiB budget")
	}
	const budget, each = 2 << 20, 7000
	_, c := startMemNode(t, t.TempDir(), "2mb", "volatile-ttl")
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]string, 2*each)
	ttls := make([]time.Duration, 2*each) // 0: none
	var ttlKeys, plain []string
	var ttlOf = map[string]time.Duration{}
	for i := range keys {
		if i%2 == 0 {
			keys[i] = fmt.Sprintf("vt:p:%06d", i)
			plain = append(plain, keys[i])
			continue
		}
		keys[i] = fmt.Sprintf("vt:t:%06d", i)
		ttls[i] = time.Hour + time.Duration(rng.Int64N(int64(9*time.Hour)))/time.Second*time.Second
		ttlKeys = append(ttlKeys, keys[i])
		ttlOf[keys[i]] = ttls[i]
	}
	var written int64
	for i, k := range keys {
		written += mmRecordBytes(k, mmValue(k), ttls[i] != 0)
	}
	failed, first := mmWrite(t, c, keys, func(i int) time.Duration { return ttls[i] })
	if failed > 0 {
		t.Errorf("%d SETs failed, first: %v", failed, first)
	}
	used := awaitUsedAtMost(t, c, budget+evictMargin(budget), 5*time.Second)
	// Eviction goes on down to the budget itself: wait for it to end
	// before counting, or keys it takes later are gone but not counted.
	awaitUsedAtMost(t, c, budget, 5*time.Second)
	m := mmInfo(t, c)
	if got := mmCountPresent(t, c, plain); got != len(plain) {
		t.Errorf("%d of %d keys without a TTL survived; volatile-ttl must evict only keys with one", got, len(plain))
	}
	var survivors, evicted []time.Duration
	for i := 0; i < len(ttlKeys); i += 500 {
		batch := ttlKeys[i:min(i+500, len(ttlKeys))]
		vals, err := c.MGet(ctx, batch...).Result()
		if err != nil {
			t.Fatal(err)
		}
		for j, v := range vals {
			if v == nil {
				evicted = append(evicted, ttlOf[batch[j]])
			} else {
				survivors = append(survivors, ttlOf[batch[j]])
			}
		}
	}
	median := func(d []time.Duration) time.Duration {
		if len(d) == 0 {
			return 0
		}
		s := slices.Clone(d)
		slices.Sort(s)
		return s[len(s)/2]
	}
	all := append(slices.Clone(survivors), evicted...)
	t.Logf("volatile-ttl: wrote %d bytes against a budget of %d; used_memory %d; evicted_keys %d; %d of %d TTL keys survived, median TTL %v (evicted %v, all %v)",
		written, budget, used, m.evicted, len(survivors), len(ttlKeys), median(survivors), median(evicted), median(all))
	if len(evicted) == 0 || m.evicted == 0 {
		t.Fatalf("nothing evicted (%d bytes written against %d)", written, budget)
	}
	if int64(len(evicted)) != m.evicted {
		t.Errorf("%d TTL keys are gone, evicted_keys %d", len(evicted), m.evicted)
	}
	if median(survivors) <= median(all) || median(evicted) >= median(all) {
		t.Errorf("the survivors' median TTL %v is not past the median of all TTL keys %v (evicted %v)",
			median(survivors), median(all), median(evicted))
	}
}

// TestProcessMaxMemoryNoEviction: past the budget under noeviction,
// commands that may grow the dataset are refused with Redis's OOM error;
// reads, DEL, EXPIRE work and lose nothing; after DEL frees enough,
// writes work again.
func TestProcessMaxMemoryNoEviction(t *testing.T) {
	const budget = 2 << 20
	_, c := startMemNode(t, t.TempDir(), "2mb", "noeviction")
	ctx := context.Background()
	// Fill until a SET is refused or the budget is passed.
	var stored []string
	var oom error
	for round := 0; oom == nil; round++ {
		if round > 200 {
			t.Fatalf("never refused; %+v", mmInfo(t, c))
		}
		keys := mmKeys("ne", round*100, 100)
		pipe := c.Pipeline()
		for _, k := range keys {
			pipe.Set(ctx, k, mmValue(k), 0)
		}
		cmds, _ := pipe.Exec(ctx)
		for i, cmd := range cmds {
			if err := cmd.Err(); err != nil {
				oom = err
			} else {
				stored = append(stored, keys[i])
			}
		}
		if mmInfo(t, c).used > budget {
			break
		}
	}
	if oom != nil && oom.Error() != oomText {
		t.Fatalf("SET while filling: %v", oom)
	}
	m := mmInfo(t, c)
	if m.used <= budget {
		t.Fatalf("used_memory %d after the refusal, budget %d", m.used, budget)
	}
	size := c.DBSize(ctx).Val()
	if size != int64(len(stored)) {
		t.Fatalf("DBSIZE %d, %d SETs acknowledged", size, len(stored))
	}
	t.Logf("noeviction: %d keys stored, used_memory %d, budget %d", len(stored), m.used, budget)

	// Writes are refused with exactly Redis's error.
	denied := map[string][]any{
		"SET":    {"SET", "new-key", "v"},
		"SET-EX": {"SET", "new-key", "v", "EX", "100"},
		"INCR":   {"INCR", "counter"},
		"MSET":   {"MSET", "m1", "v", "m2", "v"},
		"APPEND": {"APPEND", stored[0], "more"},
		"SETNX":  {"SETNX", "new-key", "v"},
	}
	for name, args := range denied {
		err := c.Do(ctx, args...).Err()
		if err == nil || !isReplyError(err) || err.Error() != oomText {
			t.Errorf("%s past the budget: %v, want %q", name, err, oomText)
		}
	}
	if err := c.Set(ctx, "new-key", "v", 0).Err(); err == nil || err.Error() != oomText {
		t.Errorf("SET (client method) past the budget: %v", err)
	}
	// Reads, EXPIRE and DEL still work; nothing stored is lost.
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		k := stored[rng.IntN(len(stored))]
		if v, err := c.Get(ctx, k).Result(); err != nil || v != mmValue(k) {
			t.Fatalf("GET %s past the budget = %q, %v", k, v, err)
		}
	}
	if got := mmCountPresent(t, c, stored); got != len(stored) {
		t.Fatalf("%d of %d stored keys left", got, len(stored))
	}
	if ok, err := c.Expire(ctx, stored[1], time.Hour).Result(); err != nil || !ok {
		t.Errorf("EXPIRE past the budget = %v, %v", ok, err)
	}
	if got := c.DBSize(ctx).Val(); got != size {
		t.Fatalf("DBSIZE %d after the refusals, want %d", got, size)
	}
	if m := mmInfo(t, c); m.evicted != 0 {
		t.Errorf("noeviction evicted %d keys", m.evicted)
	}
	// DEL enough keys to get back under the budget (with room for a
	// SET), and writes work again.
	over := m.used - budget
	toFree := over + 4096
	var freed int64
	var dels []string
	for _, k := range stored[2:] {
		if freed >= toFree {
			break
		}
		dels = append(dels, k)
		freed += mmRecordBytes(k, mmValue(k), false)
	}
	if n, err := c.Del(ctx, dels...).Result(); err != nil || n != int64(len(dels)) {
		t.Fatalf("DEL of %d keys past the budget = %d, %v", len(dels), n, err)
	}
	if m := mmInfo(t, c); m.used > budget {
		t.Fatalf("used_memory %d after deleting %d keys (%d bytes), budget %d", m.used, len(dels), freed, budget)
	}
	if err := c.Set(ctx, "new-key", "v", 0).Err(); err != nil {
		t.Fatalf("SET after DEL freed room: %v", err)
	}
	if err := c.Incr(ctx, "counter").Err(); err != nil {
		t.Fatalf("INCR after DEL freed room: %v", err)
	}
	if got := c.DBSize(ctx).Val(); got != size-int64(len(dels))+2 {
		t.Errorf("DBSIZE %d, want %d", got, size-int64(len(dels))+2)
	}
	// FLUSHALL works past the budget too.
	if _, err := mmWrite(t, c, mmKeys("ne2", 0, 200), nil); err != nil && err.Error() != oomText {
		t.Fatal(err)
	}
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatalf("FLUSHALL: %v", err)
	}
	if m := mmInfo(t, c); m.used != 0 {
		t.Errorf("used_memory %d after FLUSHALL", m.used)
	}
}

// TestProcessMaxMemoryConfigSetLower: lowering maxmemory at run time
// evicts down to the new budget within seconds; CONFIG GET shows bytes.
func TestProcessMaxMemoryConfigSetLower(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 7 MiB")
	}
	const budget, lower = 8 << 20, 2 << 20
	_, c := startMemNode(t, t.TempDir(), "8mb", "allkeys-lru")
	ctx := context.Background()
	keys := mmKeys("cs", 0, int(7*(1<<20)/mmRecordBytes("cs:000000", mmValue(""), false)))
	if failed, err := mmWrite(t, c, keys, nil); failed > 0 {
		t.Fatal(err)
	}
	m := mmInfo(t, c)
	if m.evicted != 0 || m.used > budget || m.used < 6<<20 {
		t.Fatalf("before lowering the budget: %+v", m)
	}
	if err := c.ConfigSet(ctx, "maxmemory", "2mb").Err(); err != nil {
		t.Fatal(err)
	}
	if got := c.ConfigGet(ctx, "maxmemory").Val()["maxmemory"]; got != fmt.Sprint(lower) {
		t.Errorf("CONFIG GET maxmemory = %q, want %d", got, lower)
	}
	start := time.Now()
	used := awaitUsedAtMost(t, c, lower+evictMargin(lower), 5*time.Second)
	took := time.Since(start)
	settled := awaitUsedAtMost(t, c, lower, 5*time.Second)
	after := mmInfo(t, c)
	t.Logf("maxmemory 8mb -> 2mb: used_memory %d -> %d in %v, then %d; evicted_keys %d; DBSIZE %d",
		m.used, used, took.Round(time.Millisecond), settled, after.evicted, c.DBSize(ctx).Val())
	if after.max != lower {
		t.Errorf("INFO maxmemory %d, want %d", after.max, lower)
	}
	if after.evicted == 0 {
		t.Error("evicted_keys did not grow")
	}
	// Bytes are accepted too, and raising the budget evicts nothing more.
	if err := c.ConfigSet(ctx, "maxmemory", fmt.Sprint(64<<20)).Err(); err != nil {
		t.Fatal(err)
	}
	if got := c.ConfigGet(ctx, "maxmemory").Val()["maxmemory"]; got != fmt.Sprint(64<<20) {
		t.Errorf("CONFIG GET maxmemory = %q, want %d", got, 64<<20)
	}
	if failed, err := mmWrite(t, c, mmKeys("cs2", 0, 20000), nil); failed > 0 {
		t.Fatalf("writing under a raised budget: %v", err)
	}
	if m := mmInfo(t, c); m.evicted != after.evicted {
		t.Errorf("evicted_keys %d after raising the budget, was %d", m.evicted, after.evicted)
	}
}

// mmDatasetBytes is what used_memory should be for the node's dataset of
// string keys, by SCAN, GET and PTTL.
func mmDatasetBytes(t *testing.T, c *redis.Client) (int64, int) {
	t.Helper()
	ctx := context.Background()
	var keys []string
	iter := c.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var total int64
	for i := 0; i < len(keys); i += 500 {
		batch := keys[i:min(i+500, len(keys))]
		pipe := c.Pipeline()
		gets := make([]*redis.StringCmd, len(batch))
		ttls := make([]*redis.DurationCmd, len(batch))
		for j, k := range batch {
			gets[j] = pipe.Get(ctx, k)
			ttls[j] = pipe.PTTL(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for j, k := range batch {
			total += mmRecordBytes(k, gets[j].Val(), ttls[j].Val() > 0)
		}
	}
	return total, len(keys)
}

// TestProcessMaxMemoryRestartKeepsAccounting: used_memory after a restart
// on the same data directory is exactly what it was before, after SETs
// with and without TTLs, overwrites, DELs and evictions; and it is what
// the dataset's records add up to.
func TestProcessMaxMemoryRestartKeepsAccounting(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a node")
	}
	const budget = 2 << 20
	dir := t.TempDir()
	n, c := startMemNode(t, dir, "2mb", "allkeys-lru")
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	val := func(size int) string { return strings.Repeat("x", size) }
	keys := mmKeys("rs", 0, 6000)
	pipe := c.Pipeline()
	for i, k := range keys {
		if i%2 == 0 {
			pipe.Set(ctx, k, val(20+rng.IntN(200)), 0)
		} else {
			pipe.Set(ctx, k, val(20+rng.IntN(200)), time.Duration(2+rng.IntN(20))*time.Hour)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	// Overwrites: larger and smaller values, with and without TTLs.
	pipe = c.Pipeline()
	for i := 0; i < 3000; i++ {
		k := keys[rng.IntN(len(keys))]
		if rng.IntN(2) == 0 {
			pipe.Set(ctx, k, val(rng.IntN(300)), 0)
		} else {
			pipe.Set(ctx, k, val(rng.IntN(300)), 3*time.Hour)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	// Deletes, some of keys already gone.
	dels := make([]string, 0, 1500)
	for range 1500 {
		dels = append(dels, keys[rng.IntN(len(keys))])
	}
	if err := c.Del(ctx, dels...).Err(); err != nil {
		t.Fatal(err)
	}
	// Evictions: write past the budget.
	m := mmInfo(t, c)
	more := mmKeys("rs-more", 0, int((budget-m.used+budget/2)/mmRecordBytes("rs-more:000000", mmValue(""), false)))
	if failed, err := mmWrite(t, c, more, func(i int) time.Duration {
		if i%3 == 0 {
			return time.Duration(1+i%5) * time.Hour
		}
		return 0
	}); failed > 0 {
		t.Fatal(err)
	}
	awaitUsedAtMost(t, c, budget, 5*time.Second)
	// More overwrites and deletes within the budget, evicting nothing.
	pipe = c.Pipeline()
	for i := 0; i < 500; i++ {
		k := more[rng.IntN(len(more))]
		pipe.Set(ctx, k, val(rng.IntN(50)), 0)
	}
	pipe.Del(ctx, more[:300]...)
	// Expiries set and removed, appends and counters change records in
	// place.
	for i := 0; i < 300; i++ {
		pipe.Expire(ctx, keys[2*i], time.Duration(1+i%7)*time.Hour)
		pipe.Persist(ctx, keys[2*i+1001])
		pipe.Append(ctx, keys[3*i+2], strings.Repeat("a", i%40))
	}
	for i := 0; i < 100; i++ {
		pipe.IncrBy(ctx, fmt.Sprintf("rs-counter:%d", i%10), int64(i*i))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	before := mmInfo(t, c)
	if before.evicted == 0 {
		t.Fatalf("nothing evicted: %+v", before)
	}
	want, count := mmDatasetBytes(t, c)
	size := c.DBSize(ctx).Val()
	if again := mmInfo(t, c); again.used != before.used {
		t.Fatalf("used_memory moved with writes stopped: %d then %d", before.used, again.used)
	}
	if want != before.used || int64(count) != size {
		t.Errorf("before the restart: used_memory %d, the %d keys (DBSIZE %d) add up to %d", before.used, count, size, want)
	}
	if err := n.stop(); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, n.logText())
	}
	startNode(t, n.addr, "--data-dir", dir, "--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru")
	c = redis.NewClient(&redis.Options{Addr: n.addr, MaxRetries: -1})
	defer c.Close()
	after := mmInfo(t, c)
	t.Logf("restart: used_memory %d before, %d after (dataset adds up to %d; DBSIZE %d, then %d); evicted_keys %d before",
		before.used, after.used, want, size, c.DBSize(ctx).Val(), before.evicted)
	if after.used != before.used {
		t.Errorf("used_memory %d after the restart, %d before", after.used, before.used)
	}
	if got := c.DBSize(ctx).Val(); got != size {
		t.Errorf("DBSIZE %d after the restart, %d before", got, size)
	}
	if after.evicted != 0 {
		t.Errorf("the restarted node evicted %d keys", after.evicted)
	}
}

// TestProcessObjectDoesNotTouch: OBJECT IDLETIME and OBJECT FREQ look at
// a key without counting as an access to it (Redis's LOOKUP_NOTOUCH).
func TestProcessObjectDoesNotTouch(t *testing.T) {
	if testing.Short() {
		t.Skip("real process")
	}
	_, c := startMemNode(t, t.TempDir(), "4mb", "allkeys-lru")
	ctx := context.Background()
	if err := c.Set(ctx, "idle", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	for range 2 {
		if idle, err := c.ObjectIdleTime(ctx, "idle").Result(); err != nil || idle < 2*time.Second {
			t.Fatalf("OBJECT IDLETIME = %v, %v; want at least 2s", idle, err)
		}
	}
	if err := c.ConfigSet(ctx, "maxmemory-policy", "allkeys-lfu").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "freq", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if f, err := c.ObjectFreq(ctx, "freq").Result(); err != nil || f != 5 {
			t.Fatalf("OBJECT FREQ of a new key = %d, %v; want 5 however often asked", f, err)
		}
	}
}
