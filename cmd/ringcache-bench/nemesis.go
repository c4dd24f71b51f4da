package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ringcache/ringcache/bench/nemesis"
)

// errScenariosFailed makes the exit status non-zero when a scenario
// failed; the lines and the table have said which.
var errScenariosFailed = errors.New("some scenarios failed")

// runNemesis runs the fault-injection suite: see package nemesis.
func runNemesis(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("nemesis", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenarios := fs.String("scenarios", strings.Join(nemesis.AllScenarios, ","), "comma-separated scenarios to run, in order")
	short := fs.Bool("short", false, "the CI form: every scenario with shorter phases")
	bin := fs.String("ringcache-bin", "", "ringcache binary; empty: go build ./cmd/ringcache from the current directory")
	keep := fs.Bool("keep", false, "keep every scenario's directory (a failed scenario's is always kept)")
	asJSON := fs.Bool("json", false, "print the results as JSON instead of the Markdown table (the lines go to stderr)")
	quiet := fs.Bool("quiet", false, "no progress messages on stderr")
	warmup := fs.Duration("warmup", 0, "workload before the fault; 0: the form's default")
	outage := fs.Duration("outage", 0, "how long a killed node stays down or a paused node paused; 0: the form's default")
	after := fs.Duration("after", 0, "workload after the heal; 0: the form's default")
	tmp := fs.String("tmpdir", "", "where the suite's directory is created; empty: the system's temporary directory")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg := nemesis.DefaultConfig()
	if *short {
		cfg = nemesis.ShortConfig()
	}
	cfg.Scenarios = strings.Split(*scenarios, ",")
	for i, s := range cfg.Scenarios {
		cfg.Scenarios[i] = strings.TrimSpace(s)
	}
	cfg.RingcacheBin, cfg.Keep, cfg.TempDir = *bin, *keep, *tmp
	for _, o := range []struct {
		flag time.Duration
		dst  *time.Duration
	}{{*warmup, &cfg.Warmup}, {*outage, &cfg.Outage}, {*after, &cfg.After}} {
		if o.flag != 0 {
			*o.dst = o.flag
		}
	}
	cfg.Out = stdout
	if *asJSON {
		cfg.Out = stderr
	}
	if !*quiet {
		cfg.Log = stderr
	}
	start := time.Now()
	results, err := nemesis.Run(ctx, cfg)
	if errors.Is(err, nemesis.ErrInvalidConfig) {
		return err
	}
	var perr error
	if len(results) > 0 {
		if *asJSON {
			perr = writeJSON(stdout, results)
		} else {
			fmt.Fprintf(stdout, "\n")
			perr = nemesis.WriteTable(stdout, results)
			fmt.Fprintf(stdout, "\ntotal %.0fs\n", time.Since(start).Seconds())
		}
	}
	if err == nil && nemesis.Failed(results) {
		err = errScenariosFailed
	}
	return errors.Join(err, perr)
}
