package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ringcache/ringcache/bench"
)

func runCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := bench.DefaultCompareConfig()
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.RingcacheBin, "ringcache-bin", cfg.RingcacheBin, `ringcache binary ("" leaves ringcache out)`)
	fs.StringVar(&cfg.RedisServer, "redis-server", cfg.RedisServer, "redis-server binary")
	fs.StringVar(&cfg.RedisBenchmark, "redis-benchmark", cfg.RedisBenchmark, "redis-benchmark binary")
	fs.IntVar(&cfg.Runs, "runs", cfg.Runs, "runs per cell; the median is reported")
	fs.StringVar(&cfg.Tests, "tests", cfg.Tests, "redis-benchmark -t list")
	fs.BoolVar(&cfg.Primaries, "primaries", cfg.Primaries, "measure INCR of keys whose primary is the node measured, and of keys forwarded to another")
	fs.StringVar(&cfg.Script, "script", cfg.Script, "a Lua script to measure too, as EVALSHA <sha1> 1 script:__rand_int__ __rand_int__")
	pipelines := fs.String("pipelines", "1,16", "comma-separated redis-benchmark -P depths")
	fs.IntVar(&cfg.Clients, "clients", cfg.Clients, "redis-benchmark -c")
	fs.IntVar(&cfg.KeySpace, "keyspace", cfg.KeySpace, "redis-benchmark -r")
	fs.IntVar(&cfg.DataSize, "data-size", cfg.DataSize, "redis-benchmark -d, value `bytes`")
	minSeconds := fs.Float64("min-seconds", cfg.MinRunTime.Seconds(), "least `seconds` per test; -n is calibrated to it")
	fs.BoolVar(&cfg.RSS, "rss", cfg.RSS, "measure RSS after loading --rss-keys keys")
	fs.IntVar(&cfg.RSSKeys, "rss-keys", cfg.RSSKeys, "keys loaded before reading RSS")
	clusterNodes := fs.Int("cluster", 0, "compare a local cluster of this many ringcache nodes (N=3, W=2, R=2) with redis-server instead of one node; 0: one node")
	nodeArgs := fs.String("node-args", "", `extra flags for every ringcache node of --cluster, space-separated (e.g. "--procs 1")`)
	asJSON := fs.Bool("json", false, "print the table as JSON")
	quiet := fs.Bool("quiet", false, "no progress messages on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ps, err := parseInts(*pipelines)
	if err != nil {
		return fmt.Errorf("--pipelines: %w", err)
	}
	cfg.Pipelines = ps
	cfg.MinRunTime = time.Duration(*minSeconds * float64(time.Second))
	if *nodeArgs != "" && *clusterNodes == 0 {
		return fmt.Errorf("%w: --node-args needs --cluster", bench.ErrInvalidConfig)
	}
	if *clusterNodes > 0 {
		flags := append([]string{"--replicas", "3", "--read-quorum", "2", "--write-quorum", "2"}, strings.Fields(*nodeArgs)...)
		ct, err := bench.NewRingcacheClusterTarget(fmt.Sprintf("ringcache-%dnodes", *clusterNodes), cfg.RingcacheBin,
			*clusterNodes, flags...)
		if err != nil {
			return err
		}
		cfg.Targets = []bench.Target{
			bench.NewRedisTarget("redis-noaof", cfg.RedisServer, "--appendonly", "no"),
			ct,
		}
	}
	if !*quiet {
		cfg.Log = stderr
	}
	tab, err := bench.Compare(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, tab)
	}
	return tab.WriteText(stdout)
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}
