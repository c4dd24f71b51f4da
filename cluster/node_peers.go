package cluster

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/cluster/topology"
	"github.com/ringcache/ringcache/cluster/transport"
)

// peerSet holds one transport client per peer, created on first use and
// closed when the peer leaves, moves to another address, or the node
// closes.
type peerSet struct {
	tcfg    transport.Config
	wrap    func(peerID string, c transport.Caller) transport.Caller
	observe func(peer string, op uint8, d time.Duration, err error)
	now     func() time.Time
	// failed and succeeded receive every call's outcome (the node's
	// health record: Node.callFailed, Node.callSucceeded).
	failed    func(id string, now time.Time)
	succeeded func(id string)

	mu struct {
		sync.RWMutex
		// closed is set by close; no client is created afterwards.
		closed bool
		// conns holds the live clients by peer id.
		conns map[string]*peerConn
	}
}

// peerConn is the client for one peer at one address.
type peerConn struct {
	id      string
	addr    string
	client  *transport.Client
	replica replica.Replica  // batching, over the transport client
	caller  transport.Caller // client, wrapped by WrapCaller if set

	calls, errors atomic.Int64
	nanos         atomic.Int64 // summed latency of calls
}

func newPeerSet(cfg NodeConfig, observe func(string, uint8, time.Duration, error)) *peerSet {
	p := &peerSet{tcfg: cfg.transportConfig(), wrap: cfg.WrapCaller, observe: observe, now: cfg.Now}
	if p.now == nil {
		p.now = time.Now
	}
	p.mu.conns = make(map[string]*peerConn)
	return p
}

// get returns the client for peer id at addr, creating it (and closing
// a client for an old address) if needed. It returns nil after close.
func (p *peerSet) get(id, addr string) *peerConn {
	p.mu.RLock()
	pc := p.mu.conns[id]
	p.mu.RUnlock()
	if pc != nil && pc.addr == addr {
		return pc
	}
	p.mu.Lock()
	if p.mu.closed {
		p.mu.Unlock()
		return nil
	}
	old := p.mu.conns[id]
	if old != nil && old.addr == addr {
		p.mu.Unlock()
		return old
	}
	pc, err := p.dial(id, addr)
	if err == nil {
		p.mu.conns[id] = pc
	}
	p.mu.Unlock()
	if old != nil {
		_ = old.client.Close()
	}
	if err != nil {
		return nil
	}
	return pc
}

// dial creates the client for a peer; it does not connect yet.
func (p *peerSet) dial(id, addr string) (*peerConn, error) {
	pc := &peerConn{id: id, addr: addr}
	tc := p.tcfg
	tc.Observe = func(_ string, op uint8, d time.Duration, err error) {
		pc.calls.Add(1)
		pc.nanos.Add(int64(d))
		if err != nil {
			pc.errors.Add(1)
		}
		p.observe(id, op, d, err)
	}
	c, err := transport.NewClient(addr, tc)
	if err != nil {
		return nil, err
	}
	pc.client = c
	pc.caller = c
	if p.wrap != nil {
		pc.caller = p.wrap(id, c)
	}
	// Health is judged on what the coordinator sees, faults injected by
	// WrapCaller included.
	pc.caller = healthCaller{next: pc.caller, pc: pc, p: p}
	pc.replica = replica.NewBatching(replica.NewRemote(pc.caller), p.tcfg.MaxFrameBytes)
	return pc, nil
}

// retain closes the clients of peers that are no longer members of t,
// have Left, or moved to another cluster address.
func (p *peerSet) retain(t *topology.Topology) {
	var drop []*peerConn
	p.mu.Lock()
	for id, pc := range p.mu.conns {
		m, ok := t.Member(id)
		if !ok || m.State == membership.Left || m.ClusterAddr != pc.addr {
			drop = append(drop, pc)
			delete(p.mu.conns, id)
		}
	}
	p.mu.Unlock()
	for _, pc := range drop {
		_ = pc.client.Close()
	}
}

// snapshot returns the live clients.
func (p *peerSet) snapshot() []*peerConn {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]*peerConn, 0, len(p.mu.conns))
	for _, pc := range p.mu.conns {
		out = append(out, pc)
	}
	return out
}

// close closes every client; get returns nil afterwards. Idempotent.
func (p *peerSet) close() {
	p.mu.Lock()
	p.mu.closed = true
	conns := p.mu.conns
	p.mu.conns = make(map[string]*peerConn)
	p.mu.Unlock()
	for _, pc := range conns {
		_ = pc.client.Close()
	}
}

// peerConn returns the client for member id, or nil.
func (n *Node) peerConn(id string) *peerConn {
	m, ok := n.topo.Load().Member(id)
	if !ok || m.State == membership.Left || m.ClusterAddr == "" {
		return nil
	}
	return n.peers.get(id, m.ClusterAddr)
}

// observe is every peer client's latency hook.
func (n *Node) observe(peer string, op uint8, d time.Duration, err error) {
	if n.cfg.ObserveRPC != nil {
		n.cfg.ObserveRPC(peer, op, d, err)
	}
}
