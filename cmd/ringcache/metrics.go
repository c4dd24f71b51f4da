package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ringcache/ringcache/engine"
)

// metrics is the node's Prometheus registry. It implements server.Metrics
// and reads the engine's Stats at scrape time.
type metrics struct {
	reg *prometheus.Registry

	commands *prometheus.CounterVec
	failed   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	conns    prometheus.Gauge
	accepted prometheus.Counter
	rejected *prometheus.CounterVec
	rpc      *prometheus.HistogramVec

	// perCmd caches the children of the vectors by command name, so the
	// command path does no label hashing.
	perCmd sync.Map // string -> *cmdMetrics
}

type cmdMetrics struct {
	count, failed prometheus.Counter
	latency       prometheus.Observer
}

func newMetrics(eng *engine.Engine) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringcache_commands_total", Help: "Commands processed, by command name.",
		}, []string{"command"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringcache_command_errors_total", Help: "Commands answered with an error, by command name.",
		}, []string{"command"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ringcache_command_duration_seconds",
			Help:    "Time to execute a command, by command name.",
			Buckets: prometheus.ExponentialBuckets(5e-6, 2.5, 14),
		}, []string{"command"}),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ringcache_connected_clients", Help: "Client connections open now.",
		}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringcache_connections_total", Help: "Client connections accepted.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringcache_rejected_connections_total", Help: "Client connections refused, by reason.",
		}, []string{"reason"}),
		rpc: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ringcache_rpc_duration_seconds",
			Help:    "Replica RPC latency, by peer node id, operation code and result.",
			Buckets: prometheus.ExponentialBuckets(20e-6, 2.5, 12),
		}, []string{"peer", "op", "result"}),
	}
	m.reg.MustRegister(m.commands, m.failed, m.latency, m.conns, m.accepted, m.rejected, m.rpc,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if eng != nil {
		m.reg.MustRegister(engineCollector{eng})
	}
	return m
}

func (m *metrics) forCommand(name string) *cmdMetrics {
	if c, ok := m.perCmd.Load(name); ok {
		return c.(*cmdMetrics)
	}
	c := &cmdMetrics{
		count:   m.commands.WithLabelValues(name),
		failed:  m.failed.WithLabelValues(name),
		latency: m.latency.WithLabelValues(name),
	}
	actual, _ := m.perCmd.LoadOrStore(name, c)
	return actual.(*cmdMetrics)
}

// ObserveCommand implements server.Metrics.
func (m *metrics) ObserveCommand(name string, d time.Duration, failed bool) {
	c := m.forCommand(name)
	c.count.Inc()
	c.latency.Observe(d.Seconds())
	if failed {
		c.failed.Inc()
	}
}

// ConnOpened implements server.Metrics.
func (m *metrics) ConnOpened() { m.conns.Inc(); m.accepted.Inc() }

// ConnClosed implements server.Metrics.
func (m *metrics) ConnClosed() { m.conns.Dec() }

// ConnRejected implements server.Metrics.
func (m *metrics) ConnRejected(reason string) { m.rejected.WithLabelValues(reason).Inc() }

// serve starts the /metrics endpoint on addr.
func (m *metrics) serve(addr string, log *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	// Profiles for finding where the time goes (the endpoint binds loopback by default).
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "err", err)
		}
	}()
	return srv, nil
}

// engineCollector exports the engine's Stats at scrape time.
type engineCollector struct{ eng *engine.Engine }

var engineStatDesc = prometheus.NewDesc("ringcache_engine", "Storage engine figure, by name.", []string{"stat"}, nil)

func (engineCollector) Describe(ch chan<- *prometheus.Desc) { ch <- engineStatDesc }

func (c engineCollector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c.eng.Stats().Numbers() {
		ch <- prometheus.MustNewConstMetric(engineStatDesc, prometheus.GaugeValue, f.Value, f.Name)
	}
}
