// Command ringcache runs one ringcache node: a Redis-protocol server whose
// records live in Pebble.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/ringcache/ringcache/cluster"
	"github.com/ringcache/ringcache/cluster/coordinator"
	"github.com/ringcache/ringcache/cluster/stall"
	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/engine/evict"
	"github.com/ringcache/ringcache/engine/hlc"
	"github.com/ringcache/ringcache/server"
	"github.com/ringcache/ringcache/server/local"
)

// version is the ringcache release; INFO reports it.
var version = "0.1.0"

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	log, level, err := newLogger(cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if cfg.Procs > 0 {
		runtime.GOMAXPROCS(cfg.Procs)
	}
	sigCtx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// SHUTDOWN from a client stops the node as SIGTERM does.
	ctx, shutdown := context.WithCancel(sigCtx)
	defer shutdown()
	wd := startWatchdog(ctx, cfg.ShutdownTimeout, stop, func() {
		log.Error("shutdown did not finish within shutdown-timeout; exiting without closing the engine (every acknowledged write is in its write-ahead log)",
			"shutdown_timeout", cfg.ShutdownTimeout)
		os.Exit(1)
	})
	defer wd.stop()
	if err := serve(ctx, cfg, log, level, shutdown); err != nil {
		log.Error("ringcache stopped", "err", err)
		return 1
	}
	log.Info("ringcache stopped", "shutdown_seconds", wd.elapsed().Seconds())
	return 0
}

// serve runs the node until ctx is done, then shuts down in order: stop
// taking clients and finish in-flight commands (for at most half of
// --shutdown-timeout), stop the cluster node (which does not leave the
// cluster), then close the engine (which syncs and closes Pebble). The
// watchdog in run bounds the whole.
func serve(ctx context.Context, cfg Config, log *slog.Logger, level *slog.LevelVar, shutdown func()) error {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data-dir: %w", err)
	}
	nodeID, err := loadNodeID(cfg.DataDir, cfg.NodeID)
	if err != nil {
		return err
	}
	cfg.NodeID = nodeID // CONFIG GET node-id shows the id in use
	// In a cluster, a tombstone past its grace period is purged only with
	// the node's proof that every replica of its range has it; until the
	// node runs, none is.
	var clusterNode atomic.Pointer[cluster.Node]
	hook := new(readHook)
	eng, err := openEngine(cfg, &clusterNode, hook, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := eng.Close(); err != nil {
			log.Error("closing engine", "err", err)
		}
	}()
	metrics := newMetrics(eng)
	// Notices when this process was not running (SIGSTOP, a frozen
	// machine), so that requests that waited through it are not run as
	// if they had just arrived.
	stalls, err := stall.Start(stall.DefaultConfig())
	if err != nil {
		return err
	}
	defer stalls.Close()
	p := &parts{cfg: cfg, log: log, level: level, eng: eng, metrics: metrics, stalls: stalls, shutdown: shutdown}
	if cfg.ClusterListen == "" {
		single := local.New(eng, hlc.New(nodeID, nil), nil)
		single.SetNode(nodeID, cfg.Listen)
		if p.ev, err = startEvictor(cfg, eng, nil, hook, log); err != nil {
			return err
		}
		defer p.ev.Close()
		return runServer(ctx, p, single, nil)
	}
	node, err := startClusterNode(ctx, cfg, nodeID, eng, metrics, stalls, log)
	if err != nil {
		return err
	}
	clusterNode.Store(node)
	// Stopping is not leaving: the node stops gossiping without a
	// goodbye, the other members see it dead and keep its place in the
	// ring, and it starts again with the ring it persisted.
	defer func() {
		if err := node.Close(); err != nil {
			log.Warn("stopping the cluster node", "err", err)
		}
	}()
	if p.ev, err = startEvictor(cfg, eng, node, hook, log); err != nil {
		return err
	}
	defer p.ev.Close() // before the node and the engine
	return runServer(ctx, p, node, node)
}

