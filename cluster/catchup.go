package cluster

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringcache/ringcache/cluster/coordinator"
	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/topology"
	"github.com/ringcache/ringcache/cluster/transport"
)

// catchupPass is how often a node that is behind asks its peers again,
// and how often one that is not looks for peers that came back alive.
const catchupPass = 250 * time.Millisecond

// catchup runs catchupState against the cluster: it asks the peers, runs
// the repair round a fresh node owes, and publishes Behind for the local
// replica's reads. Its goroutine belongs to the Node.
type catchup struct {
	n *Node
	// behind mirrors st.behind() for the read path.
	behind atomic.Bool
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	// started is set by start; closeOnce guards stop.
	started   atomic.Bool
	closeOnce sync.Once

	mu struct {
		sync.Mutex
		st *catchupState
		// alive holds the peers alive at the last pass.
		alive []string
		// first is set until the first pass.
		first bool
		// cut decides when strict quorum after a cut ends.
		cut cutLatch
	}
}

func newCatchup(n *Node, fresh bool) *catchup {
	c := &catchup{n: n, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	c.mu.st = newCatchupState(fresh)
	c.mu.first = true
	c.behind.Store(true)
	return c
}

// Behind implements Catching.
func (c *catchup) Behind() bool { return c.behind.Load() }

// HintsFrom implements Catching: a holder started delivering hints, so
// this node is behind until that holder says it has none left.
func (c *catchup) HintsFrom(holder string) {
	c.mu.Lock()
	c.mu.st.delivering(holder)
	c.mu.Unlock()
	c.publish()
}

// Asked implements Catching: a peer asking what this node holds for it
// is running, and the node treats it as healthy for a while (Node.heard)
// even if gossip has not reported its return yet.
func (c *catchup) Asked(peer string) { c.n.heard(peer) }

// poke makes the loop run a pass now (membership changed).
func (c *catchup) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// start runs the loop; close stops it. close without start is a no-op.
// A node whose ring holds it alone is caught up at once.
func (c *catchup) start() {
	if _, _, alone := c.alivePeers(); alone {
		c.mu.Lock()
		c.mu.st.alone(c.n.cfg.Coordinator.N == 1)
		c.mu.Unlock()
		c.publish()
	}
	c.started.Store(true)
	go c.loop()
}

func (c *catchup) close() {
	if !c.started.Load() {
		return
	}
	c.closeOnce.Do(func() { close(c.stop) })
	<-c.done
}

func (c *catchup) loop() {
	defer close(c.done)
	t := time.NewTicker(catchupPass)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-c.stop
		cancel()
	}()
	for {
		c.pass(ctx)
		select {
		case <-c.stop:
			return
		case <-t.C:
		case <-c.wake:
		}
	}
}

// pass updates the alive peers, asks the ones due, runs an owed repair
// round, and publishes the result.
func (c *catchup) pass(ctx context.Context) {
	alive, others, alone := c.alivePeers()
	c.mu.Lock()
	if alone {
		c.mu.st.alone(c.n.cfg.Coordinator.N == 1)
	}
	var back []string
	for _, p := range alive {
		if !slices.Contains(c.mu.alive, p) {
			back = append(back, p)
		}
	}
	// At the start (nothing seen alive yet), or after this node saw more
	// than half of the others down (it was on the small side of a cut),
	// it waits for the returning peers' answers; otherwise it only asks
	// them.
	cutOff := c.n.topo.Load().Health().CutOff
	if len(back) > 0 {
		if c.mu.first || cutOff || 2*(others-len(c.mu.alive)) > others {
			c.mu.st.ask(back...)
		} else {
			c.mu.st.query(back...)
		}
	}
	c.mu.first = false
	for _, p := range c.mu.alive {
		if !slices.Contains(alive, p) {
			c.mu.st.gone(p)
		}
	}
	c.mu.alive = alive
	due := c.mu.st.due()
	c.mu.Unlock()

	for _, p := range due {
		hints, hasData, err := c.ask(ctx, p)
		if err != nil {
			c.n.log.Debug("cluster: catch-up question failed", "peer", p, "err", err)
			continue
		}
		c.mu.Lock()
		c.mu.st.answer(p, hints, hasData)
		c.mu.Unlock()
	}
	c.mu.Lock()
	repair := c.mu.st.repair
	c.mu.Unlock()
	if repair && c.n.repairer != nil {
		s, err := c.n.repairer.Round(ctx)
		if err == nil && s.Complete {
			c.mu.Lock()
			c.mu.st.repairDone()
			c.mu.Unlock()
			c.n.log.Info("cluster: data restored from the other replicas", "keys_received", s.KeysReceived, "seconds", s.Duration.Seconds())
		}
	}
	c.publish()
	// A node that was cut off stays strict until its view of the others
	// has settled (cutLatch); the peers that returned have been asked by
	// then, and it is Behind while they hold hints for it.
	if cutOff {
		reachable, others := c.n.topo.Load().Reachable(c.n.now())
		c.mu.Lock()
		settled := c.mu.cut.settled(reachable, others, c.n.now())
		c.mu.Unlock()
		if settled {
			c.n.updateHealth(func(h *topology.Health) { h.CutOff = false })
		}
	} else if t := c.n.topo.Load(); t.MinoritySide(c.n.now()) {
		// The cut is seen without a change to publish (a peer heard from
		// lately no longer counts as reachable): latch it now.
		c.n.updateHealth(func(*topology.Health) {})
	}
}

// publish stores behind for the read path and logs a change.
func (c *catchup) publish() {
	c.mu.Lock()
	st := c.mu.st
	now := st.behind()
	holders := len(st.holders)
	repair := st.repair
	c.mu.Unlock()
	if was := c.behind.Swap(now); was != now {
		c.n.updateHealth(func(h *topology.Health) { h.Behind = c.behind.Load() })
		if now {
			c.n.log.Info("cluster: catching up: reads count other replicas until writes missed are delivered",
				"hint_holders", holders, "repair_pending", repair)
		} else {
			c.n.log.Info("cluster: caught up")
		}
	}
}

// alivePeers returns the ring members, other than this node, that gossip
// reports alive, how many other members the ring has, and whether it
// holds this node alone.
func (c *catchup) alivePeers() (alive []string, others int, alone bool) {
	t := c.n.topo.Load()
	ids := t.IDs()
	for _, m := range t.Members() {
		if m.ID != c.n.cfg.NodeID && m.State == membership.Alive && slices.Contains(ids, m.ID) {
			alive = append(alive, m.ID)
		}
	}
	others = len(ids)
	if slices.Contains(ids, c.n.cfg.NodeID) {
		others--
	}
	return alive, others, others == 0
}

// ask asks peer how many hints it holds for this node and whether it
// holds data.
func (c *catchup) ask(ctx context.Context, peer string) (hints int64, hasData bool, err error) {
	pc := c.n.peerConn(peer)
	if pc == nil {
		return 0, false, coordinator.ErrUnknownPeer
	}
	ctx, cancel := context.WithTimeout(ctx, c.n.cfg.Coordinator.Timeout)
	defer cancel()
	resp, err := pc.caller.Call(ctx, transport.OpHintsFor, []byte(c.n.cfg.NodeID))
	if err != nil {
		return 0, false, err
	}
	return transport.DecodeHintsForResponse(resp)
}

// snapshot returns the figures INFO shows.
func (c *catchup) snapshot() (behind bool, holders int, repair bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.st.behind(), len(c.mu.st.holders), c.mu.st.repair
}
