package cluster

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ringcache/ringcache/cluster/coordinator"
	"github.com/ringcache/ringcache/cluster/handoff"
	"github.com/ringcache/ringcache/cluster/layout"
	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/server/local"
	"github.com/ringcache/ringcache/server/store"
)

// The Node is what the RESP server serves: it implements server.Store
// (checked in store_test.go) with the coordinator's quorum reads and
// writes, refused while the node is isolated (node_isolation.go),
// together with the operator views (ClusterView, HintsView, Repairer,
// KeyEstimator, InfoProvider) that the server finds by type assertion
// on the one Store it is given.

// Get implements server.Store: the coordinator's quorum read, unless
// this node is isolated.
func (n *Node) Get(ctx context.Context, keys [][]byte) ([]store.Item, error) {
	if err := n.refuseIsolated(); err != nil {
		return nil, err
	}
	return n.coord.Get(ctx, keys)
}

// Scan implements server.Scanner: one step of the coordinator's scan of
// the whole keyspace, unless this node is isolated.
func (n *Node) Scan(ctx context.Context, cursor uint64, count int) ([][]byte, uint64, error) {
	if err := n.refuseIsolated(); err != nil {
		return nil, 0, err
	}
	return n.coord.Scan(ctx, cursor, count)
}

// GetLatest implements server.LatestReader: the coordinator's read of
// every reachable replica, unless this node is isolated.
func (n *Node) GetLatest(ctx context.Context, keys [][]byte) ([]store.Item, error) {
	if err := n.refuseIsolated(); err != nil {
		return nil, err
	}
	return n.coord.GetLatest(ctx, keys)
}

// Put implements server.Store: the coordinator's quorum write, unless
// this node is isolated.
func (n *Node) Put(ctx context.Context, muts []store.Mutation) error {
	if err := n.refuseIsolated(); err != nil {
		return err
	}
	return n.coord.Put(ctx, muts)
}

// Len implements server.Store (DBSIZE): the coordinator's estimate over
// every member, unless this node is not a member of a cluster. (An
// isolated node answers from the members it reaches: itself.)
func (n *Node) Len(ctx context.Context) (int64, error) {
	if err := notJoinedErr(n.topo.Load()); err != nil {
		return 0, err
	}
	return n.coord.Len(ctx)
}

// Flush implements server.Store (FLUSHALL): every member drops its data,
// unless this node is not a member of a cluster.
func (n *Node) Flush(ctx context.Context) error {
	if err := notJoinedErr(n.topo.Load()); err != nil {
		return err
	}
	return n.coord.Flush(ctx)
}

// refuseIsolated returns the isolation error, counting the refusal, or
// nil.
func (n *Node) refuseIsolated() error {
	err := isolationErr(n.topo.Load())
	if err != nil {
		n.isolatedRefusals.Add(1)
	}
	return err
}

// Hints implements server.HintsView: the hints this node holds, per
// target (none when hinted handoff is off).
func (n *Node) Hints() []store.HintInfo {
	if n.hints == nil {
		return nil
	}
	stats := n.hints.Stats()
	out := make([]store.HintInfo, len(stats))
	for i, s := range stats {
		out[i] = store.HintInfo{
			Target: s.Target, Pending: s.Pending, Bytes: s.Bytes,
			OldestAgeMs: s.OldestAge.Milliseconds(), Delivered: s.Delivered, Dropped: s.Dropped,
		}
	}
	return out
}

// hintsSection is INFO's "Hints" section: totals, then one line per
// target in Redis's "field=value,..." style (like keyspace lines).
func (n *Node) hintsSection() store.InfoSection {
	var stats []handoff.TargetStats
	if n.hints != nil {
		stats = n.hints.Stats()
	}
	t := handoff.Totals(stats)
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	on := "1"
	if n.hints == nil {
		on = "0"
	}
	fields := [][2]string{
		{"hinted_handoff_enabled", on},
		{"hints_pending", i(t.Pending)},
		{"hints_bytes", i(t.Bytes)},
		{"hints_oldest_age_ms", i(t.OldestAge.Milliseconds())},
		{"hints_delivered", i(t.Delivered)},
		{"hints_dropped", i(t.Dropped)},
		{"hints_targets", strconv.Itoa(len(stats))},
		{"cluster_dirty_buckets", strconv.Itoa(n.dirty.Len())},
	}
	for _, h := range stats {
		fields = append(fields, [2]string{"hints_target_" + h.Target, fmt.Sprintf(
			"pending=%d,bytes=%d,oldest_age_ms=%d,delivered=%d,dropped=%d",
			h.Pending, h.Bytes, h.OldestAge.Milliseconds(), h.Delivered, h.Dropped)})
	}
	return store.InfoSection{Name: "Hints", Fields: fields}
}

