package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Scale-out under load. RunScaleOut starts a 3-node cluster of real
// ringcache processes, writes Keys keys of ValueSize bytes, and drives a
// steady GET/SET load over those keys through the three nodes for the
// whole experiment, which has three phases:
//
//	before  the steady load alone, for Phase
//	join    a fourth node starts and joins: it streams its ranges; the
//	        phase ends when every node has it normal and no operation
//	        is in progress
//	after   the steady load alone again, for Phase
//
// Each phase reports the steady load's success rate, latency and missing
// reads (every key was written before the load began, so a GET that finds
// nothing is a key the cluster lost sight of); the join reports the time
// to normal and what the new node streamed: keys, bytes, and the rate.

// ErrScaleOut reports an experiment step that did not complete in time.
var ErrScaleOut = errors.New("bench: scale-out experiment incomplete")

// ScaleOutConfig configures RunScaleOut. Start from DefaultScaleOutConfig.
type ScaleOutConfig struct {
	// RingcacheBin is the ringcache binary. Default "./bin/ringcache".
	RingcacheBin string
	// Keys are written before the load ("key:%012d"), ValueSize bytes
	// each, in pipelines of Batch. Defaults 1,000,000, 100, 1000.
	Keys, ValueSize, Batch int
	// Phase is the length of the before and after phases. Default 5s.
	Phase time.Duration
	// Conns and Rate shape the steady load (50% GET, 50% SET over the
	// keys; Rate in commands per second, 0: closed loop). Defaults 8,
	// 2000.
	Conns, Rate int
	// StreamRate is every node's --stream-rate, bytes per second.
	// Default 50,000,000.
	StreamRate int64
	// JoinTimeout bounds the join. Default 10m.
	JoinTimeout time.Duration
	// Extra flags are passed to every node. Default N=3, W=2, R=2.
	Extra []string
	// Seed makes the steady load reproducible. Default 1.
	Seed uint64
	// Log receives progress lines; nil: none.
	Log io.Writer
}

// DefaultScaleOutConfig returns the defaults.
func DefaultScaleOutConfig() ScaleOutConfig {
	return ScaleOutConfig{
		RingcacheBin: "./bin/ringcache", Keys: 1_000_000, ValueSize: 100, Batch: 1000,
		Phase: 5 * time.Second, Conns: 8, Rate: 2000, StreamRate: 50_000_000,
		JoinTimeout: 10 * time.Minute,
		Extra:       []string{"--replicas", "3", "--write-quorum", "2", "--read-quorum", "2"},
		Seed:        1,
	}
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c ScaleOutConfig) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: scaleout: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.RingcacheBin == "":
		return bad("ringcache binary is empty")
	case c.Keys < 1 || c.ValueSize < 1 || c.Batch < 1 || c.Conns < 1:
		return bad("keys %d, value size %d, batch %d and conns %d must be positive", c.Keys, c.ValueSize, c.Batch, c.Conns)
	case c.Phase <= 0 || c.JoinTimeout <= 0 || c.Rate < 0 || c.StreamRate < 0:
		return bad("phase %v and join timeout %v must be positive, rate %d and stream rate %d not negative", c.Phase, c.JoinTimeout, c.Rate, c.StreamRate)
	}
	return nil
}

// Scale-out phases, in order.
const (
	PhaseJoin = "join"
)

var scaleOutPhases = []string{PhaseBefore, PhaseJoin, PhaseAfter}