// parts are what serve opened for the RESP server to use.
type parts struct {
	cfg      Config
	log      *slog.Logger
	level    *slog.LevelVar // the log's, which CONFIG SET log-level changes
	eng      *engine.Engine
	metrics  *metrics
	stalls   *stall.Detector
	shutdown func() // stops the process as SIGTERM does
	ev       *evict.Evictor
}

// openEngine opens the node's Pebble store under data-dir. In a cluster
// (cluster-listen set), tombstones are purged only when node says so.
func openEngine(cfg Config, node *atomic.Pointer[cluster.Node], hook *readHook, log *slog.Logger) (*engine.Engine, error) {
	ecfg := engine.DefaultConfig()
	ecfg.Dir = cfg.DataDir + "/db"
	ecfg.Fsync = cfg.Fsync
	ecfg.CacheBytes = int64(cfg.CacheSize)
	ecfg.RowCacheBytes = int64(cfg.RowCacheSize)
	if cfg.MaxMemory > 0 {
		// A cache with a budget keeps its row cache within it too: a
		// record cache larger than the dataset only holds RSS.
		ecfg.RowCacheBytes = min(ecfg.RowCacheBytes, int64(cfg.MaxMemory))
	}
	ecfg.MemTableBytes = int64(cfg.MemtableSize)
	ecfg.TombstoneGrace = cfg.TombstoneGrace
	ecfg.Logger = log.With("component", "engine")
	ecfg.OnRead = hook.onRead
	// The engine counts keys per database, for DBSIZE and INFO.
	ecfg.Classify, ecfg.Classes = server.KeyDatabase, cfg.Databases
	if cfg.ClusterListen != "" {
		ecfg.PurgeAllowed = func(key []byte, r engine.Record, storedAt int64) bool {
			n := node.Load()
			return n != nil && n.PurgeAllowed(key, r, storedAt)
		}
	}
	return engine.Open(ecfg)
}