// Nodes implements server.ClusterView: every known member, sorted by id,
// with its state (alive, suspect, dead: down or not heard of since this
// node started; left: left for good) and its primary share of the ring
// (0 for members not in it: those that Left).
func (n *Node) Nodes() []store.NodeInfo {
	t := n.topo.Load()
	shares := t.Shares()
	lay := n.lay.current()
	out := make([]store.NodeInfo, len(t.Members()))
	for i, m := range t.Members() {
		role, vnodes := "none", m.VNodes
		if lm, ok := lay.Member(m.ID); ok {
			role, vnodes = lm.State.String(), len(lm.Tokens)
		}
		out[i] = store.NodeInfo{
			ID:         m.ID,
			ClientAddr: m.ClientAddr,
			State:      m.State.String(),
			Role:       role,
			VNodes:     vnodes,
			Share:      shares[m.ID],
		}
	}
	return out
}

// Owners implements server.ClusterView: the key's preference list of N
// node ids on the current ring.
func (n *Node) Owners(key []byte) []string {
	return n.topo.Load().Ring().PreferenceList(engine.Token(key), n.cfg.Coordinator.N)
}

// LocalGet implements server.ClusterView from the local engine, with no
// quorum: tombstones and expired records included.
func (n *Node) LocalGet(ctx context.Context, key []byte) (store.LocalRecord, bool, error) {
	return local.Lookup(ctx, n.cfg.Engine, key)
}

// NodeStats is a snapshot of a node's figures for metrics.
type NodeStats struct {
	// Coordinator holds the request, quorum failure and read repair
	// counters.
	Coordinator coordinator.Stats
	// Members counts members by state (this node included) and joins.
	Members membership.Stats
	// RingDigest fingerprints the current ring.
	RingDigest uint64
	// Isolated is set while this node reaches no other ring member;
	// Reachable counts the other ring members it reaches.
	Isolated  bool
	Reachable int
	// IsolatedRefusals counts requests refused because the node was
	// isolated.
	IsolatedRefusals int64
	// Peers holds the RPC counters of each peer client, sorted by id.
	Peers []PeerStats
	// Skew holds the latest clock comparison with each alive peer,
	// sorted by id.
	Skew []SkewSample
	// MaxClockSkew is the largest Ahead in Skew (0 if none is ahead).
	MaxClockSkew time.Duration
	// ClockSkewWarnings counts pings that found this node too far ahead
	// (logged or not).
	ClockSkewWarnings int64
}

// PeerStats are the RPC counters of one peer's client since it was
// created (a peer that moves gets a new client).
type PeerStats struct {
	// ID is the peer's node id, Addr its replica RPC address.
	ID, Addr string
	// Calls and Errors count RPCs; Latency is their summed duration.
	Calls, Errors int64
	Latency       time.Duration
}

// Stats returns the node's current figures.
func (n *Node) Stats() NodeStats {
	ss := n.skew.samples()
	t := n.topo.Load()
	isolated, reachable, _ := t.Isolation()
	s := NodeStats{
		Coordinator:       n.coord.Stats(),
		Members:           n.members.Stats(),
		RingDigest:        t.Ring().Digest(),
		Isolated:          isolated,
		Reachable:         reachable,
		IsolatedRefusals:  n.isolatedRefusals.Load(),
		Skew:              ss,
		MaxClockSkew:      maxAhead(ss),
		ClockSkewWarnings: n.skew.warnings.Load(),
	}
	for _, pc := range n.peers.snapshot() {
		s.Peers = append(s.Peers, PeerStats{
			ID: pc.id, Addr: pc.addr,
			Calls: pc.calls.Load(), Errors: pc.errors.Load(), Latency: time.Duration(pc.nanos.Load()),
		})
	}
	sortPeerStats(s.Peers)
	return s
}

// InfoSections implements server.InfoProvider, the one place the node's
// INFO is built: a Cluster section (the coordinator's figures, then the
// node's state — ok, or isolated: it reaches no other member and refuses
// requests —, member counts by state, the ring digest, the clock skew
// and catch-up), the local engine's section, the hints and anti-entropy.
// Nothing here asks a peer or waits for one.
func (n *Node) InfoSections() []store.InfoSection {
	s := n.Stats()
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	state := "ok"
	if s.Isolated {
		state = "isolated"
	}
	fields := append(n.coord.InfoFields(), [][2]string{
		{"cluster_state", state},
		{"cluster_reachable_members", strconv.Itoa(s.Reachable)},
		{"cluster_isolated_refusals", i(s.IsolatedRefusals)},
		{"cluster_members_alive", strconv.Itoa(s.Members.Alive)},
		{"cluster_members_suspect", strconv.Itoa(s.Members.Suspect)},
		{"cluster_members_dead", strconv.Itoa(s.Members.Dead)},
		{"cluster_members_left", strconv.Itoa(s.Members.Left)},
		{"cluster_ring_digest", strconv.FormatUint(s.RingDigest, 16)},
		{"cluster_max_clock_skew_ms", i(s.MaxClockSkew.Milliseconds())},
		{"cluster_clock_skew_limit_ms", i(n.cfg.MaxClockSkew.Milliseconds())},
		{"cluster_clock_skew_warnings", i(s.ClockSkewWarnings)},
	}...)
	behind, holders, repair := n.catchup.snapshot()
	fields = append(fields,
		[2]string{"cluster_catching_up", boolDigit(behind)},
		[2]string{"cluster_catchup_hint_holders", strconv.Itoa(holders)},
		[2]string{"cluster_catchup_repair_pending", boolDigit(repair)})
	sections := []store.InfoSection{{Name: "Cluster", Fields: fields}, {Name: "Topology", Fields: n.Transfers()}}
	sections = append(sections, local.EngineInfo(n.cfg.Engine)...)
	return append(sections, n.hintsSection(), n.antientropySection())
}

