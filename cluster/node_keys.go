package cluster

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/ringcache/ringcache/server/store"
)

// The key counts INFO reports. A cluster's DBSIZE asks every member
// (Coordinator.DBCounts), so it waits for the slowest one, up to the
// request timeout when a member is paused or cut off. INFO must answer at
// once whatever the peers do, so it reports a cached estimate instead,
// refreshed in the background every half KeyCountMaxAge (so an idle
// node's first INFO is as fresh as a busy one's); a read of a cache older
// than KeyCountMaxAge (a refresh waited for a peer) wakes another, and
// answers with the figures it has (none until the first refresh
// finished, which StartNode asks for). DBSIZE itself still asks every
// member.

// keyCount is the cached estimate. The loop writes it; anyone reads it.
type keyCount struct {
	// kick wakes the refresh loop; buffered 1, so kicks coalesce.
	kick chan struct{}
	// dbs is the last estimate, per database.
	dbs atomic.Pointer[[]store.DBCount]
	// at is the time of the last refresh (Unix ns, 0 before the first).
	at atomic.Int64
}

// DBEstimates implements server.KeyEstimator: the per-database estimate
// as of its last refresh, never waiting for a peer.
func (n *Node) DBEstimates() []store.DBCount {
	if n.now().UnixNano()-n.keys.at.Load() > int64(n.cfg.KeyCountMaxAge) {
		n.kickKeyCount()
	}
	if p := n.keys.dbs.Load(); p != nil {
		return *p
	}
	return nil
}

// DBCounts implements server.DBCounter: the coordinator's count of every
// member.
func (n *Node) DBCounts(ctx context.Context) ([]store.DBCount, error) {
	if err := notJoinedErr(n.topo.Load()); err != nil {
		return nil, err
	}
	return n.coord.DBCounts(ctx)
}

func (n *Node) kickKeyCount() {
	select {
	case n.keys.kick <- struct{}{}:
	default:
	}
}

// keyCountLoop refreshes the estimate every half KeyCountMaxAge, and
// when kicked, until Close. The first refresh runs at start.
func (n *Node) keyCountLoop() {
	defer n.loops.Done()
	n.kickKeyCount()
	tick := time.NewTicker(max(n.cfg.KeyCountMaxAge/2, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-n.life.Done():
			return
		case <-n.keys.kick:
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(n.life, n.cfg.Coordinator.Timeout)
		dbs, err := n.coord.DBCounts(ctx)
		cancel()
		if err == nil {
			n.keys.dbs.Store(&dbs)
		}
		// Stamped on failure too: a failing refresh is retried after
		// KeyCountMaxAge, not on every INFO.
		n.keys.at.Store(n.now().UnixNano())
	}
}
