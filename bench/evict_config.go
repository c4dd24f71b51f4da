package bench

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ringcache/ringcache/engine/evict"
)

// EvictionConfig configures RunEviction. Start from DefaultEvictionConfig.
type EvictionConfig struct {
	// RingcacheBin and RedisServer are the two binaries measured, in that
	// order. Defaults "./bin/ringcache" and "redis-server".
	RingcacheBin, RedisServer string
	// MaxMemory is both servers' --maxmemory, bytes. Default 64 MiB.
	MaxMemory int64
	// Policy is both servers' --maxmemory-policy: one of the allkeys-
	// policies, since the SETs set no TTL. Default allkeys-lru.
	Policy string
	// ValueSize is every SET's payload in bytes. Default 100.
	ValueSize int
	// Conns is the load generator's connections in every phase. Default 50.
	Conns int
	// Pipeline is the depth of the SET phases (set-not-full, fill,
	// set-full); the zipf-mix phase runs at depth 1. Default 16.
	Pipeline int
	// NotFull is the share of the budget the set-not-full phase writes;
	// set-full writes as many SETs. Default 0.4.
	NotFull float64
	// Fill is the total written by the first two phases as a multiple of
	// the budget: the fill phase brings the SETs to Fill times the keys
	// that fit. Default 10.
	Fill float64
	// FreshKeys is the key space the SET phases draw from uniformly, so
	// large that a key is almost never written twice. Default 1e9.
	FreshKeys int
	// Keyspace is the zipf-mix key space; 0: 3 times the keys that fit.
	// Default 0.
	Keyspace int
	// ZipfS is the zipf-mix exponent. Default 0.99.
	ZipfS float64
	// Mix is the zipf-mix command mix. Default 90% GET, 10% SET.
	Mix Mix
	// WarmupOps commands of the zipf-mix run unmeasured before MixOps
	// are measured. Counts, not durations: the cache fills with the
	// mix's SETs, so a faster server would otherwise hold more of the
	// hot keys when the measure starts. Defaults 300,000 and 600,000.
	WarmupOps, MixOps int64
	// NoBudget adds a third target, ringcache without a budget, whose
	// SETs overwrite a dataset the budget's size: the ceiling of
	// ringcache's set-full / set-not-full (see RunEviction). Default true.
	NoBudget bool
	// Seed makes the key choice reproducible; each phase derives its own.
	// Default 1.
	Seed uint64
	// Targets replaces the two default targets when non-nil (tests).
	Targets []Target `json:"-"`
	// Log receives progress lines; nil: none.
	Log io.Writer `json:"-"`
}

// DefaultEvictionConfig returns the defaults documented on EvictionConfig.
func DefaultEvictionConfig() EvictionConfig {
	return EvictionConfig{
		RingcacheBin: "./bin/ringcache", RedisServer: "redis-server",
		MaxMemory: 64 << 20, Policy: "allkeys-lru", ValueSize: 100, Conns: 50, Pipeline: 16,
		NotFull: 0.4, Fill: 10, FreshKeys: 1_000_000_000, ZipfS: 0.99,
		Mix: Mix{Get: 0.9, Set: 0.1}, WarmupOps: 300_000, MixOps: 600_000,
		NoBudget: true, Seed: 1,
	}
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c EvictionConfig) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: evict: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.Targets == nil && (c.RingcacheBin == "" || c.RedisServer == ""):
		return bad("ringcache binary %q and redis-server %q must both be set", c.RingcacheBin, c.RedisServer)
	case c.MaxMemory < 1:
		return bad("maxmemory %d must be positive", c.MaxMemory)
	case !evictsWithoutTTL(c.Policy):
		return bad("policy %q: want allkeys-lru, allkeys-lfu or allkeys-random (the SETs set no TTL)", c.Policy)
	case c.ValueSize < 1 || c.Conns < 1 || c.Pipeline < 1:
		return bad("value size %d, conns %d and pipeline %d must be positive", c.ValueSize, c.Conns, c.Pipeline)
	case !(c.NotFull > 0 && c.NotFull < 1):
		return bad("not-full share %v must be in (0, 1)", c.NotFull)
	case !(c.Fill >= 1):
		return bad("fill %v must be at least 1", c.Fill)
	case c.FreshKeys < 1 || c.Keyspace < 0:
		return bad("fresh keys %d must be positive, keyspace %d not negative", c.FreshKeys, c.Keyspace)
	case !(c.ZipfS > 0):
		return bad("zipf-s %v must be > 0", c.ZipfS)
	case c.WarmupOps < 0 || c.MixOps <= 0:
		return bad("warm-up ops %d must not be negative, mix ops %d must be positive", c.WarmupOps, c.MixOps)
	case c.KeysThatFit() < 1:
		return bad("maxmemory %d holds no key of %d bytes", c.MaxMemory, c.ValueSize)
	}
	if err := c.Mix.validate(); err != nil {
		return fmt.Errorf("evict: %w", err)
	}
	return nil
}

