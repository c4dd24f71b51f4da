package consensus

import (
	"log/slog"
	"sync"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// senderQueue bounds the messages waiting for one destination; more are
// dropped (raft sends again what matters).
const senderQueue = 256

// sender delivers the messages for one destination in order, from its
// own goroutine, so a slow or dead peer never stalls the log's loop.
type sender struct {
	to   uint64
	tr   Transport
	node raft.Node
	log  *slog.Logger
	q    chan *pb.Message
	wg   sync.WaitGroup
}

// send queues m for its destination, starting the destination's sender
// on first use.
func (l *Log) send(node raft.Node, m *pb.Message) {
	l.mu.Lock()
	if l.mu.senders == nil {
		l.mu.Unlock()
		return // closing
	}
	s := l.mu.senders[m.GetTo()]
	if s == nil {
		s = &sender{to: m.GetTo(), tr: l.cfg.Transport, node: node, log: l.log, q: make(chan *pb.Message, senderQueue)}
		s.wg.Add(1)
		go s.loop()
		l.mu.senders[m.GetTo()] = s
	}
	l.mu.Unlock()
	if m.GetType() == pb.MsgSnap {
		// The snapshot raft picked may predate the destination's
		// admission to the group, which it would refuse: send the
		// state as of now instead, with the group as it is now.
		snap, err := l.freshSnapshot()
		if err != nil {
			node.ReportSnapshot(m.GetTo(), raft.SnapshotFailure)
			return
		}
		m = proto.Clone(m).(*pb.Message)
		m.Snapshot = snap
	}
	select {
	case s.q <- m:
	default:
		node.ReportUnreachable(m.GetTo())
		if m.GetType() == pb.MsgSnap {
			node.ReportSnapshot(m.GetTo(), raft.SnapshotFailure)
		}
	}
}

func (s *sender) loop() {
	defer s.wg.Done()
	for m := range s.q {
		raw, err := proto.Marshal(m)
		if err == nil {
			err = s.tr.Send(s.to, raw)
		}
		if err != nil {
			s.node.ReportUnreachable(s.to)
		}
		if m.GetType() == pb.MsgSnap {
			status := raft.SnapshotFinish
			if err != nil {
				status = raft.SnapshotFailure
			}
			s.node.ReportSnapshot(s.to, status)
		}
	}
}

// close stops the sender once its queue is drained.
func (s *sender) close() {
	close(s.q)
	s.wg.Wait()
}

// freshSnapshot returns the machine's state as of the last applied
// entry, with the group as applied. Called from the log's loop, so the
// machine is not changing meanwhile.
func (l *Log) freshSnapshot() (*pb.Snapshot, error) {
	l.mu.Lock()
	applied, conf := l.mu.applied, l.mu.conf
	l.mu.Unlock()
	term, err := l.ms.Term(applied)
	if err != nil {
		return nil, err
	}
	return &pb.Snapshot{
		Data:     l.cfg.Machine.Snapshot(),
		Metadata: &pb.SnapshotMetadata{Index: proto.Uint64(applied), Term: proto.Uint64(term), ConfState: conf},
	}, nil
}
