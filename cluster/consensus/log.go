package consensus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Log is one member's copy of a replicated log of commands, applied in
// order to a StateMachine. Open it, Start it (bootstrapping a new group
// or joining one), Propose commands, hand it the messages peers send
// (Receive), and Close it.
type Log struct {
	cfg  Config
	log  *slog.Logger
	disk disk
	ms   *raft.MemoryStorage

	// replayed is the last index Open applied from the persisted log:
	// raft delivers those entries again after Start; only their
	// configuration changes are applied then.
	replayed uint64

	mu struct {
		sync.Mutex
		node    raft.Node // nil until Start
		waiters map[uint64]chan error
		senders map[uint64]*sender
		closed  bool
		// applied is the index of the last entry applied.
		applied uint64
		conf    *pb.ConfState
		// sinceSnap counts entries applied since the last snapshot.
		sinceSnap uint64
		leader    uint64
		err       error // a failure that stopped the log
	}
	// initialized is set once this member has a persisted log (it is or
	// was part of a group).
	initialized atomic.Bool
	// appliedCh is closed and replaced whenever entries are applied.
	appliedCh chan struct{}

	stop chan struct{}
	done chan struct{}
	wg   sync.WaitGroup
}

// Open loads the persisted log, restores the machine from it (snapshot
// and committed entries) and returns the log, not yet started.
func Open(cfg Config) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	l := &Log{
		cfg:       cfg,
		log:       cfg.Logger,
		disk:      disk{store: cfg.Store, prefix: cfg.Prefix},
		ms:        raft.NewMemoryStorage(),
		appliedCh: make(chan struct{}),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	l.mu.waiters = map[uint64]chan error{}
	l.mu.senders = map[uint64]*sender{}
	snap, persisted, err := l.disk.load(l.ms)
	if err != nil {
		return nil, err
	}
	l.initialized.Store(persisted)
	if !raft.IsEmptySnap(snap) {
		if err := cfg.Machine.Restore(snap.GetData()); err != nil {
			return nil, fmt.Errorf("%w: restore: %w", ErrCorrupt, err)
		}
		l.mu.applied = snap.GetMetadata().GetIndex()
		l.mu.conf = snap.GetMetadata().GetConfState()
	}
	hs, _, _ := l.ms.InitialState()
	first, _ := l.ms.FirstIndex()
	if commit := hs.GetCommit(); commit >= first {
		ents, err := l.ms.Entries(max(first, l.mu.applied+1), commit+1, ^uint64(0))
		if err != nil {
			return nil, fmt.Errorf("%w: replay: %w", ErrCorrupt, err)
		}
		for _, e := range ents {
			if e.GetType() == pb.EntryNormal {
				l.applyNormal(e)
			}
			l.mu.applied = e.GetIndex()
		}
	}
	l.replayed = l.mu.applied
	return l, nil
}

// Initialized reports whether this member has a persisted log: it is
// part of a group already, and Start restarts it.
func (l *Log) Initialized() bool { return l.initialized.Load() }

// Start starts the member. With bootstrap, and no persisted log, it
// founds a new group with itself as its only voter and campaigns at
// once; otherwise it restarts from the persisted log, or waits to be
// added to a group by its leader (after a proposal that makes the
// machine's Voters include it).
func (l *Log) Start(bootstrap bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return ErrClosed
	}
	if l.mu.node != nil {
		return ErrStarted
	}
	c := &raft.Config{
		ID:              l.cfg.ID,
		ElectionTick:    l.cfg.ElectionTicks,
		HeartbeatTick:   l.cfg.HeartbeatTicks,
		Storage:         l.ms,
		Applied:         l.snapIndex(),
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 64,
		CheckQuorum:     true,
		PreVote:         true,
		Logger:          raftLogger{l.log},

		StepDownOnRemoval: true,
	}
	if bootstrap && !l.Initialized() {
		l.mu.node = raft.StartNode(c, []raft.Peer{{ID: l.cfg.ID}})
	} else {
		l.mu.node = raft.RestartNode(c)
	}
	ticks, stopTicks := l.cfg.NewTicker(l.cfg.TickInterval)
	l.wg.Add(1)
	go l.run(l.mu.node, ticks, stopTicks, bootstrap)
	return nil
}

func (l *Log) snapIndex() uint64 {
	s, _ := l.ms.Snapshot()
	return s.GetMetadata().GetIndex()
}

