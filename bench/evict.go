package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Eviction under a memory budget. RunEviction starts one ringcache node
// and then redis-server, never both at once, each fresh with the same
// --maxmemory and --maxmemory-policy (allkeys-lru unless told), and runs
// the same phases against each:
//
//	set-not-full  SETs of fresh keys (uniform over FreshKeys) filling
//	              about NotFull of the budget: the write rate with room
//	fill          more fresh-key SETs until Fill times the keys that fit
//	              were written: the budget is reached and eviction runs
//	set-full      as many fresh-key SETs as set-not-full, every one of
//	              them now evicting: the write rate when full
//	zipf-mix      WarmupOps, then MixOps measured, of the GET/SET Mix
//	              over Keyspace keys drawn from a Zipf distribution, at
//	              pipeline depth 1: the hit rate the eviction policy keeps
//
// After every phase it reads used_memory and evicted_keys (INFO), and at
// the end the server's RSS (/proc), DBSIZE and maxmemory. The ratios it
// reports are set-full over set-not-full per target, and ringcache's
// zipf-mix hit rate over redis-server's.
//
// With NoBudget, a third target follows: ringcache without a budget, its
// row cache the budget's size, and other phases:
//
//	set-not-full   as above
//	fill           the keys a full budget holds, less set-not-full's,
//	               written in turn until as many SETs as the others' fill
//	set-overwrite  as many SETs as set-not-full, uniform over those keys:
//	               every one an overwrite, so nothing grows and nothing
//	               is evicted
//
// Its set-overwrite rate is what a full node's SET rate would be if
// eviction cost nothing: the same store size, the same write per SET.
// Its ratio to its set-not-full is the ceiling of ringcache's
// set-full / set-not-full on this machine.

// Eviction phases, in order.
const (
	PhaseSetNotFull = "set-not-full"
	PhaseFill       = "fill"
	PhaseSetFull    = "set-full"
	PhaseZipfMix    = "zipf-mix"
	// PhaseSetOverwrite is the no-budget target's: see NoBudget.
	PhaseSetOverwrite = "set-overwrite"
)

// Eviction target names.
const (
	EvictRingcache = "ringcache"
	EvictRedis     = "redis-server"
	// EvictNoBudget is ringcache without a budget (NoBudget).
	EvictNoBudget = "no-budget"
)

