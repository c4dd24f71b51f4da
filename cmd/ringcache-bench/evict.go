package main

import (
	"context"
	"errors"
	"flag"
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
	fs.Var((*byteFlag)(&cfg.MaxMemory), "maxmemory", "both servers' --maxmemory (allkeys-lru), `bytes` or 64mb, 1gb")
	fs.IntVar(&cfg.ValueSize, "value-size", cfg.ValueSize, "SET value size in `bytes`")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "load generator connections")
	fs.IntVar(&cfg.Pipeline, "pipeline", cfg.Pipeline, "pipeline depth of the SET phases (zipf-mix runs at 1)")
	fs.Float64Var(&cfg.Fill, "fill", cfg.Fill, "SET volume of the fill, as a multiple of the budget")
	fs.IntVar(&cfg.Keyspace, "keyspace", cfg.Keyspace, "zipf-mix key space; 0: 3x the keys that fit in the budget")
	fs.Float64Var(&cfg.ZipfS, "zipf-s", cfg.ZipfS, "zipf-mix Zipf exponent")
	fs.Int64Var(&cfg.WarmupOps, "warmup-ops", cfg.WarmupOps, "unmeasured zipf-mix commands before the measured ones")
	fs.Int64Var(&cfg.MixOps, "mix-ops", cfg.MixOps, "measured zipf-mix commands (90% GET, 10% SET), the same count for both servers")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	quiet := fs.Bool("quiet", false, "no progress messages on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !*quiet {
		cfg.Log = stderr
	}
	res, err := bench.RunEviction(ctx, cfg)
	if errors.Is(err, bench.ErrInvalidConfig) {
		return err
	}
	// A run that fails part-way still shows what it measured, then fails.
	return errors.Join(err, writeResult(stdout, *asJSON, len(res.Targets) > 0, res))
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
