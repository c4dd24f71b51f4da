package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/engine/evict"
	"github.com/ringcache/ringcache/server"
)

// errConfig marks a configuration the node refuses to start with.
var errConfig = errors.New("ringcache: invalid configuration")

// Config is everything the binary is told. Each field is one setting: a
// --flag, a key of the --config YAML file and a RINGCACHE_* variable.
type Config struct {
	ConfigFile string

	Listen        string
	DataDir       string
	NodeID        string
	Fsync         engine.FsyncMode
	RequirePass   string
	MaxClients    int
	ProtectedMode bool
	ClientTimeout time.Duration
	Databases     int
	MaxBulkLen    redisBytes
	QueryBufLimit redisBytes

	CacheSize      byteSize
	RowCacheSize   byteSize
	MemtableSize   byteSize
	TombstoneGrace time.Duration

	// Cluster mode is on when ClusterListen is set.
	ClusterListen  string
	GossipListen   string
	Seeds          stringList
	Replicas       int
	ReadQuorum     int
	WriteQuorum    int
	VNodes         int
	ClusterSecret  string
	ClusterName    string
	RequestTimeout time.Duration
	MaxClockSkew   time.Duration
	// ReadSpeculation: see coordinator.Config.ReadSpeculation.
	ReadSpeculation time.Duration
	// StrictTransactions: see server.Config.StrictTransactions.
	StrictTransactions bool
	// ClusterMaxFrame bounds a replica RPC frame between nodes; the
	// largest key plus value a cluster stores follows from it
	// (transport.MaxRecordBytes).
	ClusterMaxFrame byteSize

	HintedHandoff  bool
	HintReplayRate byteSize
	MaxHintWindow  time.Duration
	MaxHintsBytes  byteSize

	AntiEntropyInterval time.Duration
	AntiEntropyRate     byteSize

	// Join: an empty node joins its seeds' cluster at start (false: it
	// waits for RINGCACHE JOIN). Replace names a dead member an empty
	// node takes the place of. StreamRate bounds what a node receives
	// when it streams ranges it gains. Decommission makes the node leave
	// the cluster for good and exit once its ranges moved.
	Join         bool
	Replace      string
	StreamRate   byteSize
	Decommission bool

	// MaxMemory is the budget of the node's dataset (engine.UsedBytes),
	// 0 for none; MaxMemoryPolicy chooses what goes when it is full and
	// MaxMemorySamples is how many keys each choice looks at.
	MaxMemory        redisBytes
	MaxMemoryPolicy  policyValue
	MaxMemorySamples int

	// ShutdownTimeout bounds SIGTERM to exit: clients get half of it to
	// finish their commands, the node and the engine the rest; at the
	// bound the process exits whatever is still running.
	ShutdownTimeout time.Duration

	// Procs caps the CPUs the node's Go code runs on at once (GOMAXPROCS);
	// 0 leaves Go's default: the GOMAXPROCS variable, else every CPU.
	Procs int

	MetricsListen string
	LogFormat     string
	LogLevel      string
}

// defaultConfig returns the settings a bare `ringcache` runs with.
func defaultConfig() Config {
	return Config{
		Listen:              "127.0.0.1:6379",
		DataDir:             "./data",
		Fsync:               engine.FsyncEverySec,
		MaxClients:          10000,
		ProtectedMode:       true,
		MaxBulkLen:          512 << 20,
		QueryBufLimit:       1 << 30,
		CacheSize:           64 << 20,
		RowCacheSize:        256 << 20,
		MemtableSize:        8 << 20,
		TombstoneGrace:      time.Hour,
		Replicas:            3,
		ReadQuorum:          2,
		WriteQuorum:         2,
		VNodes:              128,
		ClusterName:         "ringcache",
		RequestTimeout:      time.Second,
		Databases:           16,
		ReadSpeculation:     20 * time.Millisecond,
		MaxClockSkew:        500 * time.Millisecond,
		ClusterMaxFrame:     64 << 20,
		ShutdownTimeout:     10 * time.Second,
		HintedHandoff:       true,
		HintReplayRate:      16 << 20,
		MaxHintWindow:       3 * time.Hour,
		MaxHintsBytes:       1 << 30,
		AntiEntropyInterval: time.Minute,
		AntiEntropyRate:     8 << 20,
		Join:                true,
		StreamRate:          50_000_000,
		MaxMemorySamples:    5,
		LogFormat:           "text",
		LogLevel:            "info",
	}
}

