package main

import (
	"context"
	"flag"
	"io"

	"github.com/ringcache/ringcache/bench"
)

// runRepair measures a Merkle anti-entropy exchange between two engines
// and the digest's cost on the write path (bench.RunRepair).
func runRepair(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := bench.DefaultRepairConfig()
	fs := flag.NewFlagSet("repair", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.Keys, "keys", cfg.Keys, "records both replicas hold")
	fs.IntVar(&cfg.Differences, "differences", cfg.Differences, "records that differ between the replicas")
	fs.IntVar(&cfg.ValueSize, "value-size", cfg.ValueSize, "value size in `bytes`")
	fs.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "nodes of the ring whose ranges are compared")
	fs.IntVar(&cfg.VNodes, "vnodes", cfg.VNodes, "tokens per node of that ring")
	fs.IntVar(&cfg.WriteKeys, "write-keys", cfg.WriteKeys, "records per write-path run")
	fs.IntVar(&cfg.WriteBatch, "write-batch", cfg.WriteBatch, "records per ApplyBatch in the write-path runs")
	fs.IntVar(&cfg.WriteWorkers, "write-workers", cfg.WriteWorkers, "goroutines of the write-path runs")
	fs.IntVar(&cfg.WriteRuns, "write-runs", cfg.WriteRuns, "write-path runs with the digest on and off each (median)")
	fs.StringVar(&cfg.Dir, "dir", "", "`directory` for the temporary engines (default: the system temporary directory)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	quiet := fs.Bool("quiet", false, "no progress lines")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !*quiet {
		cfg.Progress = stderr
	}
	res, err := bench.RunRepair(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, res)
	}
	return res.WriteText(stdout)
}
