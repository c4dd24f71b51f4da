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
	isolatedDesc = prometheus.NewDesc("ringcache_cluster_isolated",
		"1 while this node reaches no other cluster member by gossip (it refuses requests), else 0.", nil, nil)
	reachableDesc = prometheus.NewDesc("ringcache_cluster_reachable_members",
		"Other ring members this node reaches by gossip.", nil, nil)
	clockSkewDesc = prometheus.NewDesc("ringcache_max_clock_skew_seconds",
		"How far this node's clock is ahead of the peer it is furthest ahead of.", nil, nil)
	clockSkewWarningsDesc = prometheus.NewDesc("ringcache_clock_skew_warnings_total",
		"Clock comparisons that found this node ahead of a peer by more than max-clock-skew.", nil, nil)
	hintsPendingDesc = prometheus.NewDesc("ringcache_hints_pending",
		"Hints this node holds, by target node.", []string{"target"}, nil)
	hintsBytesDesc = prometheus.NewDesc("ringcache_hints_bytes",
		"Size of the hints this node holds, by target node.", []string{"target"}, nil)
	hintsOldestDesc = prometheus.NewDesc("ringcache_hints_oldest_age_seconds",
		"Age of the oldest hint this node holds, by target node.", []string{"target"}, nil)
	hintsDeliveredDesc = prometheus.NewDesc("ringcache_hints_delivered_total",
		"Hints acknowledged by their target (or its successors) since start, by target node.", []string{"target"}, nil)
	hintsDroppedDesc = prometheus.NewDesc("ringcache_hints_dropped_total",
		"Hints refused (window passed, queue full) or discarded since start, by target node.", []string{"target"}, nil)
	hintsTooLargeDesc = prometheus.NewDesc("ringcache_hints_dropped_too_large_total",
		"Hints refused or discarded since start because no replica frame can carry them (counted in ringcache_hints_dropped_total too), by target node.", []string{"target"}, nil)
	aeTooLargeDesc = prometheus.NewDesc("ringcache_antientropy_keys_too_large_total",
		"Differing records anti-entropy left unrepaired because no replica frame can carry them (one per record and round).", nil, nil)
	aeRoundsDesc = prometheus.NewDesc("ringcache_antientropy_rounds_total",
		"Anti-entropy rounds run by this node.", nil, nil)
	aeKeysDesc = prometheus.NewDesc("ringcache_antientropy_keys_total",
		"Records repaired by anti-entropy, by direction (sent, received).", []string{"direction"}, nil)
	aeBytesDesc = prometheus.NewDesc("ringcache_antientropy_bytes_total",
		"Bytes exchanged by anti-entropy, by direction (sent, received).", []string{"direction"}, nil)
	aeRangesDesc = prometheus.NewDesc("ringcache_antientropy_ranges",
		"Ranges found in sync or out of sync by the last round.", []string{"state"}, nil)
	aeLastDesc = prometheus.NewDesc("ringcache_antientropy_last_round_timestamp_seconds",
		"When the last anti-entropy round started (Unix time; 0 before the first).", nil, nil)
	aeFailuresDesc = prometheus.NewDesc("ringcache_antientropy_exchange_failures_total",
		"Anti-entropy exchanges that ended in error.", nil, nil)
	fallbacksDesc = prometheus.NewDesc("ringcache_sloppy_fallbacks_total",
		"Substitute calls made after an owner failed mid-request.", nil, nil)
	speculationsDesc = prometheus.NewDesc("ringcache_read_speculations_total",
		"Reads that asked their other replicas because the first ones had not answered in time.", nil, nil)
	layoutEpochDesc = prometheus.NewDesc("ringcache_layout_epoch",
		"The layout epoch this node applied (every topology change increments it).", nil, nil)
	layoutOpDesc = prometheus.NewDesc("ringcache_topology_operation",
		"1 while a topology operation is in progress, by operation, node and stage.", []string{"op", "node", "stage"}, nil)
	streamRangesDesc = prometheus.NewDesc("ringcache_stream_ranges",
		"Ranges this node gains in the operation in progress, by state (done, total).", []string{"state"}, nil)
	streamRateDesc = prometheus.NewDesc("ringcache_stream_rate_bytes",
		"Bytes per second this node receives ranges at in the operation in progress.", nil, nil)
	streamETADesc = prometheus.NewDesc("ringcache_stream_eta_seconds",
		"Time left for this node's streaming in the operation in progress, at its rate (0: unknown).", nil, nil)
	streamedKeysDesc = prometheus.NewDesc("ringcache_streamed_keys_total",
		"Records this node received streaming ranges it gained, since start.", nil, nil)
	streamedBytesDesc = prometheus.NewDesc("ringcache_streamed_bytes_total",
		"Bytes this node received streaming ranges it gained, since start.", nil, nil)
	cleanupKeysDesc = prometheus.NewDesc("ringcache_cleanup_keys_total",
		"Records this node dropped after operations, from ranges it no longer replicates.", nil, nil)
)