// ScaleOutResult is what RunScaleOut measured.
type ScaleOutResult struct {
	Keys       int      `json:"keys"`
	ValueSize  int      `json:"value_size"`
	Extra      []string `json:"flags"`
	Conns      int      `json:"conns"`
	Rate       int      `json:"rate"`
	StreamRate int64    `json:"stream_rate"`
	// FillSec is how long writing the keys took; FillErrors how many
	// writes failed.
	FillSec    float64 `json:"fill_s"`
	FillErrors int64   `json:"fill_errors"`
	// Phases holds the steady load's figures per phase, in order.
	Phases []PhaseResult `json:"phases"`
	// JoinSec is the time from the new node's start to its being normal
	// everywhere.
	JoinSec float64 `json:"join_s"`
	// StreamKeys, StreamBytes and StreamSec are what the new node
	// streamed (INFO topology_last_stream_*), and StreamKeysPerSec and
	// StreamMBPerSec the rates.
	StreamKeys       int64   `json:"stream_keys"`
	StreamBytes      int64   `json:"stream_bytes"`
	StreamSec        float64 `json:"stream_s"`
	StreamKeysPerSec float64 `json:"stream_keys_per_s"`
	StreamMBPerSec   float64 `json:"stream_mb_per_s"`
	// Incomplete names the step that timed out, if any.
	Incomplete string `json:"incomplete,omitempty"`
}

// WriteText prints the result as a small table.
func (r ScaleOutResult) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("scale-out: 3 nodes %v holding %d keys of %d bytes (written in %.1fs, %d failed); a 4th node joins\n",
		r.Extra, r.Keys, r.ValueSize, r.FillSec, r.FillErrors)
	load := "closed loop"
	if r.Rate > 0 {
		load = fmt.Sprintf("%d ops/s", r.Rate)
	}
	ew.printf("steady load: %d conns over the first 3 nodes, 50%% GET / 50%% SET of the keys, %s\n\n", r.Conns, load)
	ew.printf("%-7s %7s %9s %8s %9s %9s %10s %9s %8s %9s %10s\n",
		"phase", "secs", "GET ops", "GET ok%", "GET miss", "GET p50ms", "GET p99ms", "SET ops", "SET ok%", "SET p50ms", "SET p99ms")
	for _, p := range r.Phases {
		ew.printf("%-7s %7.2f %9d %8.3f %9d %9.3f %10.3f %9d %8.3f %9.3f %10.3f\n", p.Name, p.Seconds,
			p.Get.Ops, p.Get.SuccessPct, p.Get.Missing, p.Get.P50, p.Get.P99, p.Set.Ops, p.Set.SuccessPct, p.Set.P50, p.Set.P99)
	}
	for _, p := range r.Phases {
		for _, o := range []struct {
			name string
			s    PhaseOpStat
		}{{"GET", p.Get}, {"SET", p.Set}} {
			if o.s.FirstError != "" {
				ew.printf("%s %s: %d errors, first: %s\n", p.Name, o.name, o.s.Errors, o.s.FirstError)
			}
		}
	}
	ew.printf("\njoin: normal everywhere %.2fs after the start; streamed %d keys, %.1f MB in %.2fs: %.0f keys/s, %.1f MB/s (--stream-rate %.1f MB/s)\n",
		r.JoinSec, r.StreamKeys, float64(r.StreamBytes)/1e6, r.StreamSec, r.StreamKeysPerSec, r.StreamMBPerSec, float64(r.StreamRate)/1e6)
	if r.Incomplete != "" {
		ew.printf("INCOMPLETE: %s\n", r.Incomplete)
	}
	return ew.err
}

