package consensus

import (
	"context"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// run is the member's loop: it ticks the clock, and for every Ready
// persists the log, sends the messages, applies the committed entries
// and lets the leader move the group toward the machine's voters. It
// owns node until Close.
func (l *Log) run(node raft.Node, ticks <-chan time.Time, stopTicks func(), campaign bool) {
	defer l.wg.Done()
	defer stopTicks()
	if campaign {
		_ = node.Campaign(context.Background())
	}
	for {
		select {
		case <-l.stop:
			return
		case <-ticks:
			node.Tick()
			l.reconcile(node)
		case rd := <-node.Ready():
			if err := l.handle(node, rd); err != nil {
				l.fail(err)
				return
			}
			node.Advance()
		}
	}
}

// handle processes one Ready in the order raft requires: persist, then
// send, then apply.
func (l *Log) handle(node raft.Node, rd raft.Ready) error {
	if rd.SoftState != nil {
		l.mu.Lock()
		l.mu.leader = rd.SoftState.Lead
		l.mu.Unlock()
	}
	if err := l.disk.save(rd.HardState, rd.Snapshot, rd.Entries); err != nil {
		return err
	}
	if len(rd.Entries) > 0 || (rd.Snapshot != nil && !raft.IsEmptySnap(rd.Snapshot)) {
		l.initialized.Store(true)
	}
	if rd.Snapshot != nil && !raft.IsEmptySnap(rd.Snapshot) {
		if err := l.ms.ApplySnapshot(rd.Snapshot); err != nil {
			return err
		}
		if err := l.cfg.Machine.Restore(rd.Snapshot.GetData()); err != nil {
			return err
		}
		l.mu.Lock()
		l.mu.applied = rd.Snapshot.GetMetadata().GetIndex()
		l.mu.conf = rd.Snapshot.GetMetadata().GetConfState()
		l.mu.Unlock()
		l.log.Info("consensus: restored a snapshot", "index", l.mu.applied)
	}
	if rd.HardState != nil && !raft.IsEmptyHardState(rd.HardState) {
		if err := l.ms.SetHardState(rd.HardState); err != nil {
			return err
		}
	}
	if err := l.ms.Append(rd.Entries); err != nil {
		return err
	}
	for _, m := range rd.Messages {
		l.send(node, m)
	}
	for _, e := range rd.CommittedEntries {
		l.apply(node, e)
	}
	if len(rd.CommittedEntries) > 0 {
		l.notifyApplied()
		return l.maybeSnapshot()
	}
	return nil
}

// apply applies one committed entry. Entries Open replayed only get
// their configuration changes applied again, which raft needs.
func (l *Log) apply(node raft.Node, e *pb.Entry) {
	idx := e.GetIndex()
	switch e.GetType() {
	case pb.EntryNormal:
		if idx > l.replayed {
			l.applyNormal(e)
		}
	case pb.EntryConfChange, pb.EntryConfChangeV2:
		var cc interface {
			pb.ConfChangeI
			proto.Message
		} = &pb.ConfChange{}
		if e.GetType() == pb.EntryConfChangeV2 {
			cc = &pb.ConfChangeV2{}
		}
		if err := proto.Unmarshal(e.GetData(), cc); err != nil {
			l.log.Error("consensus: undecodable configuration change", "index", idx, "err", err)
			break
		}
		cs := node.ApplyConfChange(cc)
		l.mu.Lock()
		l.mu.conf = cs
		l.mu.Unlock()
		if idx > l.replayed {
			l.log.Info("consensus: group changed", "change", cc.AsV2().String(), "voters", cs.GetVoters())
		}
	}
	l.mu.Lock()
	if idx > l.mu.applied {
		l.mu.applied = idx
		l.mu.sinceSnap++
	}
	l.mu.Unlock()
}

// applyNormal applies a proposal (see encodeProposal) and hands the
// result to its waiter, if it is this member's.
func (l *Log) applyNormal(e *pb.Entry) {
	id, _, cmd, ok := decodeProposal(e.GetData())
	if !ok {
		return // the empty entry a new leader appends
	}
	err := l.cfg.Machine.Apply(cmd)
	l.mu.Lock()
	ch := l.mu.waiters[id]
	delete(l.mu.waiters, id)
	l.mu.Unlock()
	if ch != nil {
		ch <- err
	}
}

func (l *Log) notifyApplied() {
	l.mu.Lock()
	close(l.appliedCh)
	l.appliedCh = make(chan struct{})
	l.mu.Unlock()
}

// maybeSnapshot takes a snapshot every SnapshotEvery applied entries and
// truncates the log behind it, in memory and on disk.
func (l *Log) maybeSnapshot() error {
	l.mu.Lock()
	applied, since, conf := l.mu.applied, l.mu.sinceSnap, l.mu.conf
	l.mu.Unlock()
	if since < l.cfg.SnapshotEvery || applied <= l.snapIndex() {
		return nil
	}
	snap, err := l.ms.CreateSnapshot(applied, conf, l.cfg.Machine.Snapshot())
	if err != nil {
		return err
	}
	if err := l.disk.compact(snap); err != nil {
		return err
	}
	if err := l.ms.Compact(applied); err != nil && err != raft.ErrCompacted {
		return err
	}
	l.mu.Lock()
	l.mu.sinceSnap = 0
	l.mu.Unlock()
	return nil
}

// reconcile, on the leader, proposes the next change of the group
// toward the machine's voters: members to add first, then members to
// remove, one at a time (raft refuses a second while one is pending).
func (l *Log) reconcile(node raft.Node) {
	st := node.Status()
	if st.RaftState != raft.StateLeader {
		return
	}
	want := l.cfg.Machine.Voters()
	if len(want) == 0 {
		return
	}
	have := st.Config.Voters.IDs()
	for _, id := range want {
		if _, ok := have[id]; !ok {
			l.proposeConf(node, pb.ConfChangeAddNode, id)
			return
		}
	}
	for id := range have {
		if !slices.Contains(want, id) {
			l.proposeConf(node, pb.ConfChangeRemoveNode, id)
			return
		}
	}
}

func (l *Log) proposeConf(node raft.Node, t pb.ConfChangeType, id uint64) {
	cc := &pb.ConfChange{Type: t.Enum(), NodeId: proto.Uint64(id)}
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.TickInterval)
	defer cancel()
	_ = node.ProposeConfChange(ctx, cc)
}

// fail records err as what stopped the log.
func (l *Log) fail(err error) {
	l.log.Error("consensus: stopped", "err", err)
	l.mu.Lock()
	l.mu.err = err
	l.mu.Unlock()
}
