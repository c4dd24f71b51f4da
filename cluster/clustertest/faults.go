package clustertest

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/ringcache/ringcache/cluster/transport"
)

// Faults decides what happens to each replica RPC between nodes. The zero
// value is not usable; a Cluster owns one (Cluster.Faults). Safe for
// concurrent use.
type Faults struct {
	mu struct {
		sync.Mutex
		// cut holds the (from, to) node id pairs whose calls fail at once.
		cut map[[2]string]bool
		// drop holds node ids whose incoming calls are never answered.
		drop map[string]bool
		// delay holds node ids whose incoming calls wait first.
		delay map[string]time.Duration
		// failed counts calls the faults failed or dropped, per target.
		failed map[string]int
		// gossipCut holds the (from, to) node id pairs whose gossip is
		// cut (see CutGossip).
		gossipCut map[[2]string]bool
	}
}

func newFaults() *Faults {
	f := &Faults{}
	f.Heal()
	return f
}

// Cut makes every call between the two sets of node ids fail at once, in
// both directions, with an error wrapping transport.ErrUnavailable (what
// an unreachable peer looks like).
func (f *Faults) Cut(a, b []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range a {
		for _, y := range b {
			if x != y {
				f.mu.cut[[2]string{x, y}] = true
				f.mu.cut[[2]string{y, x}] = true
			}
		}
	}
}

// Drop makes calls to node id hang until the caller's context ends (a
// peer that accepts requests and never answers); drop=false undoes it.
func (f *Faults) Drop(id string, drop bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.drop[id] = drop
}

// Delay delays every call to node id by d (0 removes the delay).
func (f *Faults) Delay(id string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.delay[id] = d
}

// Heal removes every fault, gossip cuts included.
func (f *Faults) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.gossipCut = map[[2]string]bool{}
	f.mu.cut = map[[2]string]bool{}
	f.mu.drop = map[string]bool{}
	f.mu.delay = map[string]time.Duration{}
	if f.mu.failed == nil {
		f.mu.failed = map[string]int{}
	}
}

// Failed returns how many calls to node id the faults failed or dropped.
func (f *Faults) Failed(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.failed[id]
}

// fault is the verdict for one call.
type fault struct {
	cut, drop bool
	delay     time.Duration
}

func (f *Faults) lookup(from, to string) fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := fault{cut: f.mu.cut[[2]string{from, to}], drop: f.mu.drop[to], delay: f.mu.delay[to]}
	if v.cut || v.drop {
		f.mu.failed[to]++
	}
	return v
}

// Wrap returns the Caller node from uses to reach node to: c, behind the
// faults. It has the signature of cluster.NodeConfig.WrapCaller once from
// is bound.
func (f *Faults) Wrap(from, to string, c transport.Caller) transport.Caller {
	return transport.CallerFunc(func(ctx context.Context, op uint8, payload []byte) ([]byte, error) {
		v := f.lookup(from, to)
		switch {
		case v.cut:
			return nil, fmt.Errorf("clustertest: %s cut off from %s: %w", from, to, transport.ErrUnavailable)
		case v.drop:
			<-ctx.Done()
			return nil, ctx.Err()
		case v.delay > 0:
			t := time.NewTimer(v.delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			}
		}
		return c.Call(ctx, op, payload)
	})
}

// Gossip faults. Every node's gossip transport is wrapped too
// (cluster.NodeConfig.WrapGossip), so a test can cut gossip between nodes
// one way or both ways, as a firewall dropping packets would: a cut from
// a to b drops every UDP packet a sends to b, and fails TCP connections
// between the two in either direction (a TCP connection needs packets
// both ways), each dial failing after its timeout as an unanswered SYN
// does. Packets from b to a still arrive.

// CutGossip cuts gossip from every node in from to every node in to, one
// way (see above). Heal removes it.
func (f *Faults) CutGossip(from, to []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range from {
		for _, y := range to {
			if x != y {
				f.mu.gossipCut[[2]string{x, y}] = true
			}
		}
	}
}

// gossipVerdict says whether a packet from→to is dropped and whether a
// TCP connection between them fails.
func (f *Faults) gossipVerdict(from, to string) (dropPacket, failStream bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fwd, back := f.mu.gossipCut[[2]string{from, to}], f.mu.gossipCut[[2]string{to, from}]
	return fwd, fwd || back
}

// gossipTransport is one node's gossip transport behind the faults.
type gossipTransport struct {
	memberlist.NodeAwareTransport
	f    *Faults
	from string
	// idOf maps a gossip address to the node id listening there ("" if
	// none is known).
	idOf func(addr string) string
}

// WrapGossip returns node from's gossip transport t behind the faults;
// idOf maps a gossip address to a node id. Bound to from and idOf, it
// has the signature of cluster.NodeConfig.WrapGossip.
func (f *Faults) WrapGossip(from string, idOf func(string) string, t memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
	return &gossipTransport{NodeAwareTransport: t, f: f, from: from, idOf: idOf}
}

func (g *gossipTransport) drop(addr string) (dropPacket, failStream bool) {
	to := g.idOf(addr)
	if to == "" {
		return false, false
	}
	return g.f.gossipVerdict(g.from, to)
}

// WriteTo implements memberlist.Transport.
func (g *gossipTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if d, _ := g.drop(addr); d {
		return time.Now(), nil
	}
	return g.NodeAwareTransport.WriteTo(b, addr)
}

// WriteToAddress implements memberlist.NodeAwareTransport.
func (g *gossipTransport) WriteToAddress(b []byte, addr memberlist.Address) (time.Time, error) {
	if d, _ := g.drop(addr.Addr); d {
		return time.Now(), nil
	}
	return g.NodeAwareTransport.WriteToAddress(b, addr)
}

// DialTimeout implements memberlist.Transport.
func (g *gossipTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if _, fail := g.drop(addr); fail {
		return nil, g.unanswered(addr, timeout)
	}
	return g.NodeAwareTransport.DialTimeout(addr, timeout)
}

// DialAddressTimeout implements memberlist.NodeAwareTransport.
func (g *gossipTransport) DialAddressTimeout(addr memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if _, fail := g.drop(addr.Addr); fail {
		return nil, g.unanswered(addr.Addr, timeout)
	}
	return g.NodeAwareTransport.DialAddressTimeout(addr, timeout)
}

// unanswered waits out a dial's timeout, as a dial whose SYN goes
// unanswered does, and fails it.
func (g *gossipTransport) unanswered(addr string, timeout time.Duration) error {
	time.Sleep(timeout)
	return fmt.Errorf("clustertest: gossip from %s to %s cut: %w", g.from, addr, os.ErrDeadlineExceeded)
}
