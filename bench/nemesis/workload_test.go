package nemesis

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/bench/await"
	"github.com/ringcache/ringcache/bench/loopback"
)

func TestRing(t *testing.T) {
	var r ring
	rng := rand.New(rand.NewPCG(1, 2))
	if got := r.pick(rng); got != "" {
		t.Fatalf("empty ring picked %q", got)
	}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		r.add(k, 3)
	}
	got := slices.Clone(r.keys)
	slices.Sort(got)
	if !slices.Equal(got, []string{"c", "d", "e"}) {
		t.Fatalf("ring holds %v, want the last 3", r.keys)
	}
	for range 20 {
		if k := r.pick(rng); !slices.Contains(got, k) {
			t.Fatalf("picked %q", k)
		}
	}
}

func TestKeyPoolPickInsert(t *testing.T) {
	var p keyPool
	rng := rand.New(rand.NewPCG(1, 2))
	if got := p.pickInsert(rng); got != "" {
		t.Fatalf("empty pool picked %q", got)
	}
	p.addInsert("ins:0:1")
	if got := p.pickInsert(rng); got != "ins:0:1" {
		t.Fatalf("picked %q", got)
	}
}

func TestValue(t *testing.T) {
	w := &workload{cfg: WorkloadConfig{ValueSize: 16}}
	if v := w.value("ins:1:2"); len(v) != 16 || v[:8] != "ins:1:2=" {
		t.Fatalf("value %q", v)
	}
	if v := w.value("a-key-longer-than-16"); v != "a-key-longer-than-16" {
		t.Fatalf("long key value %q", v)
	}
	if w.value("ins:1:2") == w.value("ins:1:3") {
		t.Fatal("two keys, one value")
	}
}

// TestWorkloadSendsEveryVariant runs the workload for a moment against a
// redis-server and checks that every command of Variants (and FLUSHDB)
// went out and succeeded, in databases 0, DB and FlushDB, with its Kind's
// effect: each register reads back its last write, each deleted key reads
// back nil.
func TestWorkloadSendsEveryVariant(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is not installed (CI must install it)")
		}
		t.Skip("redis-server not installed")
	}
	addr, err := loopback.Addr()
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addr)
	srv := exec.Command(bin, "--bind", host, "--port", port, "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	if err := await.Poll(context.Background(), 10*time.Second, 50*time.Millisecond, func() error {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig().Workload
	w := startWorkload(context.Background(), cfg, []string{addr}, newServingSet([]int{0}), time.Now())
	time.Sleep(1500 * time.Millisecond)
	ops := w.stop()
	sent := map[string]int{}
	last := map[string]Op{} // each key's last write
	for _, op := range ops {
		if !op.OK() {
			t.Fatalf("%+v failed against redis-server", op)
		}
		cmd := cmp.Or(op.Cmd, string(op.Kind))
		sent[cmd]++
		if op.isWrite() {
			last[op.Key] = op
		}
	}
	for kind, cmds := range Variants {
		for _, cmd := range cmds {
			if sent[cmd] == 0 {
				t.Errorf("no %s sent for %s (sent %v)", cmd, kind, sent)
			}
		}
	}
	dbs := map[int]bool{}
	for key, op := range last {
		dbs[KeyDB(key)] = true
		c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DB: KeyDB(key)})
		got, err := c.Get(context.Background(), key).Result()
		c.Close()
		switch {
		case op.Kind == Del && !errors.Is(err, redis.Nil):
			t.Fatalf("%s after %s: %q, %v; want nil", key, cmp.Or(op.Cmd, "DEL"), got, err)
		case op.Kind == Set && (err != nil || got != op.Value):
			t.Fatalf("%s after %s %q: %q, %v", key, cmp.Or(op.Cmd, "SET"), op.Value, got, err)
		}
	}
	if sent["FLUSHDB"] == 0 || !dbs[0] || !dbs[cfg.DB] || !dbs[cfg.FlushDB] {
		t.Errorf("sent %d FLUSHDB, wrote in databases %v; want FLUSHDB, and writes in 0, %d and %d", sent["FLUSHDB"], dbs, cfg.DB, cfg.FlushDB)
	}
	t.Logf("sent %v", sent)
}
