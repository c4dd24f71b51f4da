package main

import (
	"context"
	"errors"
	"flag"
	"io"

	"github.com/ringcache/ringcache/bench"
)

// runScaleOut measures a join under load: see bench.RunScaleOut.
func runScaleOut(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := bench.DefaultScaleOutConfig()
	fs := flag.NewFlagSet("scaleout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.RingcacheBin, "ringcache-bin", cfg.RingcacheBin, "ringcache binary")
	fs.IntVar(&cfg.Keys, "keys", cfg.Keys, "keys written before the load, and the load's key space")
	fs.IntVar(&cfg.ValueSize, "value-size", cfg.ValueSize, "value size in `bytes`")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "SETs per pipeline when writing the keys")
	fs.DurationVar(&cfg.Phase, "phase", cfg.Phase, "length of the before and after phases")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "steady load connections (50% GET, 50% SET) over the first 3 nodes")
	fs.IntVar(&cfg.Rate, "rate", cfg.Rate, "steady load commands per second over all connections; 0: closed loop")
	fs.Int64Var(&cfg.StreamRate, "stream-rate", cfg.StreamRate, "every node's --stream-rate, bytes per second")
	fs.DurationVar(&cfg.JoinTimeout, "join-timeout", cfg.JoinTimeout, "longest wait for the join")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	quiet := fs.Bool("quiet", false, "no progress messages on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !*quiet {
		cfg.Log = stderr
	}
	res, err := bench.RunScaleOut(ctx, cfg)
	if errors.Is(err, bench.ErrInvalidConfig) {
		return err
	}
	return errors.Join(err, writeResult(stdout, *asJSON, len(res.Phases) > 0, res))
}
