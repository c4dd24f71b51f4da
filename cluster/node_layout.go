package cluster

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/cespare/xxhash/v2"

	"github.com/ringcache/ringcache/cluster/consensus"
	"github.com/ringcache/ringcache/cluster/layout"
	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/transport"
)

// The layout on a node. Who owns which ranges is the layout (package
// layout), replicated to every member by the consensus log (package
// consensus) over the replica transport; gossip only says who is alive.
// The node's layoutMachine applies the log's commands and publishes a
// new topology on every change (install takes the layout from it), so
// requests route by the layout's current stage.

// raftID is the consensus id of member id's incarnation inc (drawn when
// its disk was empty): a node that lost its disk and comes back under its
// id is another member of the group, and never mistaken for the one
// whose log it lost.
func raftID(id string, inc uint64) uint64 {
	return xxhash.Sum64String(fmt.Sprintf("ringcache-member/%s/%d", id, inc)) | 1
}

// layoutMachine is the node's consensus.StateMachine: the layout.
type layoutMachine struct {
	n       int                  // the replica count streaming plans are made for
	changed func(*layout.Layout) // called after every change, outside mu

	mu  sync.Mutex
	cur *layout.Layout
}

func newLayoutMachine(n int) *layoutMachine {
	return &layoutMachine{n: n, cur: &layout.Layout{}}
}

// current returns the layout as applied so far (never nil; empty before
// the node belongs to a cluster).
func (m *layoutMachine) current() *layout.Layout {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur
}

// Apply implements consensus.StateMachine.
func (m *layoutMachine) Apply(cmd []byte) error {
	c, err := layout.DecodeCommand(cmd)
	if err != nil {
		return err
	}
	m.mu.Lock()
	next, err := layout.Apply(m.cur, c, m.n)
	if err == nil {
		m.cur = next
	}
	m.mu.Unlock()
	if err == nil && m.changed != nil {
		m.changed(next)
	}
	return err
}

// Snapshot implements consensus.StateMachine.
func (m *layoutMachine) Snapshot() []byte { return m.current().Encode() }

// Restore implements consensus.StateMachine.
func (m *layoutMachine) Restore(snap []byte) error {
	l, err := layout.Decode(snap)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.cur = l
	m.mu.Unlock()
	if m.changed != nil {
		m.changed(l)
	}
	return nil
}

// Voters implements consensus.StateMachine.
func (m *layoutMachine) Voters() []uint64 { return m.current().Voters() }

// layoutTransport is the node as the consensus log's Transport: a
// message goes to the member whose raft id it names, found in the layout
// or, for a member the layout does not list yet, in gossip.
//
// A message travels with its sender's node id (OpLayoutMessage: id
// length, id, message), so a member the layout does not list yet (a
// joining node, before the layout reaches it) can answer the leader.
type layoutTransport struct{ n *Node }

func (lt layoutTransport) Send(to uint64, msg []byte) error {
	n := lt.n
	id, addr := "", ""
	for _, m := range n.lay.current().Members {
		if m.RaftID == to {
			id, addr = m.ID, m.ClusterAddr
			break
		}
	}
	if id == "" {
		v, _ := n.raftPeers.Load(to)
		id, _ = v.(string)
	}
	if t := n.topo.Load(); t != nil && id != "" {
		if m, ok := t.Member(id); ok && m.ClusterAddr != "" && m.State != membership.Left {
			addr = m.ClusterAddr
		}
	}
	if id == "" || addr == "" || id == n.cfg.NodeID {
		return ErrUnknownMember
	}
	pc := n.peers.get(id, addr)
	if pc == nil {
		return consensus.ErrClosed
	}
	ctx, cancel := n.callContext()
	defer cancel()
	frame := append(append([]byte{byte(len(n.cfg.NodeID))}, n.cfg.NodeID...), msg...)
	_, err := pc.caller.Call(ctx, transport.OpLayoutMessage, frame)
	return err
}

// receiveLayout is the OpLayoutMessage handler: it notes which node the
// sender's consensus id belongs to, and hands the message to the log.
func (n *Node) receiveLayout(ctx context.Context, p []byte) error {
	if len(p) < 1 || len(p) < 1+int(p[0]) || p[0] == 0 {
		return fmt.Errorf("%w: layout message without its sender", transport.ErrMalformed)
	}
	from, msg := string(p[1:1+int(p[0])]), p[1+int(p[0]):]
	rid, err := n.cons.Receive(ctx, msg)
	if rid != 0 {
		n.raftPeers.Store(rid, from)
	}
	return err
}

// The wire codes of the layout's and the consensus log's errors, so a
// proposal refused by a member keeps its sentinel on the node that asked.
func init() {
	for code, err := range map[uint16]error{
		100: layout.ErrBusy, 101: layout.ErrNotBootstrapped, 102: layout.ErrBootstrapped,
		103: layout.ErrKnownID, 104: layout.ErrUnknownNode, 105: layout.ErrBadState,
		106: layout.ErrStale, 107: layout.ErrNotDone, 108: layout.ErrBadCommand, 109: layout.ErrTooFew,
		112: consensus.ErrClosed, 113: consensus.ErrNotStarted, 114: consensus.ErrNoLeader,
		115: consensus.ErrBadMessage,
		120: ErrNotJoined, 121: ErrUnknownMember, 123: ErrReplaceAlive,
	} {
		transport.RegisterError(code, err)
	}
}

// handleLayout registers the layout's operations on the node's mux.
func (n *Node) handleLayout(mux *transport.Mux) {
	mux.Handle(transport.OpLayoutMessage, transport.HandlerFunc(func(ctx context.Context, _ uint8, p []byte) ([]byte, error) {
		return nil, n.receiveLayout(ctx, p)
	}))
	mux.Handle(transport.OpLayoutPropose, transport.HandlerFunc(func(ctx context.Context, _ uint8, p []byte) ([]byte, error) {
		return nil, n.serveProposal(ctx, p)
	}))
	mux.Handle(transport.OpLayoutEpoch, transport.HandlerFunc(func(context.Context, uint8, []byte) ([]byte, error) {
		var e uint64
		if t := n.topo.Load(); t != nil {
			e = t.Epoch()
		}
		return binary.BigEndian.AppendUint64(nil, e), nil
	}))
	mux.Handle(transport.OpLayoutTransfers, transport.HandlerFunc(func(context.Context, uint8, []byte) ([]byte, error) {
		return json.Marshal(n.streamFigures(n.lay.current()))
	}))
}

// Layout returns the layout as this node applied it so far.
func (n *Node) Layout() *layout.Layout { return n.lay.current() }

// LayoutLeader reports whether this node leads the layout's consensus
// group (and so drives the topology operation in progress).
func (n *Node) LayoutLeader() bool { return n.cons.Status().IsLeader }