// runServer serves RESP clients from store on cfg.Listen (and metrics on
// metrics-listen) until ctx ends, then shuts the server down; node is nil
// on a single node.
func runServer(ctx context.Context, p *parts, store server.Store, node *cluster.Node) error {
	cfg, log, metrics := p.cfg, p.log, p.metrics
	scfg := server.DefaultConfig()
	scfg.Addr = cfg.Listen
	scfg.RequirePass = cfg.RequirePass
	scfg.MaxClients = cfg.MaxClients
	scfg.ProtectedMode = cfg.ProtectedMode
	scfg.IdleTimeout = cfg.ClientTimeout
	scfg.Databases = cfg.Databases
	scfg.StrictTransactions = cfg.StrictTransactions
	scfg.ForwardTimeout = cfg.RequestTimeout
	scfg.MaxBulkLen = int64(cfg.MaxBulkLen)
	scfg.QueryBufferLimit = int64(cfg.QueryBufLimit)
	scfg.Logger = log.With("component", "server")
	if cfg.MetricsListen != "" {
		scfg.Metrics = metrics // nobody scrapes otherwise: spare the command path
	}
	scfg.Version = version
	live := &liveConfig{cfg: cfg}
	scfg.Settings = live.publicSettings
	scfg.RuntimeSettings = live.runtimeSettings(p.level, node, p.ev)
	scfg.Memory = memory{ev: p.ev, eng: p.eng}
	scfg.Checkpoint = func() error { return checkpoint(p.eng, cfg.DataDir) }
	scfg.Shutdown = p.shutdown
	if node != nil {
		scfg.Consistency = coordinator.ConsistencyContext
		// A command held up by a stall of the process is refused only in
		// a cluster: a single node's client has no other node it could
		// have written to meanwhile.
		scfg.Arrivals, scfg.MaxWait = p.stalls, cfg.RequestTimeout
	}
	srv, err := server.New(scfg, store)
	if err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	if node != nil {
		// Other nodes forward read-modify-write commands to this one as
		// their keys' primary.
		node.SetForwardHandler(srv.ServeForward)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	var metricsSrv *http.Server
	if cfg.MetricsListen != "" {
		if metricsSrv, err = metrics.serve(cfg.MetricsListen, log); err != nil {
			ln.Close()
			return err
		}
	}
	log.Info("ringcache ready", "version", version, "node_id", cfg.NodeID, "listen", ln.Addr().String(),
		"data_dir", cfg.DataDir, "fsync", cfg.Fsync.String(), "metrics", cfg.MetricsListen, "procs", runtime.GOMAXPROCS(0))

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var nodeDone <-chan struct{}
	if node != nil {
		nodeDone = node.Done()
	}
	var stopped error
	select {
	case err = <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	case <-nodeDone:
		// The node left the cluster (exit 0), or its join was refused.
		if stopped = node.Err(); stopped == nil {
			log.Info("left the cluster; exiting")
		}
	}
	log.Info("shutting down", "shutdown_timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout/2)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("client shutdown", "err", err)
	}
	if metricsSrv != nil {
		metricsSrv.Shutdown(sctx)
	}
	<-served
	return stopped
}

// startClusterNode joins the cluster: gossip through the seeds, replica RPC
// on cluster-listen, quorum operations through the coordinator.
func startClusterNode(ctx context.Context, cfg Config, nodeID string, eng *engine.Engine, m *metrics, stalls *stall.Detector, log *slog.Logger) (*cluster.Node, error) {
	ncfg := cluster.DefaultNodeConfig()
	ncfg.NodeID = nodeID
	ncfg.ClientAddr = cfg.Listen
	ncfg.ClusterListen = cfg.ClusterListen
	ncfg.GossipListen = cfg.GossipListen
	ncfg.Seeds = cfg.Seeds
	ncfg.Secret = cfg.ClusterSecret
	ncfg.ClusterName = cfg.ClusterName
	cc := &ncfg.Coordinator
	cc.N, cc.R, cc.W = cfg.Replicas, cfg.ReadQuorum, cfg.WriteQuorum
	cc.Timeout = cfg.RequestTimeout
	cc.ReadSpeculation = cfg.ReadSpeculation
	ncfg.Membership.VNodes = cfg.VNodes
	ncfg.MaxClockSkew = cfg.MaxClockSkew
	ncfg.HintedHandoff = cfg.HintedHandoff
	ncfg.Handoff.ReplayRate = int64(cfg.HintReplayRate)
	ncfg.Handoff.MaxWindow = cfg.MaxHintWindow
	ncfg.Handoff.MaxBytes = int64(cfg.MaxHintsBytes)
	ncfg.AntiEntropy.Interval = cfg.AntiEntropyInterval
	ncfg.AntiEntropy.Rate = int64(cfg.AntiEntropyRate)
	ncfg.NoJoin, ncfg.Replace, ncfg.StreamRate = !cfg.Join, cfg.Replace, int64(cfg.StreamRate)
	ncfg.Transport.MaxFrameBytes = int(cfg.ClusterMaxFrame)
	ncfg.Engine = eng
	ncfg.Logger = log.With("component", "cluster")
	ncfg.ObserveRPC = m.observeRPC
	ncfg.Transport.Arrivals = stalls
	if err := ncfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	node, err := cluster.StartNode(ctx, ncfg)
	if err != nil {
		return nil, fmt.Errorf("joining the cluster: %w", err)
	}
	m.watchNode(node)
	if cfg.Decommission {
		go func() {
			if err := node.StartLeave(ctx); err != nil {
				log.Error("decommission: leaving the cluster", "err", err)
			}
		}()
	}
	log.Info("cluster node started", "cluster_listen", node.ClusterAddr(), "gossip", node.GossipAddr(),
		"seeds", cfg.Seeds.String(), "replicas", cfg.Replicas, "read_quorum", cfg.ReadQuorum, "write_quorum", cfg.WriteQuorum,
		"max_record_bytes", transport.MaxRecordBytes(int(cfg.ClusterMaxFrame)))
	return node, nil
}

// publicSettings is what CONFIG GET shows of the binary's own settings.
// Secrets are left out, and the quorum request timeout is shown as
// request-timeout: clients read "timeout" as Redis's idle-client timeout
// in seconds, which the server reports itself.
func (c Config) publicSettings() map[string]string {
	out := map[string]string{}
	for _, s := range c.settings() {
		switch s.name {
		case "requirepass", "config", "cluster-secret":
		case "timeout":
			out["request-timeout"] = s.value.String()
		case "maxmemory":
			out[s.name] = strconv.FormatInt(int64(c.MaxMemory), 10) // bytes, as Redis shows it
		default:
			out[s.name] = s.value.String()
		}
	}
	return out
}

// liveConfig is the binary's settings as CONFIG GET shows them, with what
// CONFIG SET changed while the process runs.
type liveConfig struct {
	mu  sync.Mutex
	cfg Config
}

func (l *liveConfig) publicSettings() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cfg.publicSettings()
}

