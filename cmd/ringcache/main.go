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
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/ringcache/ringcache/cluster"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/server"
)

// version is the ringcache release; INFO reports it.
var version = "0.1.0"

func main() {
	if os.Getenv("GOGC") == "" {
		// The row cache makes the live heap large and long-lived; collecting
		// at 3x it instead of 2x halves GC work on the write path for a
		// bounded amount of memory. GOGC in the environment still wins.
		debug.SetGCPercent(200)
	}
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
	log, err := newLogger(cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("ringcache stopped", "err", err)
		return 1
	}
	return 0
}

// serve runs the node until ctx is done, then shuts down in order: stop
// taking clients and finish in-flight commands, then close the engine (which
// syncs and closes Pebble).
func serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data-dir: %w", err)
	}
	nodeID, err := loadNodeID(cfg.DataDir, cfg.NodeID)
	if err != nil {
		return err
	}
	ecfg := engine.DefaultConfig()
	ecfg.Dir = cfg.DataDir + "/db"
	ecfg.Fsync = cfg.Fsync
	ecfg.CacheBytes = int64(cfg.CacheSize)
	ecfg.RowCacheBytes = int64(cfg.RowCacheSize)
	ecfg.MemTableBytes = int64(cfg.MemtableSize)
	ecfg.TombstoneGrace = cfg.TombstoneGrace
	ecfg.Logger = log.With("component", "engine")
	eng, err := engine.Open(ecfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := eng.Close(); err != nil {
			log.Error("closing engine", "err", err)
		}
	}()
	store := cluster.NewLocal(eng, cluster.NewClock(nodeID, nil), nil)

	metrics := newMetrics(eng)
	scfg := server.DefaultConfig()
	scfg.Addr = cfg.Listen
	scfg.RequirePass = cfg.RequirePass
	scfg.MaxClients = cfg.MaxClients
	scfg.ProtectedMode = cfg.ProtectedMode
	scfg.IdleTimeout = cfg.ClientTimeout
	scfg.MaxBulkLen = int64(cfg.MaxBulkLen)
	scfg.QueryBufferLimit = int64(cfg.QueryBufLimit)
	scfg.Logger = log.With("component", "server")
	scfg.Metrics = metrics
	scfg.Version = version
	scfg.Settings = cfg.publicSettings
	srv, err := server.New(scfg, store)
	if err != nil {
		return fmt.Errorf("%w: %v", errConfig, err)
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
	log.Info("ringcache ready", "version", version, "node_id", nodeID, "listen", ln.Addr().String(),
		"data_dir", cfg.DataDir, "fsync", cfg.Fsync.String(), "metrics", cfg.MetricsListen)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err = <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("client shutdown", "err", err)
	}
	if metricsSrv != nil {
		metricsSrv.Shutdown(sctx)
	}
	<-served
	return nil
}

// publicSettings is what CONFIG GET shows of the binary's own settings.
func (c Config) publicSettings() map[string]string {
	out := map[string]string{}
	for _, s := range c.settings() {
		if s.name == "requirepass" || s.name == "config" {
			continue
		}
		out[s.name] = s.value.String()
	}
	return out
}

func newLogger(cfg Config, w io.Writer) (*slog.Logger, error) {
	level, err := parseLevel(cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("unknown log level %q (debug, info, warn, error)", s)
	}
	return l, nil
}