// clusterCollector exports a node's figures at scrape time.
type clusterCollector struct{ node *cluster.Node }

func (clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{quorumFailuresDesc, readRepairsDesc, membersDesc, isolatedDesc, reachableDesc,
		clockSkewDesc, clockSkewWarningsDesc,
		hintsPendingDesc, hintsBytesDesc, hintsOldestDesc, hintsDeliveredDesc, hintsDroppedDesc, fallbacksDesc,
		speculationsDesc, aeRoundsDesc, aeKeysDesc, aeBytesDesc, aeRangesDesc, aeLastDesc, aeFailuresDesc,
		hintsTooLargeDesc, aeTooLargeDesc, layoutEpochDesc, layoutOpDesc, streamRangesDesc, streamRateDesc,
		streamETADesc, streamedKeysDesc, streamedBytesDesc, cleanupKeysDesc} {
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
	isolated := 0.0
	if s.Isolated {
		isolated = 1
	}
	gauge(isolatedDesc, isolated)
	gauge(reachableDesc, float64(s.Reachable))
	gauge(clockSkewDesc, s.MaxClockSkew.Seconds())
	counter(clockSkewWarningsDesc, s.ClockSkewWarnings)
	counter(fallbacksDesc, s.Coordinator.Fallbacks)
	counter(speculationsDesc, s.Coordinator.ReadSpeculations)
	ae := c.node.Repairer().Stats()
	counter(aeRoundsDesc, ae.Rounds)
	counter(aeKeysDesc, ae.KeysSent, "sent")
	counter(aeKeysDesc, ae.KeysReceived, "received")
	counter(aeBytesDesc, ae.BytesSent, "sent")
	counter(aeBytesDesc, ae.BytesReceived, "received")
	gauge(aeRangesDesc, float64(ae.RangesInSync), "in_sync")
	gauge(aeRangesDesc, float64(ae.RangesOutOfSync), "out_of_sync")
	last := 0.0
	if !ae.LastRound.IsZero() {
		last = float64(ae.LastRound.UnixMilli()) / 1000
	}
	gauge(aeLastDesc, last)
	counter(aeFailuresDesc, ae.ExchangeFailures)
	counter(aeTooLargeDesc, ae.KeysTooLarge)
	tr := c.node.TransferStats()
	gauge(layoutEpochDesc, float64(c.node.Layout().Epoch))
	if tr.Op != "" {
		gauge(layoutOpDesc, 1, tr.Op, tr.Node, tr.Stage)
	}
	gauge(streamRangesDesc, float64(tr.RangesDone), "done")
	gauge(streamRangesDesc, float64(tr.RangesTotal), "total")
	gauge(streamRateDesc, tr.Rate)
	gauge(streamETADesc, tr.ETA.Seconds())
	counter(streamedKeysDesc, tr.TotalKeys)
	counter(streamedBytesDesc, tr.TotalBytes)
	counter(cleanupKeysDesc, tr.CleanedKeys)
	for _, h := range c.node.HintStats() {
		counter(hintsTooLargeDesc, h.TooLarge, h.Target)
	}
	for _, h := range c.node.Hints() {
		gauge(hintsPendingDesc, float64(h.Pending), h.Target)
		gauge(hintsBytesDesc, float64(h.Bytes), h.Target)
		gauge(hintsOldestDesc, float64(h.OldestAgeMs)/1000, h.Target)
		counter(hintsDeliveredDesc, h.Delivered, h.Target)
		counter(hintsDroppedDesc, h.Dropped, h.Target)
	}
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