// maxProcs bounds --procs; Go itself allows more, no machine needs it.
const maxProcs = 4096

// setting binds one name to one Config field.
type setting struct {
	name  string
	help  string
	value flag.Value
}

func (c *Config) settings() []setting {
	return []setting{
		{"config", "YAML file with settings (keys are the flag names)", (*stringValue)(&c.ConfigFile)},
		{"listen", "client (RESP) address", (*stringValue)(&c.Listen)},
		{"data-dir", "directory for the node's data", (*stringValue)(&c.DataDir)},
		{"node-id", "node id; empty: generated once and kept in data-dir", (*stringValue)(&c.NodeID)},
		{"fsync", "WAL sync policy: always | everysec | no", (*fsyncValue)(&c.Fsync)},
		{"requirepass", "password clients must AUTH with; empty: none", (*stringValue)(&c.RequirePass)},
		{"maxclients", "maximum simultaneous client connections", (*intValue)(&c.MaxClients)},
		{"protected-mode", "without requirepass, refuse clients from non-loopback addresses", (*boolValue)(&c.ProtectedMode)},
		{"client-timeout", "close a client idle this long; 0: never", (*durationValue)(&c.ClientTimeout)},
		{"databases", "number of databases SELECT chooses from (a key's database is part of its identity in the cluster: every node must use the same)", (*intValue)(&c.Databases)},
		{"proto-max-bulk-len", "largest bulk string (value) accepted, bytes (k, mb, gb suffixes)", &c.MaxBulkLen},
		{"client-query-buffer-limit", "largest query buffer per client, bytes", &c.QueryBufLimit},
		{"cache-size", "Pebble block cache, bytes", &c.CacheSize},
		{"row-cache-size", "in-memory record cache in front of Pebble, bytes (at most maxmemory when that is set); 0: off", &c.RowCacheSize},
		{"memtable-size", "Pebble memtable, bytes (1mb to 4gb)", &c.MemtableSize},
		{"tombstone-grace", "how long deletes are kept as tombstones", (*durationValue)(&c.TombstoneGrace)},
		{"maxmemory", "budget of the node's dataset (keys, values and per-record overhead), bytes; 0: no limit", &c.MaxMemory},
		{"maxmemory-policy", "what goes when the dataset reaches maxmemory: noeviction | allkeys-lru | allkeys-lfu | allkeys-random | volatile-lru | volatile-lfu | volatile-random | volatile-ttl", &c.MaxMemoryPolicy},
		{"maxmemory-samples", "keys each eviction choice samples (1 to 64)", (*intValue)(&c.MaxMemorySamples)},
		{"cluster-listen", "cluster RPC address; set it to run as a cluster node", (*stringValue)(&c.ClusterListen)},
		{"gossip-listen", "gossip (memberlist) address, TCP and UDP", (*stringValue)(&c.GossipListen)},
		{"seeds", "comma-separated gossip addresses of seed nodes", &c.Seeds},
		{"replicas", "N: replicas of each key", (*intValue)(&c.Replicas)},
		{"read-quorum", "R: replies a read waits for", (*intValue)(&c.ReadQuorum)},
		{"write-quorum", "W: acknowledgements a write waits for", (*intValue)(&c.WriteQuorum)},
		{"vnodes", "virtual nodes of this node on the ring", (*intValue)(&c.VNodes)},
		{"cluster-secret", "shared secret: encrypts gossip and authenticates cluster RPC; empty: none", (*stringValue)(&c.ClusterSecret)},
		{"cluster-name", "cluster name; nodes of other clusters are refused", (*stringValue)(&c.ClusterName)},
		{"timeout", "per-request timeout of quorum operations", (*durationValue)(&c.RequestTimeout)},
		{"read-speculation", "a read asks R replicas first and the key's others after this long without their answers; 0: every replica at once", (*durationValue)(&c.ReadSpeculation)},
		{"max-clock-skew", "log and report when this node's clock is this far ahead of a peer's", (*durationValue)(&c.MaxClockSkew)},
		{"cluster-max-frame", "largest replica RPC frame between cluster nodes, bytes (1kb to 1gb; every node must use the same); a key and its value together may hold this less 64kb", &c.ClusterMaxFrame},
		{"cluster-strict-transactions", "refuse a transaction whose keys have different primaries with -CROSSSLOT, as Redis Cluster does; false: run its commands one after another", (*boolValue)(&c.StrictTransactions)},
		{"hinted-handoff", "sloppy quorum and hinted handoff: writes for a down owner go to the next healthy node and are handed over when it returns", (*boolValue)(&c.HintedHandoff)},
		{"hint-replay-rate", "hint replay to a returning node, bytes per second", &c.HintReplayRate},
		{"max-hint-window", "no new hints for a node down longer than this; repair takes over", (*durationValue)(&c.MaxHintWindow)},
		{"max-hints-bytes", "hint storage cap per target node, bytes", &c.MaxHintsBytes},
		{"anti-entropy-interval", "period of the background Merkle-tree repair rounds; 0: off (RINGCACHE REPAIR still works)", (*durationValue)(&c.AntiEntropyInterval)},
		{"anti-entropy-rate", "bandwidth budget of anti-entropy exchanges, bytes per second", &c.AntiEntropyRate},
		{"join", "an empty node joins its seeds' cluster when it starts; false: it waits for RINGCACHE JOIN", (*boolValue)(&c.Join)},
		{"replace", "start this empty node in the place of the dead member with this id: it takes over its ranges, streamed from the surviving replicas", (*stringValue)(&c.Replace)},
		{"stream-rate", "bandwidth a node receives ranges at when it gains them in a join, leave, removal or replacement, bytes per second; 0: no limit", &c.StreamRate},
		{"decommission", "leave the cluster for good: stream this node's ranges to their next owners, then exit 0", (*boolValue)(&c.Decommission)},
		{"shutdown-timeout", "bound on SIGTERM/SIGINT to exit: clients get half of it to finish, the rest closes the node; past it the process exits anyway (acknowledged writes are in the WAL)", (*durationValue)(&c.ShutdownTimeout)},
		{"procs", "CPUs the node runs Go code on at once (GOMAXPROCS); 0: Go's default (every CPU). Give each node its share when several share a machine", (*intValue)(&c.Procs)},
		{"metrics-listen", "HTTP address for Prometheus /metrics; empty: off", (*stringValue)(&c.MetricsListen)},
		{"log-format", "log format: text | json", (*stringValue)(&c.LogFormat)},
		{"log-level", "log level: debug | info | warn | error", (*stringValue)(&c.LogLevel)},
	}
}

