package cluster

import (
	"context"
	"slices"
	"strconv"

	"github.com/ringcache/ringcache/antientropy"
	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/server/store"
)

// Anti-entropy on a node. The repairer compares, in the background and
// on RINGCACHE REPAIR, every range this node replicates with the range's
// other replicas (antientropy.Repairer); the transport serves the peers'
// side of the exchange from the local engine (antientropy.Service). The
// ranges come from the current topology, computed once per ring, on
// first use. Tombstone purge asks the repairer for proof that every replica of
// the tombstone's range has it (PurgeAllowed).

// startAntiEntropy creates the repairer. Called once the first topology is
// published.
func (n *Node) startAntiEntropy() error {
	ac := n.cfg.antientropyConfig(nodeRing{n}, n.dirty)
	ac.Logger, ac.Now = n.log, n.now
	r, err := antientropy.New(ac)
	if err != nil {
		return err
	}
	n.repairer = r
	return nil
}

// Repairer returns the node's anti-entropy repairer.
func (n *Node) Repairer() *antientropy.Repairer { return n.repairer }

// Repair runs one full anti-entropy round now (RINGCACHE REPAIR).
func (n *Node) Repair(ctx context.Context) (store.RepairSummary, error) {
	s, err := n.repairer.Round(ctx)
	return store.RepairSummary{
		RangesCompared: int64(s.RangesCompared), RangesDiffering: int64(s.RangesDiffering),
		LeavesDiffering: int64(s.LeavesDiffering),
		KeysSent:        s.KeysSent, KeysReceived: s.KeysReceived,
		BytesSent: s.BytesSent, BytesReceived: s.BytesReceived,
		PeersFailed: int64(s.Failed),
		Seconds:     s.Duration.Seconds(),
	}, err
}

// PurgeAllowed is the engine's tombstone purge hook for a cluster node:
// with anti-entropy running, a tombstone past its grace period goes only
// once every replica of its range was proven to have it; with the
// background loop off, the grace period alone decides (as Cassandra's
// gc_grace does), since no round may ever come.
func (n *Node) PurgeAllowed(key []byte, r engine.Record, storedAt int64) bool {
	if n.repairer == nil || n.cfg.AntiEntropy.Interval == 0 {
		return true
	}
	return n.repairer.PurgeAllowed(key, r, storedAt)
}

// antientropySection is INFO's "Antientropy" section.
func (n *Node) antientropySection() store.InfoSection {
	s := n.repairer.Stats()
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	last := "0"
	if !s.LastRound.IsZero() {
		last = i(s.LastRound.Unix())
	}
	return store.InfoSection{Name: "Antientropy", Fields: [][2]string{
		{"antientropy_interval_seconds", strconv.FormatFloat(n.cfg.AntiEntropy.Interval.Seconds(), 'f', -1, 64)},
		{"antientropy_rounds", i(s.Rounds)},
		{"antientropy_last_round_unix", last},
		{"antientropy_last_round_seconds", strconv.FormatFloat(s.LastDuration.Seconds(), 'f', 3, 64)},
		{"antientropy_keys_repaired", i(s.KeysSent + s.KeysReceived)},
		{"antientropy_keys_sent", i(s.KeysSent)},
		{"antientropy_keys_received", i(s.KeysReceived)},
		{"antientropy_bytes_sent", i(s.BytesSent)},
		{"antientropy_bytes_received", i(s.BytesReceived)},
		{"antientropy_ranges_in_sync", i(s.RangesInSync)},
		{"antientropy_ranges_out_of_sync", i(s.RangesOutOfSync)},
		{"antientropy_exchange_failures", i(s.ExchangeFailures)},
		{"antientropy_dirty_buckets", strconv.Itoa(n.dirty.Len())},
	}}
}

// nodeRing is the node as the repairer's Ring.
type nodeRing struct{ n *Node }

func (r nodeRing) Self() string { return r.n.cfg.NodeID }

func (r nodeRing) ReplicaRanges() []antientropy.ReplicaRange {
	return r.n.topo.Load().ReplicaRanges(r.n.cfg.Coordinator.N)
}

// RangeOf finds the range ending at the first token ≥ t; past the last
// token, the first range (which wraps) holds t.
func (r nodeRing) RangeOf(t uint64) antientropy.ReplicaRange {
	rs := r.ReplicaRanges()
	if len(rs) == 0 {
		return antientropy.ReplicaRange{}
	}
	k, _ := slices.BinarySearchFunc(rs, t, func(rr antientropy.ReplicaRange, t uint64) int {
		switch {
		case rr.End < t:
			return -1
		case rr.End > t:
			return 1
		}
		return 0
	})
	if k == len(rs) {
		k = 0
	}
	return rs[k]
}

// Peer returns an exchange peer for a member gossip reports Alive. Its
// recent RPC failures do not matter: an exchange is worth a try, and it
// fails fast if the peer is still unreachable.
func (r nodeRing) Peer(id string) (antientropy.Peer, bool) {
	n := r.n
	m, ok := n.topo.Load().Member(id)
	if !ok || m.State != membership.Alive {
		return nil, false
	}
	pc := n.peerConn(id)
	if pc == nil {
		return nil, false
	}
	return exchangePeer{Caller: pc.caller, Replica: pc.replica}, true
}

// exchangePeer joins a peer's transport caller and replica.
type exchangePeer struct {
	transport.Caller
	replica.Replica
}

// Apply implements antientropy.Peer: repaired records keep their
// versions, so a newer version held by the peer is no failure.
func (p exchangePeer) Apply(ctx context.Context, keys [][]byte, recs []engine.Record) error {
	_, err := p.Replica.Apply(ctx, replica.ApplyRequest{Keys: keys, Recs: recs})
	return err
}

// Read implements antientropy.Peer: an exchange compares what each side
// holds, whether or not the peer is still catching up.
func (p exchangePeer) Read(ctx context.Context, keys [][]byte) ([]engine.Record, []bool, error) {
	r, err := p.Replica.Read(ctx, replica.ReadRequest{Keys: keys})
	return r.Recs, r.Found, err
}

// NewExchangePeer returns the anti-entropy peer behind c (a
// *transport.Client, or a wrapper around one): exchange requests and
// repaired records both go through c.
func NewExchangePeer(c transport.Caller) antientropy.Peer {
	return exchangePeer{Caller: c, Replica: replica.NewRemote(c)}
}
