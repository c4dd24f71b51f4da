package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/ringcache/ringcache/bench"
)

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := bench.DefaultConfig()
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "server `host:port`")
	fs.StringVar(&cfg.Password, "password", "", "AUTH password")
	fs.Float64Var(&cfg.Mix.Get, "get", cfg.Mix.Get, "weight of GET")
	fs.Float64Var(&cfg.Mix.Set, "set", cfg.Mix.Set, "weight of SET")
	fs.Float64Var(&cfg.Mix.Del, "del", cfg.Mix.Del, "weight of DEL")
	mix := fs.String("mix", "", `whole mix, e.g. "get=80,set=20,del=0" (instead of --get/--set/--del)`)
	fs.IntVar(&cfg.Keys, "keys", cfg.Keys, "number of distinct keys")
	fs.StringVar(&cfg.Dist, "dist", cfg.Dist, "key distribution: uniform, zipfian or sequential")
	fs.Float64Var(&cfg.ZipfS, "zipf-s", cfg.ZipfS, "zipfian exponent s > 0")
	fs.IntVar(&cfg.ValueSize, "value-size", cfg.ValueSize, "SET value size in `bytes`")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "connections, one goroutine each")
	fs.IntVar(&cfg.Pipeline, "pipeline", cfg.Pipeline, "commands per round trip")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "run time, when --ops is 0")
	fs.Int64Var(&cfg.Ops, "ops", 0, "stop after this many commands (overrides --duration)")
	fs.DurationVar(&cfg.TTL, "ttl", 0, "expiry attached to every SET (0: none)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "per round trip timeout")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *mix != "" {
		if flagSet(fs, "get", "set", "del") {
			fmt.Fprintln(stderr, "--mix and --get/--set/--del are exclusive")
			return errUsage
		}
		m, err := bench.ParseMix(*mix)
		if err != nil {
			return err
		}
		cfg.Mix = m
	}
	if !*quiet && !*asJSON {
		cfg.Progress = stderr
	}
	res, err := bench.Run(ctx, cfg)
	if err != nil && !(errors.Is(err, context.Canceled) && res.Ops > 0) {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, res)
	}
	return res.WriteText(stdout)
}

// flagSet reports whether any of names was given on the command line.
func flagSet(fs *flag.FlagSet, names ...string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) {
		for _, n := range names {
			found = found || f.Name == n
		}
	})
	return found
}
