package cluster

import (
	"slices"

	"github.com/ringcache/ringcache/cluster/layout"
	"github.com/ringcache/ringcache/engine"
)

// Cleanup. Once no topology operation is in progress, a node drops the
// records of every range it does not replicate on the current ring: what
// it gave up in the operation that just ended (its old ranges), and any
// leftover of one it took part in before a crash. No request reads or
// writes such a range here any more, and anti-entropy never looks at it.
// Each chunk is dropped under topoMu after checking that the layout is
// still the one the cleanup began with, and only records older than the
// cleanup's start: a new operation must publish its topology (under
// topoMu) before any of its writes can reach this node, and a record
// written meanwhile has a newer version. Dropped records are counted in
// INFO (topology_cleanup_*).

// cleanup drops the ranges this node does not replicate in l (which has
// no operation in progress); it reports whether it went through.
func (n *Node) cleanup(l *layout.Layout) bool {
	cur, _ := l.Rings()
	if cur.Len() == 0 {
		return true
	}
	before := n.clock.Now()
	hold := func(drop func() error) (bool, error) {
		n.topoMu.Lock()
		defer n.topoMu.Unlock()
		if now := n.lay.current(); now.Op != nil || now.Epoch != l.Epoch {
			return false, nil
		}
		return true, drop()
	}
	var keys int64
	ranges := 0
	for _, rr := range cur.ReplicaRanges(n.cfg.Coordinator.N) {
		if rr.Start == rr.End || n.life.Err() != nil {
			continue
		}
		if slices.Contains(rr.Replicas, n.cfg.NodeID) {
			continue
		}
		k, err := n.cfg.Engine.DropRange(rr.Start+1, rr.End+1, before, hold)
		keys += k
		if k > 0 {
			ranges++
		}
		if err != nil {
			n.log.Warn("cluster: dropping a range this node no longer replicates", "range", rr.Range, "err", err)
			return false
		}
		if now := n.lay.current(); now.Op != nil || now.Epoch != l.Epoch {
			n.transfers.cleaned(int64(ranges), keys)
			return false
		}
	}
	n.transfers.cleaned(int64(ranges), keys)
	// The streaming progress of operations that ended is of no use now.
	var b engine.MetaBatch
	b.DeleteRange(streamedPrefix, streamedPrefixEnd)
	if err := n.cfg.Engine.CommitMeta(&b); err != nil {
		n.log.Warn("cluster: forgetting the streaming progress of ended operations", "err", err)
	}
	if keys > 0 {
		n.log.Info("cluster: dropped the ranges this node no longer replicates", "ranges", ranges, "records", keys, "epoch", l.Epoch)
	}
	return true
}