// runtimeSettings are the settings CONFIG SET changes in the running
// process: the log level, and in a cluster the node's throttles (bytes
// per second, in the units of the flags) of anti-entropy, streaming and,
// when it is on, hint replay.
func (l *liveConfig) runtimeSettings(level *slog.LevelVar, node *cluster.Node, ev *evict.Evictor) map[string]func(string) (func(), error) {
	record := func(change func(*Config)) {
		l.mu.Lock()
		defer l.mu.Unlock()
		change(&l.cfg)
	}
	set := map[string]func(string) (func(), error){
		"log-level": func(v string) (func(), error) {
			lv, err := parseLevel(v)
			if err != nil {
				return nil, err
			}
			return func() {
				level.Set(lv)
				record(func(c *Config) { c.LogLevel = strings.ToLower(v) })
			}, nil
		},
		"maxmemory": func(v string) (func(), error) {
			n, err := parseRedisBytes(v)
			if err != nil {
				return nil, err
			}
			return func() {
				ev.SetMaxMemory(n)
				record(func(c *Config) { c.MaxMemory = redisBytes(n) })
			}, nil
		},
		"maxmemory-policy": func(v string) (func(), error) {
			p, err := evict.ParsePolicy(v)
			if err != nil {
				return nil, err
			}
			return func() {
				ev.SetPolicy(p)
				record(func(c *Config) { c.MaxMemoryPolicy = policyValue(p) })
			}, nil
		},
		"maxmemory-samples": func(v string) (func(), error) {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 64 {
				return nil, fmt.Errorf("must be an integer between 1 and 64")
			}
			return func() {
				ev.SetSamples(n)
				record(func(c *Config) { c.MaxMemorySamples = n })
			}, nil
		},
	}
	if node == nil {
		return set
	}
	throttle := func(least int64, apply func(int64), field func(*Config) *byteSize) func(string) (func(), error) {
		return func(v string) (func(), error) {
			n, err := parseBytes(v)
			if err == nil && n < least {
				err = fmt.Errorf("must be at least %d", least)
			}
			if err != nil {
				return nil, err
			}
			return func() {
				apply(n)
				record(func(c *Config) { *field(c) = byteSize(n) })
			}, nil
		}
	}
	set["anti-entropy-rate"] = throttle(1, node.SetAntiEntropyRate, func(c *Config) *byteSize { return &c.AntiEntropyRate })
	set["stream-rate"] = throttle(0, node.SetStreamRate, func(c *Config) *byteSize { return &c.StreamRate })
	if l.cfg.HintedHandoff {
		set["hint-replay-rate"] = throttle(1, func(n int64) { node.SetHintReplayRate(n) }, func(c *Config) *byteSize { return &c.HintReplayRate })
	}
	return set
}

// newLogger returns the process's logger and its level, which CONFIG SET
// log-level changes while it runs.
func newLogger(cfg Config, w io.Writer) (*slog.Logger, *slog.LevelVar, error) {
	level, err := parseLevel(cfg.LogLevel)
	if err != nil {
		return nil, nil, err
	}
	lv := new(slog.LevelVar)
	lv.Set(level)
	opts := &slog.HandlerOptions{Level: lv}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), lv, nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), lv, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("unknown log level %q (debug, info, warn, error)", s)
	}
	return l, nil
}
