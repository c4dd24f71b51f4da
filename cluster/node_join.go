package cluster

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ringcache/ringcache/cluster/consensus"
	"github.com/ringcache/ringcache/cluster/layout"
	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/transport"
)

// Joining a cluster. A node with a persisted layout log is a member and
// restarts as one. An empty node joins: with no seed but itself it
// founds a cluster of one (bootstrap); otherwise it looks through gossip
// for a node that is a member and asks it to propose its join, or, when
// it is a seed itself, every seed answered and all are as new as itself,
// the seed with the smallest id founds the cluster and the others join
// it (mayFound).
// Gossip advertises which nodes are members (the metadata's node state:
// gossipMember or gossipNew). A join runs through the layout's stages
// (node_transition.go); the node serves requests once the layout lists it.
//
// An empty node under an id the layout knows is refused (a wiped disk
// must not rejoin as if it had its data): each empty node draws an
// incarnation number on its first start, and the layout recognises a
// repeated join only from the same incarnation.

// Gossip node states: whether the node is a member of a cluster.
const (
	gossipNew    = "new"
	gossipMember = "member"
)

// ErrNotJoined is wrapped by the refusal of requests on a node that is
// not a member of a cluster (yet, or any more).
var ErrNotJoined = errors.New("cluster: this node is not a member of a cluster")

// ErrUnknownMember: a consensus message or proposal for a member this
// node cannot reach.
var ErrUnknownMember = errors.New("cluster: unknown member")

// ErrReplaceAlive refuses the replacement of a member gossip reports
// alive (ringcache --replace of a node that still runs).
var ErrReplaceAlive = errors.New("cluster: refused to replace a live member")

// NotJoinedError is the refusal of a request by a node that is not a
// member of a cluster; its RESP reply says why.
type NotJoinedError struct{ Reason string }

// Error implements error.
func (e *NotJoinedError) Error() string { return "cluster: " + e.RESPError() }

// Unwrap makes errors.Is true for ErrNotJoined.
func (e *NotJoinedError) Unwrap() error { return ErrNotJoined }

// RESPError returns the reply line without the leading '-'.
func (e *NotJoinedError) RESPError() string { return "CLUSTERDOWN " + e.Reason }

// openLayout opens the consensus log on the engine, restoring the layout
// the node had; it is started by startLayout.
func (n *Node) openLayout() error {
	n.lay = newLayoutMachine(n.cfg.Coordinator.N)
	n.lay.changed = n.layoutChanged
	cc := n.cfg.Consensus
	inc, ok, err := n.cfg.Engine.GetMeta(incarnationMeta)
	if err != nil {
		return err
	}
	if !ok || len(inc) != 8 {
		inc = binary.BigEndian.AppendUint64(nil, randUint64())
		if err := n.cfg.Engine.PutMeta(incarnationMeta, inc); err != nil {
			return err
		}
	}
	n.incarnation = binary.BigEndian.Uint64(inc)
	cc.ID, cc.Store, cc.Machine, cc.Transport = raftID(n.cfg.NodeID, n.incarnation), n.cfg.Engine, n.lay, layoutTransport{n}
	cc.Prefix, cc.Logger = "layout/", n.log
	l, err := consensus.Open(cc)
	if err != nil {
		return fmt.Errorf("cluster: open the layout log: %w", err)
	}
	n.cons = l
	return nil
}

const incarnationMeta = "layout-incarnation"

func randUint64() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) | 1
}

// startLayout starts the consensus log: a member restarts; an empty
// node without a seed but itself founds a cluster; any other empty node
// joins in the background (unless NodeConfig.NoJoin; RINGCACHE JOIN
// starts it later).
func (n *Node) startLayout() error {
	switch {
	case n.cons.Initialized():
		return n.cons.Start(false)
	case !n.seeded.Load() && n.cfg.Replace == "":
		return n.bootstrap()
	case n.cfg.NoJoin && n.cfg.Replace == "":
		n.log.Info("cluster: not joining a cluster until asked (RINGCACHE JOIN)")
		return nil
	}
	n.startJoin()
	return nil
}

