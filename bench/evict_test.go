package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

func TestEvictionConfigValidate(t *testing.T) {
	d := DefaultEvictionConfig()
	if err := d.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if d.MaxMemory != 64<<20 || d.ValueSize != 100 || d.Conns != 50 || d.Pipeline != 16 || d.Fill != 10 ||
		d.ZipfS != 0.99 || d.MixOps != 600_000 || d.WarmupOps != 300_000 || d.Mix != (Mix{Get: 0.9, Set: 0.1}) || d.Policy != "allkeys-lru" {
		t.Errorf("defaults %+v", d)
	}
	for _, mod := range []func(*EvictionConfig){
		func(c *EvictionConfig) { c.RingcacheBin = "" },
		func(c *EvictionConfig) { c.RedisServer = "" },
		func(c *EvictionConfig) { c.MaxMemory = 0 },
		func(c *EvictionConfig) { c.MaxMemory = 100 }, // no key fits
		func(c *EvictionConfig) { c.ValueSize = 0 },
		func(c *EvictionConfig) { c.Conns = 0 },
		func(c *EvictionConfig) { c.Pipeline = 0 },
		func(c *EvictionConfig) { c.Fill = 0.5 },
		func(c *EvictionConfig) { c.NotFull = 1 },
		func(c *EvictionConfig) { c.Keyspace = -1 },
		func(c *EvictionConfig) { c.ZipfS = 0 },
		func(c *EvictionConfig) { c.MixOps = 0 },
		func(c *EvictionConfig) { c.WarmupOps = -1 },
		func(c *EvictionConfig) { c.Mix = Mix{} },
		func(c *EvictionConfig) { c.Policy = "volatile-lru" }, // the SETs set no TTL
		func(c *EvictionConfig) { c.Policy = "noeviction" },
		func(c *EvictionConfig) { c.Policy = "" },
	} {
		c := DefaultEvictionConfig()
		mod(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v, want ErrInvalidConfig", c, err)
		}
	}
	c := DefaultEvictionConfig()
	c.RingcacheBin, c.Targets = "", []Target{}
	if err := c.Validate(); err != nil {
		t.Errorf("explicit targets need no binaries: %v", err)
	}
}

