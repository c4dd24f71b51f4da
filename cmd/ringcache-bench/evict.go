package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/ringcache/ringcache/bench"
)

// runEvict measures eviction under a memory budget, ringcache then
// redis-server: see bench.RunEviction.
func runEvict(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := bench.DefaultEvictionConfig()
	fs := flag.NewFlagSet("evict", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.RingcacheBin, "ringcache-bin", cfg.RingcacheBin, "ringcache binary")
	fs.StringVar(&cfg.RedisServer, "redis-server", cfg.RedisServer, "redis-server binary")
	fs.Var((*byteFlag)(&cfg.MaxMemory), "maxmemory", "both servers' --maxmemory, `bytes` or 64mb, 1gb")
	fs.StringVar(&cfg.Policy, "policy", cfg.Policy, "both servers' --maxmemory-policy: allkeys-lru, allkeys-lfu or allkeys-random")
	fs.IntVar(&cfg.ValueSize, "value-size", cfg.ValueSize, "SET value size in `bytes`")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "load generator connections")
	fs.IntVar(&cfg.Pipeline, "pipeline", cfg.Pipeline, "pipeline depth of the SET phases (zipf-mix runs at 1)")
	fs.Float64Var(&cfg.Fill, "fill", cfg.Fill, "SET volume of the fill, as a multiple of the budget")
	fs.IntVar(&cfg.Keyspace, "keyspace", cfg.Keyspace, "zipf-mix key space; 0: 3x the keys that fit in the budget")
	fs.Float64Var(&cfg.ZipfS, "zipf-s", cfg.ZipfS, "zipf-mix Zipf exponent")
	fs.Int64Var(&cfg.WarmupOps, "warmup-ops", cfg.WarmupOps, "unmeasured zipf-mix commands before the measured ones")
	fs.Int64Var(&cfg.MixOps, "mix-ops", cfg.MixOps, "measured zipf-mix commands (90% GET, 10% SET), the same count for both servers")
	fs.BoolVar(&cfg.NoBudget, "no-budget", cfg.NoBudget, "also run ringcache without a budget, overwriting a dataset the budget's size: the ceiling of its set-full / set-not-full")
	runs := fs.Int("runs", 1, "runs of the whole experiment, fresh servers and seed each; more than 1 adds the medians (and -json prints an array of the runs)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	quiet := fs.Bool("quiet", false, "no progress messages on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !*quiet {
		cfg.Log = stderr
	}
	if *runs < 1 {
		return fmt.Errorf("%w: evict: runs %d must be at least 1", bench.ErrInvalidConfig, *runs)
	}
	var all bench.EvictionRuns
	var err error
	for i := range *runs {
		cfg.Seed = uint64(i + 1)
		var res bench.EvictionResult
		res, err = bench.RunEviction(ctx, cfg)
		if errors.Is(err, bench.ErrInvalidConfig) {
			return err
		}
		if len(res.Targets) > 0 {
			all = append(all, res)
		}
		if err != nil {
			break
		}
	}
	// A run that fails part-way still shows what it measured, then fails.
	if *runs == 1 && len(all) == 1 {
		return errors.Join(err, writeResult(stdout, *asJSON, true, all[0]))
	}
	return errors.Join(err, writeResult(stdout, *asJSON, len(all) > 0, all))
}

// byteFlag is a byte count flag that takes 67108864 or 64mb.
type byteFlag int64

func (b *byteFlag) Set(s string) error {
	n, err := bench.ParseBytes(s)
	if err != nil {
		return err
	}
	*b = byteFlag(n)
	return nil
}

func (b *byteFlag) String() string { return bench.FormatBytes(int64(*b)) }