// bootstrap founds a cluster with this node as its only member.
func (n *Node) bootstrap() error {
	if err := n.cons.Start(true); err != nil && !errors.Is(err, consensus.ErrStarted) {
		return err
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	ctx, cancel := context.WithTimeout(n.life, n.cfg.ProposeTimeout)
	defer cancel()
	err := n.cons.Propose(ctx, layout.Command{
		Kind: layout.CmdBootstrap, ClusterID: hex.EncodeToString(id[:]),
		Member: n.layoutMember(), VNodes: n.cfg.Membership.VNodes,
	}.Encode())
	if err != nil {
		return fmt.Errorf("cluster: found a cluster: %w", err)
	}
	n.log.Info("cluster: founded a new cluster", "id", n.cfg.NodeID)
	return nil
}

// layoutMember describes this node to the layout.
func (n *Node) layoutMember() *layout.Member {
	return &layout.Member{
		ID: n.cfg.NodeID, RaftID: raftID(n.cfg.NodeID, n.incarnation), Incarnation: n.incarnation,
		ClusterAddr: n.rpcAddr, ClientAddr: n.cfg.ClientAddr, GossipAddr: n.cfg.GossipListen,
	}
}

// startJoin starts the join loop once (RINGCACHE JOIN may call it again).
func (n *Node) startJoin() {
	if !n.joining.CompareAndSwap(false, true) {
		return
	}
	n.loops.Add(1)
	go n.joinLoop()
}

// joinLoop tries to join (or replace NodeConfig.Replace) every
// JoinRetry until the layout lists this node, the join is refused for
// good, or the node closes.
func (n *Node) joinLoop() {
	defer n.loops.Done()
	var last string
	for !n.member() {
		err := n.tryJoin()
		switch {
		case err == nil:
		case errors.Is(err, layout.ErrKnownID), errors.Is(err, layout.ErrUnknownNode), errors.Is(err, layout.ErrBadState):
			n.stopWith(fmt.Errorf("cluster: refused to join: %w; an empty node cannot take the id of a member: start it with a new --node-id, or with --replace <id> to take over a dead member's place", err))
			return
		case errors.Is(err, ErrReplaceAlive):
			if msg := err.Error(); msg != last {
				n.log.Warn("cluster: not replacing yet", "reason", msg)
				last = msg
			}
		default:
			if msg := err.Error(); msg != last {
				n.log.Info("cluster: not joined yet", "reason", msg)
				last = msg
			}
		}
		select {
		case <-n.life.Done():
			return
		case <-n.layoutUpdated():
		case <-time.After(n.cfg.JoinRetry):
		}
	}
	n.log.Info("cluster: joined the cluster's layout", "state", n.selfState())
}

// member reports whether the layout lists this node (and it has not left).
func (n *Node) member() bool {
	m, ok := n.lay.current().Member(n.cfg.NodeID)
	return ok && m.State != layout.Left
}

// selfState returns this node's layout state ("" if not listed).
func (n *Node) selfState() string {
	m, ok := n.lay.current().Member(n.cfg.NodeID)
	if !ok {
		return ""
	}
	return m.State.String()
}

// left reports whether the layout has this node Left.
func (n *Node) left() bool {
	m, ok := n.lay.current().Member(n.cfg.NodeID)
	return ok && m.State == layout.Left
}

// tryJoin makes one attempt: ask a member to propose this node's join
// (or replacement), or found the cluster if this node is the one to.
func (n *Node) tryJoin() error {
	var via []membership.Member
	for _, m := range n.topo.Load().Members() {
		if m.ID != n.cfg.NodeID && m.State == membership.Alive && m.NodeState == gossipMember {
			via = append(via, m)
		}
	}
	if len(via) == 0 {
		if n.cfg.Replace == "" && n.mayFound() {
			return n.bootstrap()
		}
		return errors.New("no member of a cluster reachable yet")
	}
	if err := n.cons.Start(false); err != nil && !errors.Is(err, consensus.ErrStarted) {
		return err
	}
	c := layout.Command{Kind: layout.CmdJoin, Member: n.layoutMember(), VNodes: n.cfg.Membership.VNodes}
	if n.cfg.Replace != "" {
		c.Kind, c.Node = layout.CmdReplace, n.cfg.Replace
	}
	m := via[int(randUint64()%uint64(len(via)))]
	return n.proposeVia(m.ID, m.ClusterAddr, c)
}

// mayFound reports whether this new node founds the cluster: it is one of
// its own seeds, every other seed answered and is as new as itself, and
// its id is the smallest among them. Nodes started together with the same
// seeds therefore agree on one founder; a node that is not a seed never
// founds a cluster while it has seeds, it joins one.
func (n *Node) mayFound() bool {
	if n.members == nil {
		return false
	}
	seeds, reached, isSeed := n.members.Seeds()
	if !isSeed || !reached {
		return false
	}
	for _, m := range seeds {
		if m.NodeState != gossipNew || m.ID < n.cfg.NodeID {
			return false
		}
	}
	return true
}

// proposeVia asks member id at addr to propose c.
func (n *Node) proposeVia(id, addr string, c layout.Command) error {
	pc := n.peers.get(id, addr)
	if pc == nil {
		return consensus.ErrClosed
	}
	ctx, cancel := context.WithTimeout(n.life, n.cfg.ProposeTimeout)
	defer cancel()
	_, err := pc.caller.Call(ctx, transport.OpLayoutPropose, c.Encode())
	return err
}

// propose proposes c through this node's log if it is a member, else
// through a member.
func (n *Node) propose(ctx context.Context, c layout.Command) error {
	if n.cons.Initialized() {
		ctx, cancel := context.WithTimeout(ctx, n.cfg.ProposeTimeout)
		defer cancel()
		return n.cons.Propose(ctx, c.Encode())
	}
	return &NotJoinedError{Reason: "this node is not a member of a cluster"}
}

// serveProposal is the OpLayoutPropose handler: a node asks this member
// to propose a command (its join, or its replacement of a member). A
// replacement of a member gossip reports alive is refused: the replacing
// node keeps asking (joinLoop), so it takes over once the member is
// stopped and found down, never while it still serves.
func (n *Node) serveProposal(ctx context.Context, p []byte) error {
	c, err := layout.DecodeCommand(p)
	if err != nil {
		return err
	}
	if !n.cons.Initialized() {
		return &NotJoinedError{Reason: "asked to propose by a node, but not a member"}
	}
	if c.Kind == layout.CmdReplace {
		if m, ok := n.topo.Load().Member(c.Node); ok && m.State == membership.Alive {
			return fmt.Errorf("%w: %s is alive; stop it first, and this node takes its place once the cluster finds it down", ErrReplaceAlive, c.Node)
		}
	}
	return n.cons.Propose(ctx, p)
}

// layoutUpdated returns a channel closed at the next layout change.
func (n *Node) layoutUpdated() <-chan struct{} {
	n.layoutMu.Lock()
	defer n.layoutMu.Unlock()
	return n.layoutCh
}

// layoutChanged is the layout machine's hook: publish a topology with
// the new layout, advertise membership in gossip, wake the loops
// waiting for a change.
func (n *Node) layoutChanged(l *layout.Layout) {
	if !n.layoutLive.Load() {
		return // replayed by Open: start publishes the first topology
	}
	n.topoMu.Lock()
	n.install(n.topo.Load().Members())
	n.topoMu.Unlock()
	n.layoutMu.Lock()
	close(n.layoutCh)
	n.layoutCh = make(chan struct{})
	n.logStage(l)
	n.layoutMu.Unlock()
	n.advertise()
	if m, ok := l.Member(n.cfg.NodeID); ok && m.State == layout.Left && n.departing.CompareAndSwap(false, true) {
		n.loops.Add(1)
		go n.handOverAndStop()
	}
}

// logStage logs, on every node, each stage of a topology operation as
// the node applies it, and the operation's end. n.layoutMu is held.
func (n *Node) logStage(l *layout.Layout) {
	stage := ""
	if l.Op != nil {
		stage = fmt.Sprintf("%s %s: %s", l.Op.Kind, l.Op.Node, l.Op.Stage)
	}
	switch {
	case stage == n.stageSeen:
		return
	case stage == "":
		n.log.Info("cluster: topology operation ended here", "was", n.stageSeen, "epoch", l.Epoch)
	default:
		n.log.Info("cluster: topology stage applied here", "op", l.Op.Kind.String(), "node", l.Op.Node, "stage", l.Op.Stage.String(), "epoch", l.Epoch)
	}
	n.stageSeen = stage
}

// handOverAndStop, once this node left, hands the hints it holds to the
// keys' owners (the hint manager treats every target as gone), waits up
// to LeaveHandoverTimeout for none to be left, and signals Done: the
// process may exit.
func (n *Node) handOverAndStop() {
	defer n.loops.Done()
	if n.hints != nil {
		deadline := time.Now().Add(n.cfg.LeaveHandoverTimeout)
		for {
			var pending int64
			for _, s := range n.hints.Stats() {
				if s.Pending > 0 {
					n.hints.Wake(s.Target)
				}
				pending += s.Pending
			}
			if pending == 0 {
				break
			}
			if time.Now().After(deadline) {
				n.log.Warn("cluster: left with hints not handed over", "pending", pending)
				break
			}
			select {
			case <-n.life.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	n.stopWith(nil) // left the cluster: the process may exit
}

// advertise sets the gossip node state to what the layout says of this
// node, in the background (the metadata update waits for gossip).
func (n *Node) advertise() {
	state := gossipNew
	if n.member() {
		state = gossipMember
	}
	if n.members == nil || n.advertised.Swap(state) == state {
		return
	}
	n.loops.Add(1)
	go func() {
		defer n.loops.Done()
		if err := n.members.SetNodeState(state); err != nil {
			n.log.Debug("cluster: advertise node state", "state", state, "err", err)
		}
	}()
}

// stopWith records why the node stopped on its own and signals Done.
func (n *Node) stopWith(err error) {
	n.doneOnce.Do(func() {
		n.doneErr = err
		if err != nil {
			n.log.Error("cluster: stopping", "err", err)
		}
		close(n.done)
	})
}

// Done is closed when the node stops on its own: it left the cluster
// (Err nil), or its join was refused (Err says why). The process
// should exit then.
func (n *Node) Done() <-chan struct{} { return n.done }

// Err returns why the node stopped on its own, once Done is closed.
func (n *Node) Err() error {
	select {
	case <-n.done:
		return n.doneErr
	default:
		return nil
	}
}

// proposeOp proposes an operation's first command, waiting (until ctx
// ends) while another operation is in progress.
func (n *Node) proposeOp(ctx context.Context, c layout.Command) error {
	for {
		ch := n.layoutUpdated()
		err := n.propose(ctx, c)
		if !errors.Is(err, layout.ErrBusy) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (waited for it until: %w)", err, ctx.Err())
		case <-ch:
		case <-time.After(n.cfg.JoinRetry):
		}
	}
}

// Join implements server.TopologyAdmin (RINGCACHE JOIN): it starts the
// join of a node started without one (NodeConfig.NoJoin).
func (n *Node) Join(context.Context) error {
	if n.member() {
		return fmt.Errorf("%w: this node is a member already (%s)", layout.ErrBadState, n.selfState())
	}
	n.startJoin()
	return nil
}

// Remove implements server.TopologyAdmin (RINGCACHE REMOVE): it starts
// the removal of dead member id, whose ranges the next owners sync from
// the surviving replicas. A member gossip reports alive is refused (it
// should leave), and so is a removal that leaves some range with fewer
// than R live replicas, unless force.
func (n *Node) Remove(ctx context.Context, id string, force bool) error {
	t := n.topo.Load()
	if m, ok := t.Member(id); ok && m.State == membership.Alive {
		return fmt.Errorf("%w: %s is alive; run RINGCACHE LEAVE on it instead", layout.ErrBadState, id)
	}
	if live := n.survivors(id); live < n.cfg.Coordinator.R && !force {
		return fmt.Errorf("%w: some ranges of %s have only %d live replica(s) besides it, fewer than R=%d: writes acknowledged by too few of them may be lost; RINGCACHE REMOVE %s FORCE goes ahead", layout.ErrBadState, id, live, n.cfg.Coordinator.R, id)
	}
	return n.proposeOp(ctx, layout.Command{Kind: layout.CmdRemove, Node: id, Force: force})
}

// survivors returns the fewest live replicas, other than id, that any
// range id replicates has on the current ring.
func (n *Node) survivors(id string) int {
	t := n.topo.Load()
	fewest := n.cfg.Coordinator.N
	for _, rr := range t.ReplicaRanges(n.cfg.Coordinator.N) {
		if !slices.Contains(rr.Replicas, id) {
			continue
		}
		live := 0
		for _, r := range rr.Replicas {
			if m, ok := t.Member(r); r != id && ok && (m.State == membership.Alive || r == n.cfg.NodeID) {
				live++
			}
		}
		fewest = min(fewest, live)
	}
	return fewest
}
