package main

import (
	"context"
	"errors"
	"flag"
	"io"

	"github.com/ringcache/ringcache/bench"
)

// runHandoff measures hinted handoff under load: see bench.RunHandoff.
func runHandoff(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := bench.DefaultHandoffConfig()
	fs := flag.NewFlagSet("handoff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.RingcacheBin, "ringcache-bin", cfg.RingcacheBin, "ringcache binary")
	fs.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "cluster size; the last node is SIGKILLed and restarted")
	fs.IntVar(&cfg.Hints, "hints", cfg.Hints, "keys owned by the killed node written during the outage")
	fs.DurationVar(&cfg.Phase, "phase", cfg.Phase, "length of the before and after phases")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "steady load connections (50% GET, 50% SET) over the surviving nodes")
	fs.IntVar(&cfg.Rate, "rate", cfg.Rate, "steady load commands per second over all connections; 0: closed loop")
	fs.IntVar(&cfg.Keys, "keys", cfg.Keys, "steady load key space")
	fs.IntVar(&cfg.ValueSize, "value-size", cfg.ValueSize, "SET value size in `bytes`")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "SETs per pipeline when writing the outage keys")
	fs.DurationVar(&cfg.HintWait, "hint-wait", cfg.HintWait, "longest wait for the survivors to hold every outage write as a hint")
	fs.DurationVar(&cfg.ReplayTimeout, "replay-timeout", cfg.ReplayTimeout, "longest wait for the hints to drain after the restart")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	quiet := fs.Bool("quiet", false, "no progress messages on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !*quiet {
		cfg.Log = stderr
	}
	res, err := bench.RunHandoff(ctx, cfg)
	if errors.Is(err, bench.ErrInvalidConfig) {
		return err
	}
	// An incomplete run still shows what it measured, then fails.
	return errors.Join(err, writeResult(stdout, *asJSON, len(res.Phases) > 0, res))
}

// textResult is a measurement that prints itself as a table.
type textResult interface{ WriteText(io.Writer) error }

// writeResult prints r as JSON or as its table, if it measured anything.
func writeResult(w io.Writer, asJSON, measured bool, r textResult) error {
	switch {
	case !measured:
		return nil
	case asJSON:
		return writeJSON(w, r)
	}
	return r.WriteText(w)
}