// evictsWithoutTTL reports whether policy names one that evicts keys
// without a TTL: the policies the experiment can run.
func evictsWithoutTTL(policy string) bool {
	p, err := evict.ParsePolicy(policy)
	return err == nil && p != evict.NoEviction && !p.Volatile()
}

// loadKeyLen is the length of the load generator's keys, "key:%012d".
const loadKeyLen = len("key:") + 12

// evictKeyOverhead is the per-key cost assumed on top of the key and the
// value when sizing the phases: roughly what either server spends on a
// small string key's record, index entry and allocator rounding.
const evictKeyOverhead = 64

// KeysThatFit returns about how many of the load generator's keys fit in
// maxMemory with values of valueSize bytes, at keylen+value+64 bytes each.
func KeysThatFit(maxMemory int64, valueSize int) int64 {
	return maxMemory / int64(loadKeyLen+valueSize+evictKeyOverhead)
}

// KeysThatFit is KeysThatFit of the configuration's budget and value size.
func (c EvictionConfig) KeysThatFit() int64 { return KeysThatFit(c.MaxMemory, c.ValueSize) }

// evictionPlan is the sizes of the phases, derived from the config.
type evictionPlan struct {
	fit      int64 // keys that fit
	setOps   int64 // set-not-full and set-full SETs each
	fillOps  int64 // fill SETs
	keyspace int   // zipf-mix keys
	// overwriteKeys is the no-budget target's fill and set-overwrite key
	// space: with set-not-full's keys, the keys that fit.
	overwriteKeys int
}

func (c EvictionConfig) plan() evictionPlan {
	fit := c.KeysThatFit()
	p := evictionPlan{fit: fit, setOps: max(1, int64(c.NotFull*float64(fit))), keyspace: c.Keyspace}
	p.fillOps = max(1, int64(c.Fill*float64(fit))-p.setOps)
	if p.keyspace == 0 {
		p.keyspace = int(3 * fit)
	}
	p.overwriteKeys = int(max(1, fit-p.setOps))
	return p
}

// byteUnits are the suffixes ParseBytes accepts, longest first, as
// ringcache's own flags spell them.
var byteUnits = []struct {
	suffix string
	mult   int64
}{{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}}

// ParseBytes parses a byte count written as 1048576, 64kb, 512mb or 1gb
// (binary units, case-insensitive), as ringcache's --maxmemory does.
func ParseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%w: not a byte size (like 1048576, 64kb, 512mb, 1gb): %q", ErrInvalidConfig, s)
	}
	return n * mult, nil
}

// FormatBytes writes n with the largest binary unit that divides it, the
// form ParseBytes reads: 64mb, 1536kb, 1000.
func FormatBytes(n int64) string {
	for _, u := range byteUnits[:3] {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}