// envName is the environment variable of a setting: RINGCACHE_DATA_DIR.
func envName(name string) string {
	return "RINGCACHE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// loadConfig reads the settings with the precedence flags, then the YAML
// file, then RINGCACHE_* variables, then defaults. It returns flag.ErrHelp
// after printing the help for --help.
func loadConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	cfg := defaultConfig()
	set := cfg.settings()
	fs := flag.NewFlagSet("ringcache", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { usage(out, set) }
	for _, s := range set {
		fs.Var(s.value, s.name, s.help)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, fmt.Errorf("%w: %w", errConfig, err)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("%w: unexpected argument %q", errConfig, fs.Arg(0))
	}
	fromFlags := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { fromFlags[f.Name] = true })

	byName := map[string]setting{}
	for _, s := range set {
		byName[s.name] = s
	}
	for _, s := range set { // environment: lowest precedence after defaults
		if fromFlags[s.name] {
			continue
		}
		if v := getenv(envName(s.name)); v != "" {
			if err := s.value.Set(v); err != nil {
				return cfg, fmt.Errorf("%w: %s=%q: %w", errConfig, envName(s.name), v, err)
			}
		}
	}
	if cfg.ConfigFile != "" {
		file, err := readYAML(cfg.ConfigFile)
		if err != nil {
			return cfg, err
		}
		for _, name := range sortedKeys(file) {
			s, ok := byName[name]
			if !ok || name == "config" {
				return cfg, fmt.Errorf("%w: %s: unknown setting %q", errConfig, cfg.ConfigFile, name)
			}
			if fromFlags[name] {
				continue
			}
			if err := s.value.Set(file[name]); err != nil {
				return cfg, fmt.Errorf("%w: %s: %s: %w", errConfig, cfg.ConfigFile, name, err)
			}
		}
	}
	return cfg, cfg.validate()
}

