package cluster

import (
	"context"
	"sync/atomic"
)

// The key count INFO reports. A cluster's DBSIZE asks every member
// (Coordinator.Len), so it waits for the slowest one, up to the request
// timeout when a member is paused or cut off. INFO must answer at once
// whatever the peers do, so it reports a cached estimate instead: a read
// of the cache older than KeyCountMaxAge wakes a background refresh, and
// answers with the figure it has (0 until the first refresh finished,
// which StartNode asks for). DBSIZE itself still asks every member.

// keyCount is the cached estimate. The loop writes it; anyone reads it.
type keyCount struct {
	// kick wakes the refresh loop; buffered 1, so kicks coalesce.
	kick chan struct{}
	// keys is the last estimate, at the time of its refresh (Unix ns, 0
	// before the first one).
	keys, at atomic.Int64
}

// KeysEstimate implements server.KeyEstimator: the DBSIZE estimate as of
// its last refresh, never waiting for a peer.
func (n *Node) KeysEstimate() int64 {
	if n.now().UnixNano()-n.keys.at.Load() > int64(n.cfg.KeyCountMaxAge) {
		n.kickKeyCount()
	}
	return n.keys.keys.Load()
}

func (n *Node) kickKeyCount() {
	select {
	case n.keys.kick <- struct{}{}:
	default:
	}
}

// keyCountLoop refreshes the estimate when kicked, until Close. The first
// refresh runs at start.
func (n *Node) keyCountLoop() {
	defer n.loops.Done()
	n.kickKeyCount()
	for {
		select {
		case <-n.life.Done():
			return
		case <-n.keys.kick:
		}
		ctx, cancel := context.WithTimeout(n.life, n.cfg.Coordinator.Timeout)
		k, err := n.coord.Len(ctx)
		cancel()
		if err == nil {
			n.keys.keys.Store(k)
		}
		// Stamped on failure too: a failing refresh is retried after
		// KeyCountMaxAge, not on every INFO.
		n.keys.at.Store(n.now().UnixNano())
	}
}
