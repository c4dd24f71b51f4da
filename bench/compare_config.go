package bench

import (
	"fmt"
	"io"
	"time"
)

// CompareConfig describes a compare run. Build it with DefaultCompareConfig.
type CompareConfig struct {
	// RedisServer is the redis-server binary. Default "redis-server" (PATH).
	RedisServer string
	// RedisBenchmark is the redis-benchmark binary. Default "redis-benchmark".
	RedisBenchmark string
	// RingcacheBin is the ringcache binary; "" leaves ringcache out (then
	// only the two redis-server targets are compared). Default
	// "./bin/ringcache".
	RingcacheBin string
	// Targets, when non-nil, replaces the default targets built from the
	// binaries above (redis-aof, redis-noaof, ringcache). Default nil.
	Targets []Target
	// Baseline names the target every ratio divides by. Default
	// "redis-noaof", redis-server without persistence.
	Baseline string
	// Tests is redis-benchmark's -t list. Default "set,get".
	Tests string
	// Script, when set, is a Lua script measured too: loaded on each
	// target with SCRIPT LOAD, then run by redis-benchmark as
	// EVALSHA <sha1> 1 script:__rand_int__ __rand_int__, reported as the
	// test EVALSHA. Default "" (none).
	Script string
	// Primaries, when set, also measures INCR of keys whose primary is the
	// node redis-benchmark talks to (test INCR@PRIMARY) and of keys whose
	// primary is another node (INCR@FORWARDED: each command takes one more
	// hop), found with RINGCACHE OWNERS on a hash tag. On one node and on
	// redis-server both are plain INCRs. Default false.
	Primaries bool
	// Runs is how many times each cell is measured; the table shows the
	// median. Default 3.
	Runs int
	// Pipelines are the -P depths measured. Default [1, 16].
	Pipelines []int
	// Clients is redis-benchmark's -c. Default 50.
	Clients int
	// KeySpace is redis-benchmark's -r. Default 100000.
	KeySpace int
	// DataSize is redis-benchmark's -d, bytes per value. Default 100.
	DataSize int
	// MinRunTime is the least time each test should run; -n is calibrated
	// from a short first run so the faster test lasts this long. Default 3s.
	MinRunTime time.Duration
	// CalibrationRequests is -n of the calibration run at -P 1; deeper
	// pipelines use this times the depth. Default 20000.
	CalibrationRequests int
	// RSS enables the memory measurement: after the throughput runs,
	// RSSKeys distinct keys of DataSize bytes are written and the server's
	// VmRSS is read. Default true.
	RSS bool
	// RSSKeys is the number of keys loaded before reading RSS. Default
	// 1000000.
	RSSKeys int
	// Log receives progress and the exact redis-benchmark commands as they
	// run; nil discards them. Default nil.
	Log io.Writer
}

// DefaultCompareConfig returns the defaults documented on CompareConfig.
func DefaultCompareConfig() CompareConfig {
	return CompareConfig{
		RedisServer:         "redis-server",
		RedisBenchmark:      "redis-benchmark",
		RingcacheBin:        "./bin/ringcache",
		Baseline:            "redis-noaof",
		Tests:               "set,get",
		Runs:                3,
		Pipelines:           []int{1, 16},
		Clients:             50,
		KeySpace:            100000,
		DataSize:            100,
		MinRunTime:          3 * time.Second,
		CalibrationRequests: 20000,
		RSS:                 true,
		RSSKeys:             1000000,
	}
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c CompareConfig) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.RedisBenchmark == "":
		return bad("redis-benchmark binary is empty")
	case c.Targets == nil && c.RedisServer == "":
		return bad("redis-server binary is empty")
	case c.Tests == "":
		return bad("tests is empty")
	case c.Runs < 1:
		return bad("runs %d < 1", c.Runs)
	case len(c.Pipelines) == 0:
		return bad("no pipelines")
	case c.Clients < 1:
		return bad("clients %d < 1", c.Clients)
	case c.KeySpace < 1:
		return bad("keyspace %d < 1", c.KeySpace)
	case c.DataSize < 1:
		return bad("data size %d < 1", c.DataSize)
	case c.MinRunTime < 0:
		return bad("min-seconds %v < 0", c.MinRunTime)
	case c.CalibrationRequests < 1:
		return bad("calibration requests %d < 1", c.CalibrationRequests)
	case c.RSS && c.RSSKeys < 1:
		return bad("rss keys %d < 1", c.RSSKeys)
	}
	for _, p := range c.Pipelines {
		if p < 1 {
			return bad("pipeline %d < 1", p)
		}
	}
	return nil
}

// targets returns the configured targets, or the default three.
func (c CompareConfig) targets() []Target {
	if c.Targets != nil {
		return c.Targets
	}
	ts := []Target{
		NewRedisTarget("redis-aof", c.RedisServer, "--appendonly", "yes", "--appendfsync", "everysec"),
		NewRedisTarget("redis-noaof", c.RedisServer, "--appendonly", "no"),
	}
	if c.RingcacheBin != "" {
		ts = append(ts, NewRingcacheTarget("ringcache", c.RingcacheBin))
	}
	return ts
}
