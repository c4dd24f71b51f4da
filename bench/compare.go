package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Compare starts each target in turn, measures it with redis-benchmark
// (and, when cfg.RSS is set, its memory after loading cfg.RSSKeys keys),
// stops it, and returns the table. Only one target runs at a time so the
// targets do not compete for CPU. Every process Compare starts is stopped
// and every temporary directory removed before it returns, including on
// error and when ctx is cancelled.
func Compare(ctx context.Context, cfg CompareConfig) (Table, error) {
	if err := cfg.Validate(); err != nil {
		return Table{}, err
	}
	if err := cfg.preflight(); err != nil {
		return Table{}, err
	}
	rb := &redisBench{cfg: cfg}
	var results []targetResult
	for _, t := range cfg.targets() {
		r, err := measureTarget(ctx, cfg, rb, t)
		if err != nil {
			return Table{}, fmt.Errorf("bench: %s: %w", t.Name(), err)
		}
		results = append(results, r)
	}
	tab := BuildTable(results, cfg.Baseline)
	tab.Commands = rb.commands
	return tab, nil
}

// targetResult is everything measured on one target.
type targetResult struct {
	Name string
	// Cells maps pipeline depth to the samples of each run.
	Cells    map[int][][]Sample
	Requests map[int]int // -n used per pipeline depth
	RSSBytes int64       // 0 when not measured
	RSSKeys  int64
}

func measureTarget(ctx context.Context, cfg CompareConfig, rb *redisBench, t Target) (res targetResult, err error) {
	addr, pid, stop, err := startTarget(ctx, cfg.Log, t)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, stop()) }()
	res = targetResult{Name: t.Name(), Cells: map[int][][]Sample{}, Requests: map[int]int{}}
	if cfg.Script != "" {
		if err := loadScript(ctx, addr, cfg.Script); err != nil {
			return res, err
		}
	}
	if cfg.Primaries {
		if rb.tags, err = primaryTags(ctx, addr); err != nil {
			return res, err
		}
		logf(cfg.Log, "%s: hash tag {%s} has this node for primary, {%s} another\n", t.Name(), rb.tags[0], rb.tags[1])
	}
	for _, p := range cfg.Pipelines {
		calN := cfg.CalibrationRequests * p
		logf(cfg.Log, "%s -P %d: calibrating\n", t.Name(), p)
		cal, err := rb.run(ctx, addr, p, calN)
		if err != nil {
			return res, err
		}
		n := requestsFor(cal, cfg.MinRunTime.Seconds(), calN)
		res.Requests[p] = n
		for i := range cfg.Runs {
			logf(cfg.Log, "%s -P %d: run %d/%d, -n %d\n", t.Name(), p, i+1, cfg.Runs, n)
			s, err := rb.run(ctx, addr, p, n)
			if err != nil {
				return res, err
			}
			res.Cells[p] = append(res.Cells[p], s)
		}
	}
	if cfg.RSS {
		res.RSSKeys, res.RSSBytes, err = measureRSS(ctx, cfg, addr, pid)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// measureRSS writes keys 0..RSSKeys-1 once each with the load generator,
// checks DBSIZE, and reads the server's VmRSS.
func measureRSS(ctx context.Context, cfg CompareConfig, addr string, pid int) (keys, rss int64, err error) {
	logf(cfg.Log, "loading %d keys of %d bytes for RSS\n", cfg.RSSKeys, cfg.DataSize)
	lc := DefaultConfig()
	lc.Addr = addr
	lc.Mix = Mix{Set: 1}
	lc.Dist = DistSequential
	lc.Keys = cfg.RSSKeys
	lc.Ops = int64(cfg.RSSKeys)
	lc.ValueSize = cfg.DataSize
	lc.Pipeline = 64
	lc.Timeout = 30 * time.Second
	r, err := Run(ctx, lc)
	if err != nil {
		return 0, 0, fmt.Errorf("rss load: %w", err)
	}
	if r.Errors > 0 {
		return 0, 0, fmt.Errorf("rss load: %d errors, first: %s", r.Errors, r.FirstError)
	}
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true})
	defer c.Close()
	// The benchmark's own keys (-r KeySpace) share names with the loaded
	// ones, so at least RSSKeys keys exist, more if KeySpace is larger.
	want := int64(max(cfg.RSSKeys, cfg.KeySpace))
	keys, err = c.DBSize(ctx).Result()
	if err != nil {
		return 0, 0, fmt.Errorf("dbsize: %w", err)
	}
	if keys < int64(cfg.RSSKeys) || keys > want {
		return 0, 0, fmt.Errorf("%w: DBSIZE %d, want %d..%d", ErrKeyCount, keys, cfg.RSSKeys, want)
	}
	rss, err = ReadRSS(pid)
	return keys, rss, err
}

// preflight finds the binaries before anything starts, so a missing one
// fails in a second rather than after the first targets were measured.
func (c CompareConfig) preflight() error {
	bins := []string{c.RedisBenchmark}
	if c.Targets == nil {
		bins = append(bins, c.RedisServer)
		if c.RingcacheBin != "" {
			bins = append(bins, c.RingcacheBin)
		}
	}
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			hint := ""
			if b == c.RingcacheBin {
				hint = " (build it with: go build -o bin/ringcache ./cmd/ringcache; or pass --ringcache-bin '' to leave it out)"
			}
			return fmt.Errorf("bench: %w%s", err, hint)
		}
	}
	return nil
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}

// loadScript loads the script measured as EVALSHA on the target at addr.
func loadScript(ctx context.Context, addr, script string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: 3})
	defer c.Close()
	sha, err := c.ScriptLoad(ctx, script).Result()
	if err != nil {
		return fmt.Errorf("bench: SCRIPT LOAD on %s: %w", addr, err)
	}
	if sha != ScriptSHA(script) {
		return fmt.Errorf("bench: SCRIPT LOAD on %s named the script %s, want %s", addr, sha, ScriptSHA(script))
	}
	return nil
}

// primaryTags returns a hash tag whose keys have the node at addr for
// primary and one whose keys have another node, by RINGCACHE NODES and
// OWNERS; two tags for a server without them (one node, redis-server).
func primaryTags(ctx context.Context, addr string) ([2]string, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: 3})
	defer c.Close()
	nodes, err := c.Do(ctx, "RINGCACHE", "NODES").Slice()
	if err != nil || len(nodes) < 2 {
		return [2]string{"a", "b"}, nil
	}
	self := ""
	for _, n := range nodes {
		if f, ok := n.([]any); ok && len(f) > 1 && f[1] == addr {
			self, _ = f[0].(string)
		}
	}
	var tags [2]string
	for i := 0; i < 1000 && (tags[0] == "" || tags[1] == ""); i++ {
		tag := "t" + strconv.Itoa(i)
		owners, err := c.Do(ctx, "RINGCACHE", "OWNERS", "{"+tag+"}").StringSlice()
		if err != nil || len(owners) == 0 {
			return tags, fmt.Errorf("bench: RINGCACHE OWNERS on %s: %v", addr, err)
		}
		j := 1
		if owners[0] == self {
			j = 0
		}
		if tags[j] == "" {
			tags[j] = tag
		}
	}
	if self == "" || tags[0] == "" || tags[1] == "" {
		return tags, fmt.Errorf("bench: no hash tags with and without %s (node %q) for primary", addr, self)
	}
	return tags, nil
}