// Propose replicates cmd and waits until this member applied it,
// returning the machine's result. It retries while no leader accepts
// the proposal, until ctx ends (ErrNoLeader); with ctx already ended it
// proposes nothing. A proposal whose result never arrives may still be
// applied later: commands should be idempotent or carry what makes a
// repeat harmless.
//
// Each attempt carries a deadline: the end of its wait for the result,
// or ctx's deadline if that comes first. The leader drops a forwarded
// attempt that reaches it later than that (plus Config.ProposalGrace),
// so once Propose returned ErrNoLeader the command can only be applied
// if the leader had appended it already, not by a message a partition
// held up.
func (l *Log) Propose(ctx context.Context, cmd []byte) error {
	id := newProposalID()
	ch := make(chan error, 1)
	node, err := l.started(func() { l.mu.waiters[id] = ch })
	if err != nil {
		return err
	}
	defer func() {
		l.mu.Lock()
		delete(l.mu.waiters, id)
		l.mu.Unlock()
	}()
	wait := l.cfg.TickInterval * time.Duration(l.cfg.ElectionTicks) * 2
	for {
		if err := ctx.Err(); err != nil {
			// Raft takes a proposal even with its context done, when it
			// can (its select picks at random): an ended context
			// proposes nothing, neither first nor again.
			return fmt.Errorf("%w: %w", ErrNoLeader, err)
		}
		deadline := time.Now().Add(wait)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		err := node.Propose(ctx, encodeProposal(id, deadline, cmd))
		if err == nil {
			// Wait a while for the result; a proposal lost with a
			// leader is proposed again.
			t := time.NewTimer(time.Until(deadline))
			select {
			case err := <-ch:
				t.Stop()
				return err
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
			case <-l.done:
				t.Stop()
				return ErrClosed
			case <-t.C:
				continue
			}
		}
		if !errors.Is(err, raft.ErrProposalDropped) {
			if ctx.Err() != nil {
				return fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
			}
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
		case <-l.done:
			return ErrClosed
		case <-time.After(l.cfg.TickInterval):
		}
	}
}

// started returns the running node, or why there is none; with it, also
// runs under the lock that Close takes.
func (l *Log) started(also func()) (raft.Node, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.mu.closed:
		return nil, ErrClosed
	case l.mu.node == nil:
		return nil, ErrNotStarted
	}
	if also != nil {
		also()
	}
	return l.mu.node, nil
}

// Receive hands the log a message a peer sent, and returns the id of
// the member that sent it (0 when it does not decode).
func (l *Log) Receive(ctx context.Context, msg []byte) (from uint64, err error) {
	m := &pb.Message{}
	if err := proto.Unmarshal(msg, m); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	if m.GetTo() != l.cfg.ID {
		// For an earlier incarnation of this member (same address, wiped
		// disk): its log is not ours, and raft would take it for a lost one.
		return m.GetFrom(), fmt.Errorf("%w: for member %x, this is %x", ErrBadMessage, m.GetTo(), l.cfg.ID)
	}
	node, err := l.started(nil)
	if err != nil {
		return m.GetFrom(), err
	}
	if !dropExpired(m, time.Now(), l.cfg.ProposalGrace) {
		l.log.Debug("consensus: dropped a proposal past its deadline", "from", m.GetFrom())
		return m.GetFrom(), nil
	}
	return m.GetFrom(), node.Step(ctx, m)
}

// Status is what a member knows of its group.
type Status struct {
	// Leader is the leader's id, 0 when none is known.
	Leader uint64
	// IsLeader is set on the leader.
	IsLeader bool
	// Applied is the index of the last entry applied.
	Applied uint64
	// Voters lists the group's voting members as this member applied it.
	Voters []uint64
}

// Status returns what this member knows of the group now.
func (l *Log) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Status{Leader: l.mu.leader, IsLeader: l.mu.leader == l.cfg.ID && l.mu.node != nil, Applied: l.mu.applied}
	if l.mu.conf != nil {
		s.Voters = slices.Clone(l.mu.conf.GetVoters())
		slices.Sort(s.Voters)
	}
	return s
}

// Applied returns a channel closed the next time entries are applied.
func (l *Log) Applied() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appliedCh
}

// Err returns the failure that stopped the log, if any.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.err
}

// Close stops the member; the persisted log stays. Idempotent.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return nil
	}
	l.mu.closed = true
	node := l.mu.node
	senders := l.mu.senders
	l.mu.senders = nil
	l.mu.Unlock()
	close(l.stop)
	l.wg.Wait()
	if node != nil {
		node.Stop()
	}
	for _, s := range senders {
		s.close()
	}
	close(l.done)
	return nil
}