func readYAML(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: config: %w", errConfig, err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: config %s: %w", errConfig, path, err)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch v := v.(type) {
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			out[k] = strings.Join(parts, ",")
		case nil:
			out[k] = ""
		default:
			out[k] = fmt.Sprint(v)
		}
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (c Config) validate() error {
	bad := func(name, format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", errConfig, name, fmt.Sprintf(format, a...))
	}
	switch {
	case c.Listen == "":
		return bad("listen", "must not be empty")
	case c.DataDir == "":
		return bad("data-dir", "must not be empty")
	case c.MaxClients < 1:
		return bad("maxclients", "must be at least 1, got %d", c.MaxClients)
	case c.Databases < 1 || c.Databases > 1<<20:
		return bad("databases", "must be between 1 and %d, got %d", 1<<20, c.Databases)
	case c.ClientTimeout < 0:
		return bad("client-timeout", "must not be negative")
	case c.MaxBulkLen < 1:
		return bad("proto-max-bulk-len", "must be at least 1")
	case c.QueryBufLimit < 1024:
		return bad("client-query-buffer-limit", "must be at least 1kb")
	case c.CacheSize < 0:
		return bad("cache-size", "must not be negative")
	case c.RowCacheSize < 0:
		return bad("row-cache-size", "must not be negative")
	case c.MemtableSize < 1<<20 || c.MemtableSize >= 4<<30:
		return bad("memtable-size", "must be at least 1mb and below 4gb")
	case c.TombstoneGrace < 0:
		return bad("tombstone-grace", "must not be negative")
	case c.MaxMemorySamples < 1 || c.MaxMemorySamples > 64:
		return bad("maxmemory-samples", "must be between 1 and 64, got %d", c.MaxMemorySamples)
	case c.ClusterListen != "" && c.GossipListen == "":
		return bad("gossip-listen", "is required with cluster-listen")
	case c.ClusterListen == "" && (c.GossipListen != "" || len(c.Seeds) > 0):
		return bad("cluster-listen", "is required with gossip-listen and seeds")
	case c.ClusterListen == "" && (c.Replace != "" || c.Decommission):
		return bad("cluster-listen", "is required with replace and decommission")
	case c.Replace != "" && c.Replace == c.NodeID:
		return bad("replace", "names this node's own id; the replacement needs an id of its own")
	case c.Replicas < 1:
		return bad("replicas", "must be at least 1, got %d", c.Replicas)
	case c.ReadQuorum < 1 || c.ReadQuorum > c.Replicas:
		return bad("read-quorum", "must be between 1 and replicas (%d), got %d", c.Replicas, c.ReadQuorum)
	case c.WriteQuorum < 1 || c.WriteQuorum > c.Replicas:
		return bad("write-quorum", "must be between 1 and replicas (%d), got %d", c.Replicas, c.WriteQuorum)
	case c.VNodes < 1 || c.VNodes > 4096:
		return bad("vnodes", "must be between 1 and 4096, got %d", c.VNodes)
	case c.RequestTimeout <= 0:
		return bad("timeout", "must be positive")
	case c.ReadSpeculation < 0:
		return bad("read-speculation", "must not be negative")
	case c.MaxClockSkew <= 0:
		return bad("max-clock-skew", "must be positive")
	case c.ClusterName == "":
		return bad("cluster-name", "must not be empty")
	case c.HintReplayRate < 1:
		return bad("hint-replay-rate", "must be positive")
	case c.MaxHintWindow <= 0:
		return bad("max-hint-window", "must be positive")
	case c.MaxHintsBytes < 1:
		return bad("max-hints-bytes", "must be positive")
	case c.AntiEntropyInterval < 0:
		return bad("anti-entropy-interval", "must not be negative")
	case c.AntiEntropyRate < 1:
		return bad("anti-entropy-rate", "must be positive")
	case c.ClusterMaxFrame < 1<<10 || c.ClusterMaxFrame > 1<<30:
		return bad("cluster-max-frame", "must be between 1kb and 1gb, got %s", c.ClusterMaxFrame.String())
	case c.ShutdownTimeout <= 0:
		return bad("shutdown-timeout", "must be positive")
	case c.Procs < 0 || c.Procs > maxProcs:
		return bad("procs", "must be between 0 and %d, got %d", maxProcs, c.Procs)
	case c.LogFormat != "text" && c.LogFormat != "json":
		return bad("log-format", "must be text or json, got %q", c.LogFormat)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return bad("log-level", "%v", err)
	}
	return nil
}

