package main

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringcache/ringcache/cluster"
)

var (
	quorumFailuresDesc = prometheus.NewDesc("ringcache_quorum_failures_total",
		"Requests answered with NOQUORUM, by kind (read, write).", []string{"kind"}, nil)
	readRepairsDesc = prometheus.NewDesc("ringcache_read_repairs_total",
		"Records repaired by quorum reads, by when (sync: before the reply; background: late repliers).", []string{"when"}, nil)
	membersDesc = prometheus.NewDesc("ringcache_members",
		"Cluster members as this node sees them, by state.", []string{"state"}, nil)
	clockSkewDesc = prometheus.NewDesc("ringcache_max_clock_skew_seconds",
		"How far this node's clock is ahead of the peer it is furthest ahead of.", nil, nil)
	clockSkewWarningsDesc = prometheus.NewDesc("ringcache_clock_skew_warnings_total",
		"Clock comparisons that found this node ahead of a peer by more than max-clock-skew.", nil, nil)
)

// clusterCollector exports a node's figures at scrape time.
type clusterCollector struct{ node *cluster.Node }

func (clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{quorumFailuresDesc, readRepairsDesc, membersDesc, clockSkewDesc, clockSkewWarningsDesc} {
		ch <- d
	}
}

func (c clusterCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.node.Stats()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(quorumFailuresDesc, s.Coordinator.ReadQuorumFailures, "read")
	counter(quorumFailuresDesc, s.Coordinator.WriteQuorumFailures, "write")
	counter(readRepairsDesc, s.Coordinator.ReadRepairsSync, "sync")
	counter(readRepairsDesc, s.Coordinator.ReadRepairsBackground, "background")
	gauge(membersDesc, float64(s.Members.Alive), "alive")
	gauge(membersDesc, float64(s.Members.Suspect), "suspect")
	gauge(membersDesc, float64(s.Members.Dead), "dead")
	gauge(membersDesc, float64(s.Members.Left), "left")
	gauge(clockSkewDesc, s.MaxClockSkew.Seconds())
	counter(clockSkewWarningsDesc, s.ClockSkewWarnings)
}

// watchNode adds the cluster node's figures to the registry.
func (m *metrics) watchNode(n *cluster.Node) {
	m.reg.MustRegister(clusterCollector{n})
}

// observeRPC records one replica RPC's latency, by peer and operation.
func (m *metrics) observeRPC(peer string, op uint8, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.rpc.WithLabelValues(peer, strconv.Itoa(int(op)), result).Observe(d.Seconds())
}