// EvictionPhase is one phase's figures on one target.
type EvictionPhase struct {
	Name       string  `json:"name"`
	Ops        int64   `json:"ops"`
	Seconds    float64 `json:"secs"`
	OpsPerSec  float64 `json:"ops_per_sec"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	// P99 and Max are the 99th percentile and the longest round trip of
	// a batch, milliseconds: the longest is the longest a write waited
	// for eviction.
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
	// Gets, Misses and HitRate (1 - Misses/Gets) are the zipf-mix's.
	Gets    int64   `json:"gets,omitempty"`
	Misses  int64   `json:"misses,omitempty"`
	HitRate float64 `json:"hit_rate,omitempty"`
	// UsedMemory and EvictedKeys are INFO's at the end of the phase.
	UsedMemory  int64 `json:"used_memory"`
	EvictedKeys int64 `json:"evicted_keys"`
}

// EvictionTarget is everything measured on one target.
type EvictionTarget struct {
	Name   string          `json:"name"`
	Phases []EvictionPhase `json:"phases"`
	// RSS, UsedMemory, MaxMemory, EvictedKeys and Keys (DBSIZE) are read
	// at the end of the run.
	RSS         int64 `json:"rss"`
	UsedMemory  int64 `json:"used_memory"`
	MaxMemory   int64 `json:"maxmemory"`
	EvictedKeys int64 `json:"evicted_keys"`
	Keys        int64 `json:"keys"`
	// SetFullRatio is set-full ops/s over set-not-full ops/s
	// (set-overwrite's for the no-budget target).
	SetFullRatio float64 `json:"set_full_ratio"`
}

// fullPhase is the phase the target's SetFullRatio is of: set-full, or
// set-overwrite for the no-budget target.
func (t EvictionTarget) fullPhase() EvictionPhase {
	if p := t.Phase(PhaseSetFull); p.Name != "" {
		return p
	}
	return t.Phase(PhaseSetOverwrite)
}

// Phase returns the named phase, or a zero one.
func (t EvictionTarget) Phase(name string) EvictionPhase {
	for _, p := range t.Phases {
		if p.Name == name {
			return p
		}
	}
	return EvictionPhase{}
}

// EvictionResult is what RunEviction measured.
type EvictionResult struct {
	MaxMemory   int64   `json:"maxmemory"`
	Policy      string  `json:"policy"`
	ValueSize   int     `json:"value_size"`
	Conns       int     `json:"conns"`
	Pipeline    int     `json:"pipeline"`
	Fill        float64 `json:"fill"`
	KeysThatFit int64   `json:"keys_that_fit"`
	SetOps      int64   `json:"set_ops"`
	FillOps     int64   `json:"fill_ops"`
	FreshKeys   int     `json:"fresh_keys"`
	Keyspace    int     `json:"zipf_keyspace"`
	ZipfS       float64 `json:"zipf_s"`
	Mix         string  `json:"mix"`
	WarmupOps   int64   `json:"warmup_ops"`
	MixOps      int64   `json:"mix_ops"`
	// Targets holds each target's figures, in the order run.
	Targets []EvictionTarget `json:"targets"`
	// HitRateRatio is ringcache's zipf-mix hit rate over redis-server's
	// (0 when either is missing).
	HitRateRatio float64 `json:"hit_rate_ratio"`
}

// Target returns the named target's figures and whether it was measured.
func (r EvictionResult) Target(name string) (EvictionTarget, bool) {
	for _, t := range r.Targets {
		if t.Name == name {
			return t, true
		}
	}
	return EvictionTarget{}, false
}

// ratio returns a/b, or 0 when b is not positive.
func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// computeRatios fills SetFullRatio of every target and HitRateRatio.
func (r *EvictionResult) computeRatios() {
	for i := range r.Targets {
		t := &r.Targets[i]
		t.SetFullRatio = ratio(t.fullPhase().OpsPerSec, t.Phase(PhaseSetNotFull).OpsPerSec)
	}
	rc, ok1 := r.Target(EvictRingcache)
	rd, ok2 := r.Target(EvictRedis)
	r.HitRateRatio = 0
	if ok1 && ok2 {
		r.HitRateRatio = ratio(rc.Phase(PhaseZipfMix).HitRate, rd.Phase(PhaseZipfMix).HitRate)
	}
}

// overBudget returns how far used exceeds the budget plus the slack an
// approximate accounting is allowed (1/64 of it and 256 KiB); 0 if not.
func overBudget(used, budget int64) int64 {
	if budget <= 0 {
		return 0
	}
	return max(0, used-(budget+budget/64+256<<10))
}

// WriteText prints the result as tables.
func (r EvictionResult) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("eviction: maxmemory %s (%d bytes), %s; values of %d bytes, ~%d keys fit at %d bytes each; %d conns\n",
		FormatBytes(r.MaxMemory), r.MaxMemory, r.Policy, r.ValueSize, r.KeysThatFit, loadKeyLen+r.ValueSize+evictKeyOverhead, r.Conns)
	ew.printf("SET phases: pipeline %d, fresh keys uniform over %d; set-not-full and set-full %d SETs each, fill %d SETs (%.3gx the keys that fit in all)\n",
		r.Pipeline, r.FreshKeys, r.SetOps, r.FillOps, r.Fill)
	ew.printf("zipf-mix: %s, zipf s=%.3g over %d keys, pipeline 1, %d commands of warm-up then %d measured\n\n",
		r.Mix, r.ZipfS, r.Keyspace, r.WarmupOps, r.MixOps)
	ew.printf("%-13s %-13s %10s %7s %11s %7s %8s %8s %8s %12s %12s\n",
		"target", "phase", "ops", "secs", "ops/s", "errors", "p99ms", "maxms", "hit%", "used_memory", "evicted_keys")
	for _, t := range r.Targets {
		for _, p := range t.Phases {
			hit := "-"
			if p.Name == PhaseZipfMix {
				hit = fmt.Sprintf("%.2f", 100*p.HitRate)
			}
			ew.printf("%-13s %-13s %10d %7.2f %11.0f %7d %8.3f %8.1f %8s %12d %12d\n", t.Name, p.Name,
				p.Ops, p.Seconds, p.OpsPerSec, p.Errors, p.P99, p.Max, hit, p.UsedMemory, p.EvictedKeys)
		}
	}
	ew.printf("\n%-13s %10s %12s %12s %10s %12s %9s\n", "target", "rss MB", "used_memory", "maxmemory", "keys", "evicted_keys", "used/max")
	for _, t := range r.Targets {
		ew.printf("%-13s %10.1f %12d %12d %10d %12d %9.3f\n", t.Name, float64(t.RSS)/(1<<20), t.UsedMemory, t.MaxMemory,
			t.Keys, t.EvictedKeys, ratio(float64(t.UsedMemory), float64(t.MaxMemory)))
	}
	for _, t := range r.Targets {
		for _, p := range t.Phases {
			if p.FirstError != "" {
				ew.printf("%s %s: %d errors, first: %s\n", t.Name, p.Name, p.Errors, p.FirstError)
			}
			if over := overBudget(p.UsedMemory, r.MaxMemory); over > 0 {
				ew.printf("%s %s: used_memory %d exceeds maxmemory %d by %d bytes (more than 1/64 + 256 KiB)\n",
					t.Name, p.Name, p.UsedMemory, r.MaxMemory, p.UsedMemory-r.MaxMemory)
			}
		}
	}
	ew.printf("\nratios:\n")
	for _, t := range r.Targets {
		ew.printf("  %-13s %s\n", t.Name, ratioLabel(t.Name, t.SetFullRatio))
	}
	rc, ok1 := r.Target(EvictRingcache)
	rd, ok2 := r.Target(EvictRedis)
	if ok1 && ok2 {
		hc, hd := rc.Phase(PhaseZipfMix).HitRate, rd.Phase(PhaseZipfMix).HitRate
		ew.printf("  zipf-mix hit rate: %s %.2f%% vs %s %.2f%%: %.4fx, %+.2f points (target: >= %s)\n",
			EvictRingcache, 100*hc, EvictRedis, 100*hd, r.HitRateRatio, 100*(hc-hd), EvictRedis)
	}
	return ew.err
}

// ratioLabel describes a target's SetFullRatio x.
func ratioLabel(name string, x float64) string {
	switch name {
	case EvictRingcache:
		return fmt.Sprintf("set-full / set-not-full: %.3fx (target >= 0.8x)", x)
	case EvictNoBudget:
		return fmt.Sprintf("set-overwrite / set-not-full: %.3fx (the ceiling of ringcache's ratio: a write at the budget's size that evicts nothing)", x)
	}
	return fmt.Sprintf("set-full / set-not-full: %.3fx", x)
}

// RunEviction runs the experiment described at the top of this file. It
// returns what it measured so far with the first error; every process it
// starts is stopped before it returns.
func RunEviction(ctx context.Context, cfg EvictionConfig) (res EvictionResult, err error) {
	if err := cfg.Validate(); err != nil {
		return res, err
	}
	targets := cfg.Targets
	if targets == nil {
		for _, b := range []string{cfg.RingcacheBin, cfg.RedisServer} {
			if _, err := exec.LookPath(b); err != nil {
				return res, fmt.Errorf("bench: evict: %w", err)
			}
		}
		mm := strconv.FormatInt(cfg.MaxMemory, 10)
		targets = []Target{
			NewRingcacheTarget(EvictRingcache, cfg.RingcacheBin, "--maxmemory", mm, "--maxmemory-policy", cfg.Policy),
			NewRedisTarget(EvictRedis, cfg.RedisServer, "--maxmemory", mm, "--maxmemory-policy", cfg.Policy, "--appendonly", "no"),
		}
		if cfg.NoBudget {
			// The row cache a budget of mm gives ringcache (at most mm).
			targets = append(targets, NewRingcacheTarget(EvictNoBudget, cfg.RingcacheBin, "--row-cache-size", mm))
		}
	}
	p := cfg.plan()
	res = EvictionResult{MaxMemory: cfg.MaxMemory, Policy: cfg.Policy, ValueSize: cfg.ValueSize, Conns: cfg.Conns, Pipeline: cfg.Pipeline,
		Fill: cfg.Fill, KeysThatFit: p.fit, SetOps: p.setOps, FillOps: p.fillOps, FreshKeys: cfg.FreshKeys,
		Keyspace: p.keyspace, ZipfS: cfg.ZipfS, Mix: cfg.Mix.String(), WarmupOps: cfg.WarmupOps,
		MixOps: cfg.MixOps}
	defer res.computeRatios()
	for _, t := range targets {
		tr, err := evictTarget(ctx, cfg, p, t)
		if tr.Name != "" {
			res.Targets = append(res.Targets, tr)
		}
		if err != nil {
			return res, fmt.Errorf("bench: evict: %s: %w", t.Name(), err)
		}
	}
	return res, nil
}

// evictTarget starts t, runs the phases against it, and stops it.
func evictTarget(ctx context.Context, cfg EvictionConfig, p evictionPlan, t Target) (res EvictionTarget, err error) {
	addr, pid, stop, err := startTarget(ctx, cfg.Log, t)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, stop()) }()
	res.Name = t.Name()
	admin := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1, PoolSize: 1})
	defer admin.Close()

	sets := func(ops int64, seed uint64) Config {
		lc := DefaultConfig()
		lc.Addr, lc.Mix, lc.Dist, lc.Keys = addr, Mix{Set: 1}, DistUniform, cfg.FreshKeys
		lc.Ops, lc.ValueSize, lc.Conns, lc.Pipeline = ops, cfg.ValueSize, cfg.Conns, cfg.Pipeline
		lc.Seed, lc.Timeout = seed, 30*time.Second
		return lc
	}
	mix := func(ops int64, seed uint64) Config {
		lc := DefaultConfig()
		lc.Addr, lc.Mix, lc.Dist, lc.Keys, lc.ZipfS = addr, cfg.Mix, DistZipfian, p.keyspace, cfg.ZipfS
		lc.Ops, lc.ValueSize, lc.Conns, lc.Pipeline = ops, cfg.ValueSize, cfg.Conns, 1
		lc.Seed, lc.Timeout = seed, 30*time.Second
		return lc
	}
	// Every run gets its own seed: two runs with one seed would draw the
	// same keys, and a "fresh" key would be an overwrite.
	base := cfg.Seed * 16
	type phase struct {
		name   string
		warmup *Config
		lc     Config
	}
	phases := []phase{{PhaseSetNotFull, nil, sets(p.setOps, base+1)}}
	if t.Name() == EvictNoBudget {
		// The keys a full budget holds besides set-not-full's, written in
		// turn, then overwritten at random.
		over := func(ops int64, dist string, seed uint64) Config {
			lc := sets(ops, seed)
			lc.Dist, lc.Keys = dist, p.overwriteKeys
			return lc
		}
		phases = append(phases,
			phase{PhaseFill, nil, over(p.fillOps, DistSequential, base+2)},
			phase{PhaseSetOverwrite, nil, over(p.setOps, DistUniform, base+3)})
	} else {
		zipf := phase{PhaseZipfMix, nil, mix(cfg.MixOps, base+5)}
		if cfg.WarmupOps > 0 {
			w := mix(cfg.WarmupOps, base+4)
			zipf.warmup = &w
		}
		phases = append(phases,
			phase{PhaseFill, nil, sets(p.fillOps, base+2)},
			phase{PhaseSetFull, nil, sets(p.setOps, base+3)},
			zipf)
	}
	for _, ph := range phases {
		if ph.warmup != nil {
			logf(cfg.Log, "%s %s: warm-up of %d commands\n", t.Name(), ph.name, cfg.WarmupOps)
			if _, err := Run(ctx, *ph.warmup); err != nil {
				return res, fmt.Errorf("%s warm-up: %w", ph.name, err)
			}
		}
		if ph.lc.Ops > 0 {
			logf(cfg.Log, "%s %s: %d SETs\n", t.Name(), ph.name, ph.lc.Ops)
		} else {
			logf(cfg.Log, "%s %s: %v\n", t.Name(), ph.name, ph.lc.Duration)
		}
		r, err := Run(ctx, ph.lc)
		if err != nil {
			return res, fmt.Errorf("%s: %w", ph.name, err)
		}
		ep := phaseOf(ph.name, r)
		if ep.UsedMemory, ep.EvictedKeys, err = memoryInfo(ctx, admin); err != nil {
			return res, err
		}
		logf(cfg.Log, "%s %s: %.0f ops/s, %d errors, used_memory %d, evicted_keys %d\n",
			t.Name(), ph.name, ep.OpsPerSec, ep.Errors, ep.UsedMemory, ep.EvictedKeys)
		res.Phases = append(res.Phases, ep)
	}
	if res.RSS, err = ReadRSS(pid); err != nil {
		return res, err
	}
	mem, err := admin.Info(ctx, "memory").Result()
	if err != nil {
		return res, fmt.Errorf("INFO memory: %w", err)
	}
	res.MaxMemory, _ = strconv.ParseInt(ParseInfo(mem)["maxmemory"], 10, 64)
	if res.UsedMemory, res.EvictedKeys, err = memoryInfo(ctx, admin); err != nil {
		return res, err
	}
	if res.Keys, err = admin.DBSize(ctx).Result(); err != nil {
		return res, fmt.Errorf("DBSIZE: %w", err)
	}
	return res, nil
}

// phaseOf turns a load-generator result into a phase's figures.
func phaseOf(name string, r Result) EvictionPhase {
	p := EvictionPhase{Name: name, Ops: r.Ops, Seconds: r.ElapsedSec, OpsPerSec: r.OpsPerSec,
		Errors: r.Errors, FirstError: r.FirstError, P99: r.Latency.P99, Max: r.Latency.Max}
	if g, ok := r.PerOp["get"]; ok && g.Ops > 0 {
		p.Gets, p.Misses = g.Ops, g.Misses
		p.HitRate = 1 - float64(g.Misses)/float64(g.Ops)
	}
	return p
}

// memoryInfo reads used_memory (INFO memory) and evicted_keys (INFO stats),
// one section per INFO so a server that takes one section only answers.
func memoryInfo(ctx context.Context, c *redis.Client) (used, evicted int64, err error) {
	fields := map[string]string{}
	for _, section := range []string{"memory", "stats"} {
		text, err := c.Info(ctx, section).Result()
		if err != nil {
			return 0, 0, fmt.Errorf("INFO %s: %w", section, err)
		}
		for k, v := range ParseInfo(text) {
			fields[k] = v
		}
	}
	used, err1 := strconv.ParseInt(fields["used_memory"], 10, 64)
	evicted, err2 := strconv.ParseInt(fields["evicted_keys"], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("%w: INFO used_memory %q, evicted_keys %q", ErrParse, fields["used_memory"], fields["evicted_keys"])
	}
	return used, evicted, nil
}

// EvictionRuns is several runs of the experiment, each with fresh
// servers and its own seed. One run's set-not-full phase lasts about a
// second, so a single ratio moves by a tenth or more from run to run;
// the medians of several are the figures to quote.
type EvictionRuns []EvictionResult

// Medians returns, over the runs that measured them, the median
// set-full / set-not-full ratio of each target (by name) and the median
// hit-rate ratio (NaN when no run measured both hit rates).
func (rs EvictionRuns) Medians() (setFull map[string]float64, hitRate float64) {
	setFull = map[string]float64{}
	byTarget := map[string][]float64{}
	var hits []float64
	for _, r := range rs {
		for _, t := range r.Targets {
			if t.SetFullRatio > 0 { // 0: the run failed before set-full
				byTarget[t.Name] = append(byTarget[t.Name], t.SetFullRatio)
			}
		}
		if r.HitRateRatio > 0 {
			hits = append(hits, r.HitRateRatio)
		}
	}
	for name, xs := range byTarget {
		setFull[name] = Median(xs)
	}
	return setFull, Median(hits)
}

// WriteText prints every run's tables, then each run's ratios in one
// line per target and their medians.
func (rs EvictionRuns) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	for i, r := range rs {
		ew.printf("=== run %d\n", i+1)
		if err := r.WriteText(w); err != nil {
			return err
		}
		ew.printf("\n")
	}
	if len(rs) < 2 {
		return ew.err
	}
	ew.printf("=== %d runs\n", len(rs))
	ew.printf("%-13s %13s %13s %13s %8s\n", "target", "not full/s", "full/s", "full/not full", "hit%")
	for _, r := range rs {
		for _, t := range r.Targets {
			hit := "-"
			if mix := t.Phase(PhaseZipfMix); mix.Name != "" {
				hit = fmt.Sprintf("%.2f", 100*mix.HitRate)
			}
			ew.printf("%-13s %13.0f %13.0f %13.3f %8s\n", t.Name, t.Phase(PhaseSetNotFull).OpsPerSec,
				t.fullPhase().OpsPerSec, t.SetFullRatio, hit)
		}
	}
	setFull, hit := rs.Medians()
	names := make([]string, 0, len(setFull))
	for name := range setFull {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		ew.printf("median %-13s %s\n", name, ratioLabel(name, setFull[name]))
	}
	if hit > 0 {
		ew.printf("median hit-rate ratio %s / %s: %.4fx (target >= 1)\n", EvictRingcache, EvictRedis, hit)
	}
	return ew.err
}