func TestEvictionPlan(t *testing.T) {
	// "key:%012d" is 16 bytes: 16 + 100 + 64 = 180 bytes a key.
	if got := KeysThatFit(64<<20, 100); got != 67108864/180 {
		t.Errorf("KeysThatFit(64mb, 100) = %d", got)
	}
	p := DefaultEvictionConfig().plan()
	fit := int64(67108864 / 180)
	if p.fit != fit || p.setOps != int64(0.4*float64(fit)) || p.setOps+p.fillOps != 10*fit || p.keyspace != int(3*fit) ||
		int64(p.overwriteKeys)+p.setOps != fit {
		t.Errorf("plan %+v, fit %d", p, fit)
	}
	c := DefaultEvictionConfig()
	c.Keyspace = 1234
	if p := c.plan(); p.keyspace != 1234 {
		t.Errorf("explicit keyspace: %+v", p)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"1000": 1000, "64mb": 64 << 20, "2MB": 2 << 20, "512kb": 512 << 10, "1g": 1 << 30, " 7b ": 7} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "mb", "-1", "1.5mb", "64 potatoes"} {
		if _, err := ParseBytes(in); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("ParseBytes(%q): %v, want ErrInvalidConfig", in, err)
		}
	}
	for n, want := range map[int64]string{64 << 20: "64mb", 1536 << 10: "1536kb", 1000: "1000", 1 << 30: "1gb"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestOverBudget(t *testing.T) {
	budget := int64(64 << 20)
	slack := budget/64 + 256<<10
	for _, c := range []struct{ used, want int64 }{{0, 0}, {budget, 0}, {budget + slack, 0}, {budget + slack + 5, 5}} {
		if got := overBudget(c.used, budget); got != c.want {
			t.Errorf("overBudget(%d) = %d, want %d", c.used, got, c.want)
		}
	}
}

func sampleEviction() EvictionResult {
	tgt := func(name string, notFull, full, hit float64) EvictionTarget {
		return EvictionTarget{Name: name, RSS: 100 << 20, UsedMemory: 60 << 20, MaxMemory: 64 << 20, EvictedKeys: 900, Keys: 300,
			Phases: []EvictionPhase{
				{Name: PhaseSetNotFull, Ops: 1000, Seconds: 1, OpsPerSec: notFull},
				{Name: PhaseFill, Ops: 9000, Seconds: 9, OpsPerSec: 1000, UsedMemory: 64 << 20, EvictedKeys: 700},
				{Name: PhaseSetFull, Ops: 1000, Seconds: 1, OpsPerSec: full},
				{Name: PhaseZipfMix, Ops: 500, Seconds: 1, OpsPerSec: 500, Gets: 450, Misses: 45, HitRate: hit},
			}}
	}
	return EvictionResult{MaxMemory: 64 << 20, ValueSize: 100, Conns: 50, Pipeline: 16, Fill: 10, KeysThatFit: 1000,
		SetOps: 400, FillOps: 9600, FreshKeys: 1e9, Keyspace: 3000, ZipfS: 0.99, Mix: "get=90,set=10,del=0",
		WarmupOps: 300_000, MixOps: 600_000,
		Targets: []EvictionTarget{tgt(EvictRingcache, 1000, 900, 0.9), tgt(EvictRedis, 800, 400, 0.8)}}
}

func TestEvictionRatios(t *testing.T) {
	r := sampleEviction()
	r.computeRatios()
	rc, _ := r.Target(EvictRingcache)
	rd, _ := r.Target(EvictRedis)
	if rc.SetFullRatio != 0.9 || rd.SetFullRatio != 0.5 {
		t.Errorf("set-full ratios %v, %v; want 0.9, 0.5", rc.SetFullRatio, rd.SetFullRatio)
	}
	if r.HitRateRatio != 0.9/0.8 {
		t.Errorf("hit rate ratio %v, want %v", r.HitRateRatio, 0.9/0.8)
	}
	r.Targets = r.Targets[:1]
	r.computeRatios()
	if r.HitRateRatio != 0 {
		t.Errorf("hit rate ratio without redis-server: %v", r.HitRateRatio)
	}
	if ratio(1, 0) != 0 {
		t.Errorf("ratio(1, 0) = %v", ratio(1, 0))
	}
}

func TestEvictionWriteText(t *testing.T) {
	r := sampleEviction()
	r.Targets[0].Phases[1].UsedMemory = 70 << 20 // over the budget and its slack
	r.Targets[1].Phases[2].Errors, r.Targets[1].Phases[2].FirstError = 3, "OOM"
	r.computeRatios()
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"maxmemory 64mb (67108864 bytes)", "set-not-full", "zipf-mix", "90.00", "80.00",
		"ringcache     set-full / set-not-full: 0.900x (target >= 0.8x)",
		"redis-server  set-full / set-not-full: 0.500x",
		"ringcache 90.00% vs redis-server 80.00%: 1.1250x, +10.00 points",
		"redis-server set-full: 3 errors, first: OOM",
		"ringcache fill: used_memory 73400320 exceeds maxmemory 67108864",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in:\n%s", want, b.String())
		}
	}
	js, err := json.Marshal(r)
	if err != nil || !strings.Contains(string(js), `"set_full_ratio":0.9`) || !strings.Contains(string(js), `"hit_rate_ratio":1.125`) {
		t.Errorf("json %s, %v", js, err)
	}
}

