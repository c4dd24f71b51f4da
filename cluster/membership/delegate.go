package membership

import (
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// delegate plugs the registry into memberlist. It implements Delegate (to
// advertise the metadata), EventDelegate (joins, updates, departures),
// AliveDelegate and MergeDelegate (to refuse conflicting or undecodable
// peers), ConflictDelegate (to log memberlist's own name conflicts) and
// PingDelegate (a successful probe clears a suspicion).
//
// memberlist calls all of these with its node lock held: they must not
// call back into memberlist.
type delegate struct {
	reg  *registry
	log  *slog.Logger
	meta atomic.Pointer[[]byte] // this node's encoded metadata
	// badLeft: a peer's left state was unreadable, and it was logged.
	badLeft atomic.Bool
	// self is this node's id; restarted is set when it knew other
	// members at start, settled once a join exchange went through;
	// onJoin is Config.OnJoin.
	self      string
	restarted bool
	settled   atomic.Bool
	onJoin    func(countedDown bool)
}

var (
	_ memberlist.Delegate         = (*delegate)(nil)
	_ memberlist.EventDelegate    = (*delegate)(nil)
	_ memberlist.AliveDelegate    = (*delegate)(nil)
	_ memberlist.MergeDelegate    = (*delegate)(nil)
	_ memberlist.ConflictDelegate = (*delegate)(nil)
	_ memberlist.PingDelegate     = (*delegate)(nil)
)

// NodeMeta returns this node's metadata. Its size was checked against
// memberlist.MetaMaxSize (the only limit memberlist passes) when it was
// encoded; returning more than limit would make memberlist panic, so an
// oversized blob (impossible by construction) is withheld instead.
func (d *delegate) NodeMeta(limit int) []byte {
	b := *d.meta.Load()
	if len(b) > limit {
		return nil
	}
	return b
}

// NotifyMsg and GetBroadcasts carry application messages over gossip;
// membership has none.
func (d *delegate) NotifyMsg([]byte)                {}
func (d *delegate) GetBroadcasts(int, int) [][]byte { return nil }

// LocalState and MergeRemoteState carry, in the periodic full-state
// exchange, the runs of the members that left (see leftstate.go).
func (d *delegate) LocalState(bool) []byte { return encodeLeft(d.reg.leftRuns()) }

func (d *delegate) MergeRemoteState(buf []byte, _ bool) {
	runs, err := decodeLeft(buf)
	if err != nil {
		if !d.badLeft.Swap(true) {
			d.log.Warn("membership: a peer's list of members that left is unreadable (logged once)", "err", err)
		}
		return
	}
	d.reg.mergeLeft(runs)
}

// NotifyAlive vets every alive message before memberlist applies it; this
// catches peers that arrive by gossip or periodic push/pull, where
// NotifyMerge is not called.
func (d *delegate) NotifyAlive(n *memberlist.Node) error {
	return d.reg.admit(n.Name, n.Address(), n.Meta)
}

// NotifyMerge vets the remote member list of a join. Refusing it fails the
// whole exchange, so a node that carries our id from another address (or
// whose cluster holds such a node) cannot join, and its Join reports it.
// Only members the remote side believes alive or suspect are vetted: a dead
// entry at an old address is history, not a claim. The list also tells
// whether the remote side counts this node down.
func (d *delegate) NotifyMerge(peers []*memberlist.Node) error {
	var errs []error
	found, down := false, false
	for _, n := range peers {
		if n.Name == d.self {
			found, down = true, n.State != memberlist.StateAlive
		}
		if n.State != memberlist.StateAlive && n.State != memberlist.StateSuspect {
			continue
		}
		if err := d.reg.admit(n.Name, n.Address(), n.Meta); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if d.onJoin != nil {
		d.onJoin(down || !found && d.restarted && !d.settled.Load())
	}
	d.settled.Store(true)
	return nil
}

// NotifyConflict is memberlist's own report of a node name seen at a
// second address (reached when our checks let an alive message through,
// e.g. for a member we consider dead but memberlist does not yet allow to
// move). memberlist ignores the newcomer; we log and count it.
func (d *delegate) NotifyConflict(existing, other *memberlist.Node) {
	d.reg.refused.Add(1)
	d.log.Error("membership: node id claimed from a second address",
		"id", existing.Name, "addr", existing.Address(), "other_addr", other.Address())
}

// NotifyJoin records a new or returning member.
func (d *delegate) NotifyJoin(n *memberlist.Node) {
	d.reg.alive(n.Name, n.Address(), n.Meta)
}

// NotifyUpdate records a member's new metadata.
func (d *delegate) NotifyUpdate(n *memberlist.Node) {
	d.reg.alive(n.Name, n.Address(), n.Meta)
}

// NotifyLeave records a member declared dead or that left.
func (d *delegate) NotifyLeave(n *memberlist.Node) {
	d.reg.gone(n.Name, n.Meta)
}

// AckPayload sends nothing with acks.
func (d *delegate) AckPayload() []byte { return nil }

// NotifyPingComplete hears of every successful direct probe by this node.
func (d *delegate) NotifyPingComplete(n *memberlist.Node, _ time.Duration, _ []byte) {
	d.reg.acked(n.Name)
}