// CatchingUp reports whether this node may still lack writes it missed
// (see catchup_state.go): its own replica's reads are Behind meanwhile.
func (n *Node) CatchingUp() bool { return n.catchup.Behind() }

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func sortPeerStats(ps []PeerStats) {
	slices.SortFunc(ps, func(a, b PeerStats) int { return strings.Compare(a.ID, b.ID) })
}

// TransferStats returns this node's part in the topology operation in
// progress and its streaming totals.
func (n *Node) TransferStats() TransferStats { return n.transfers.snapshot(n.lay.current()) }

// layoutLeaderID returns the node id of the layout group's leader, the
// member that drives an operation; "" when none is known.
func (n *Node) layoutLeaderID(l *layout.Layout) string {
	if n.cons == nil {
		return ""
	}
	lead := n.cons.Status().Leader
	if lead == 0 {
		return ""
	}
	for _, m := range l.Members {
		if m.RaftID == lead {
			return m.ID
		}
	}
	return ""
}

// Transfers implements server.TopologyAdmin (RINGCACHE TRANSFERS), and
// is INFO's Topology section: the layout epoch, this node's role, the
// leader that drives operations, the operation in progress (kind, node,
// stage, members still streaming, the member the stage waits for), this
// node's streaming of it (ranges done and total, keys and bytes, rate,
// ETA), the operation's streaming on every member that gains ranges
// (topology_operation_*: asked of each, on whichever node answers) and
// this node's totals.
func (n *Node) Transfers() [][2]string {
	l := n.lay.current()
	s := n.transfers.snapshot(l)
	all, unanswered := n.operationFigures(l)
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	role := n.selfState()
	if role == "" {
		role = "none"
	}
	op, stage := "none", "none"
	if l.Op != nil {
		op, stage = s.Op+" "+s.Node, s.Stage
	}
	return [][2]string{
		{"topology_epoch", strconv.FormatUint(l.Epoch, 10)},
		{"topology_role", role},
		{"topology_leader", n.layoutLeaderID(l)},
		{"topology_operation", op},
		{"topology_stage", stage},
		{"topology_streaming_members", strings.Join(s.Pending, ",")},
		{"topology_waiting_for", s.WaitingFor},
		{"topology_ranges_done", strconv.Itoa(s.RangesDone)},
		{"topology_ranges_total", strconv.Itoa(s.RangesTotal)},
		{"topology_ranges_resumed", strconv.Itoa(s.RangesResumed)},
		{"topology_keys_streamed", i(s.Keys)},
		{"topology_bytes_streamed", i(s.Bytes)},
		{"topology_stream_rate_bytes", strconv.FormatFloat(s.Rate, 'f', 0, 64)},
		{"topology_eta_seconds", strconv.FormatFloat(s.ETA.Seconds(), 'f', 1, 64)},
		{"topology_operation_ranges_done", strconv.Itoa(all.RangesDone)},
		{"topology_operation_ranges_total", strconv.Itoa(all.RangesTotal)},
		{"topology_operation_keys_streamed", i(all.Keys)},
		{"topology_operation_bytes_streamed", i(all.Bytes)},
		{"topology_operation_stream_rate_bytes", strconv.FormatFloat(all.Rate, 'f', 0, 64)},
		{"topology_operation_eta_seconds", strconv.FormatFloat(all.ETA.Seconds(), 'f', 1, 64)},
		{"topology_operation_unanswered", strings.Join(unanswered, ",")},
		{"topology_operations_received", i(s.Operations)},
		{"topology_ranges_received_total", i(s.TotalRanges)},
		{"topology_keys_received_total", i(s.TotalKeys)},
		{"topology_bytes_received_total", i(s.TotalBytes)},
		{"topology_last_stream_keys", i(s.Last.Keys)},
		{"topology_last_stream_bytes", i(s.Last.Bytes)},
		{"topology_last_stream_seconds", strconv.FormatFloat(s.Last.Seconds, 'f', 3, 64)},
		{"topology_last_stream_resumed_ranges", strconv.Itoa(s.Last.Resumed)},
		{"topology_cleanup_ranges", i(s.CleanedRanges)},
		{"topology_cleanup_keys", i(s.CleanedKeys)},
	}
}