// RunScaleOut runs the experiment described at the top of this file.
// Every process it starts is stopped before it returns.
func RunScaleOut(ctx context.Context, cfg ScaleOutConfig) (res ScaleOutResult, err error) {
	if err := cfg.Validate(); err != nil {
		return res, err
	}
	extra := append(append([]string{}, cfg.Extra...), "--stream-rate", strconv.FormatInt(cfg.StreamRate, 10))
	tgt, err := NewRingcacheClusterTarget("scaleout", cfg.RingcacheBin, 4, extra...)
	if err != nil {
		return res, err
	}
	ct := tgt.(*clusterTarget)
	defer func() {
		logf(cfg.Log, "stopping the cluster\n")
		err = errors.Join(err, ct.Stop(context.WithoutCancel(ctx)))
	}()
	res = ScaleOutResult{Keys: cfg.Keys, ValueSize: cfg.ValueSize, Extra: cfg.Extra, Conns: cfg.Conns,
		Rate: cfg.Rate, StreamRate: cfg.StreamRate}
	logf(cfg.Log, "starting 3 nodes\n")
	addrs := make([]string, 4)
	for i, n := range ct.nodes[:3] {
		if addrs[i], _, err = n.Start(ctx); err != nil {
			return res, err
		}
	}
	if err := waitMembers(ctx, addrs[0], 3); err != nil {
		return res, fmt.Errorf("%w: %v", ErrTargetStart, err)
	}
	logf(cfg.Log, "writing %d keys\n", cfg.Keys)
	keys := make([]string, cfg.Keys)
	for i := range keys {
		keys[i] = string(appendKey(nil, int64(i)))
	}
	start := time.Now()
	res.FillErrors = writeKeys(ctx, addrs[:3], keys, cfg.Batch, bytes.Repeat([]byte{'f'}, cfg.ValueSize))
	res.FillSec = time.Since(start).Seconds()
	keys = nil

	load := startSteadyLoad(steadyConfig{Conns: cfg.Conns, Rate: cfg.Rate, Keys: cfg.Keys, ValueSize: cfg.ValueSize,
		Seed: cfg.Seed, Phases: scaleOutPhases}, addrs[:3], nil)
	defer func() {
		if res.Phases == nil {
			res.Phases = load.stop()
		}
	}()
	logf(cfg.Log, "phase %s: %v\n", PhaseBefore, cfg.Phase)
	if err := pause(ctx, cfg.Phase); err != nil {
		return res, err
	}
	load.next()
	logf(cfg.Log, "phase %s: starting the 4th node\n", PhaseJoin)
	start = time.Now()
	if addrs[3], _, err = ct.nodes[3].Start(ctx); err != nil {
		return res, err
	}
	if err := waitJoined(ctx, addrs, cfg.JoinTimeout); err != nil {
		res.Incomplete = fmt.Sprintf("the 4th node not normal everywhere %v after its start: %v", cfg.JoinTimeout, err)
		return res, fmt.Errorf("%w: %s", ErrScaleOut, res.Incomplete)
	}
	res.JoinSec = time.Since(start).Seconds()
	load.next()
	logf(cfg.Log, "phase %s: %v\n", PhaseAfter, cfg.Phase)
	if err := pause(ctx, cfg.Phase); err != nil {
		return res, err
	}
	res.Phases = load.stop()
	info, err := infoSection(ctx, addrs[3], "topology")
	if err != nil {
		return res, err
	}
	res.StreamKeys, _ = strconv.ParseInt(info["topology_last_stream_keys"], 10, 64)
	res.StreamBytes, _ = strconv.ParseInt(info["topology_last_stream_bytes"], 10, 64)
	res.StreamSec, _ = strconv.ParseFloat(info["topology_last_stream_seconds"], 64)
	if res.StreamSec > 0 {
		res.StreamKeysPerSec = float64(res.StreamKeys) / res.StreamSec
		res.StreamMBPerSec = float64(res.StreamBytes) / 1e6 / res.StreamSec
	}
	return res, nil
}

// waitJoined waits until every node in addrs reports itself normal with
// no topology operation in progress.
func waitJoined(ctx context.Context, addrs []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var why error
		for _, a := range addrs {
			info, err := infoSection(ctx, a, "topology")
			switch {
			case err != nil:
				why = err
			case info["topology_role"] != "normal" || info["topology_operation"] != "none":
				why = fmt.Errorf("%s: role %s, operation %s at %s", a, info["topology_role"], info["topology_operation"], info["topology_stage"])
			}
			if why != nil {
				break
			}
		}
		if why == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return why
		}
		if err := pause(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// infoSection returns the fields of one INFO section of the node at addr.
func infoSection(ctx context.Context, addr, section string) (map[string]string, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, PoolSize: 1})
	defer c.Close()
	text, err := c.Info(ctx, section).Result()
	if err != nil {
		return nil, err
	}
	return ParseInfo(text), nil
}

// ParseInfo returns the fields of an INFO reply, by name.
func ParseInfo(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			out[k] = v
		}
	}
	return out
}