func usage(out io.Writer, set []setting) {
	fmt.Fprintf(out, "Usage: ringcache [flags]\n\n")
	fmt.Fprintf(out, "Every setting is a flag, a key of the --config YAML file, and a RINGCACHE_* variable;\n")
	fmt.Fprintf(out, "a flag beats the file, the file beats the environment.\n\n")
	for _, s := range set {
		def := s.value.String()
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(out, "  --%s\n      %s (default %s; env %s)\n", s.name, s.help, def, envName(s.name))
	}
}

type stringValue string

func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }
func (v *stringValue) String() string     { return string(*v) }

// stringList is a comma-separated list.
type stringList []string

func (v *stringList) Set(s string) error {
	*v = nil
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*v = append(*v, part)
		}
	}
	return nil
}
func (v *stringList) String() string { return strings.Join(*v, ",") }

type intValue int

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not an integer: %q", s)
	}
	*v = intValue(n)
	return nil
}
func (v *intValue) String() string { return strconv.Itoa(int(*v)) }

type boolValue bool

func (v *boolValue) Set(s string) error {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "on":
		*v = true
	case "0", "false", "no", "off":
		*v = false
	default:
		return fmt.Errorf("not a boolean: %q", s)
	}
	return nil
}
func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }

type durationValue time.Duration

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("not a duration (like 500ms, 10s, 1h): %q", s)
	}
	*v = durationValue(d)
	return nil
}
func (v *durationValue) String() string { return time.Duration(*v).String() }

type fsyncValue engine.FsyncMode

func (v *fsyncValue) Set(s string) error {
	m, err := engine.ParseFsync(s)
	if err != nil {
		return err
	}
	*v = fsyncValue(m)
	return nil
}
func (v *fsyncValue) String() string { return engine.FsyncMode(*v).String() }

type policyValue evict.Policy

func (v *policyValue) Set(s string) error {
	p, err := evict.ParsePolicy(s)
	if err != nil {
		return err
	}
	*v = policyValue(p)
	return nil
}
func (v *policyValue) String() string { return evict.Policy(*v).String() }

// byteSize is a count of bytes written as 1024, 64kb, 512mb or 1gb.
type byteSize int64

func (v *byteSize) Set(s string) error {
	n, err := parseBytes(s)
	if err != nil {
		return err
	}
	*v = byteSize(n)
	return nil
}

func (v *byteSize) String() string { return formatBytes(int64(*v)) }

// redisBytes is a byte count of a setting Redis has (maxmemory,
// proto-max-bulk-len, client-query-buffer-limit), in Redis's units: k, m
// and g are powers of 1000, kb, mb and gb powers of 1024.
type redisBytes int64

func (v *redisBytes) Set(s string) error {
	n, err := parseRedisBytes(strings.TrimSpace(s))
	if err != nil {
		return err
	}
	*v = redisBytes(n)
	return nil
}

func (v *redisBytes) String() string { return formatBytes(int64(*v)) }

type byteUnit struct {
	suffix string
	mult   int64
}

var byteUnits = []byteUnit{{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}}

func parseBytes(s string) (int64, error) { return parseUnits(s, byteUnits) }

// parseRedisBytes reads a byte count as Redis reads memory values
// (server.ParseMemory: digits and a unit, nothing else), up to 2^62. A
// value without digits, which Redis reads as 0 (no limit), is refused.
func parseRedisBytes(s string) (int64, error) {
	n, ok := server.ParseMemory([]byte(s))
	if !ok || n > 1<<62 || s == "" || s[0] < '0' || s[0] > '9' {
		return 0, fmt.Errorf("not a byte size (like 1048576, 64kb, 512mb, 1gb): %q", s)
	}
	return int64(n), nil
}

func parseUnits(s string, units []byteUnit) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("not a byte size (like 1048576, 64kb, 512mb, 1gb): %q", s)
	}
	return n * mult, nil
}

func formatBytes(n int64) string {
	for _, u := range byteUnits[:3] {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}