// TestEvictionLive runs the whole scenario with tiny sizes against
// redis-server and, when it has been built, bin/ringcache.
func TestEvictionLive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	requireBinaries(t, "redis-server")
	t.Setenv("TMPDIR", t.TempDir())
	cfg := DefaultEvictionConfig()
	cfg.MaxMemory, cfg.Conns, cfg.Fill = 2<<20, 4, 3
	cfg.WarmupOps, cfg.MixOps = 5_000, 20_000
	mm := "2097152"
	cfg.Targets = []Target{NewRedisTarget(EvictRedis, "redis-server",
		"--maxmemory", mm, "--maxmemory-policy", "allkeys-lru", "--appendonly", "no")}
	if _, err := os.Stat("../bin/ringcache"); err == nil {
		cfg.Targets = append([]Target{NewRingcacheTarget(EvictRingcache, "../bin/ringcache",
			"--maxmemory", mm, "--maxmemory-policy", "allkeys-lru")}, cfg.Targets...)
		cfg.Targets = append(cfg.Targets, NewRingcacheTarget(EvictNoBudget, "../bin/ringcache", "--row-cache-size", mm))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := RunEviction(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Targets) != len(cfg.Targets) {
		t.Fatalf("%d targets measured, want %d", len(res.Targets), len(cfg.Targets))
	}
	for _, tr := range res.Targets {
		if tr.Name == EvictNoBudget {
			// Fresh keys, then overwrites of the keys a full budget holds:
			// nothing evicted, and about the budget stored.
			fit := KeysThatFit(cfg.MaxMemory, cfg.ValueSize)
			if len(tr.Phases) != 3 || tr.Phase(PhaseSetOverwrite).Ops == 0 || tr.SetFullRatio <= 0 || tr.MaxMemory != 0 ||
				tr.EvictedKeys != 0 || tr.Keys < fit*9/10 || tr.Keys > fit*11/10 {
				t.Errorf("%s: %+v (fit %d)", tr.Name, tr, fit)
			}
			continue
		}
		if len(tr.Phases) != 4 || tr.RSS <= 0 || tr.MaxMemory != 2<<20 || tr.SetFullRatio <= 0 {
			t.Errorf("%s: %+v", tr.Name, tr)
		}
		if tr.EvictedKeys == 0 {
			t.Errorf("%s: nothing evicted after writing %dx the budget", tr.Name, int(cfg.Fill))
		}
		if mix := tr.Phase(PhaseZipfMix); mix.Gets == 0 || mix.HitRate <= 0 || mix.HitRate > 1 {
			t.Errorf("%s zipf-mix: %+v", tr.Name, mix)
		}
	}
	var b bytes.Buffer
	if err := res.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", b.String())
}

func TestEvictionRunsMedians(t *testing.T) {
	run := func(rc, rd, hit float64) EvictionResult {
		r := EvictionResult{Targets: []EvictionTarget{
			{Name: EvictRingcache, Phases: []EvictionPhase{{Name: PhaseSetNotFull, OpsPerSec: 100}, {Name: PhaseSetFull, OpsPerSec: 100 * rc},
				{Name: PhaseZipfMix, HitRate: hit}}},
			{Name: EvictRedis, Phases: []EvictionPhase{{Name: PhaseSetNotFull, OpsPerSec: 100}, {Name: PhaseSetFull, OpsPerSec: 100 * rd},
				{Name: PhaseZipfMix, HitRate: 0.5}}},
		}}
		r.computeRatios()
		return r
	}
	rs := EvictionRuns{run(0.5, 0.9, 0.5), run(0.7, 0.6, 0.55), run(0.6, 0.7, 0.45)}
	rs[0].Targets = append(rs[0].Targets, EvictionTarget{Name: EvictNoBudget,
		Phases: []EvictionPhase{{Name: PhaseSetNotFull, OpsPerSec: 100}, {Name: PhaseSetOverwrite, OpsPerSec: 75}}})
	rs[0].computeRatios()
	setFull, hit := rs.Medians()
	if math.Abs(setFull[EvictRingcache]-0.6) > 1e-9 || math.Abs(setFull[EvictRedis]-0.7) > 1e-9 || math.Abs(hit-1) > 1e-9 {
		t.Fatalf("medians %v, hit %v; want ringcache 0.6, redis-server 0.7, hit 1", setFull, hit)
	}
	var b strings.Builder
	if err := rs.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if setFull[EvictNoBudget] != 0.75 {
		t.Errorf("no-budget median %v, want 0.75 (set-overwrite / set-not-full)", setFull[EvictNoBudget])
	}
	for _, want := range []string{"=== run 3\n", "median ringcache     set-full / set-not-full: 0.600x",
		"median no-budget     set-overwrite / set-not-full: 0.750x", "no-budget               100            75         0.750        -\n", "median hit-rate ratio ringcache / redis-server: 1.0000x"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}
