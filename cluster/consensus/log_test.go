package consensus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ringcache/ringcache/bench/await"
)

// groupOf3 bootstraps member 1 and adds 2 and 3 through the machine's
// voters, as the layout does.
func groupOf3(t *testing.T, n *network, mods ...func(*Config)) []*member {
	t.Helper()
	a := startMember(t, n, 1, nil, true, mods...)
	propose(t, a.log, "voter+1")
	b := startMember(t, n, 2, nil, false, mods...)
	c := startMember(t, n, 3, nil, false, mods...)
	propose(t, a.log, "voter+2")
	propose(t, a.log, "voter+3")
	want := []string{"voter+1", "voter+2", "voter+3"}
	converged(t, want, a, b, c)
	await.T(t, 10*time.Second, "three voters", func() bool {
		return len(a.log.Status().Voters) == 3 && len(c.log.Status().Voters) == 3
	})
	return []*member{a, b, c}
}

// TestProposalsApplyInOneOrderEverywhere: proposals made concurrently
// through every member are applied by all in the same order, and each
// proposer gets its own command's result.
func TestProposalsApplyInOneOrderEverywhere(t *testing.T) {
	n := newNetwork()
	ms := groupOf3(t, n)
	errs := make(chan error, 30)
	for i := range 30 {
		go func() {
			mb := ms[i%3]
			cmd := fmt.Sprintf("c%d", i)
			if i%10 == 9 {
				cmd = "bad"
			}
			err := mb.log.Propose(context.Background(), []byte(cmd))
			if cmd == "bad" && errors.Is(err, errRefused) {
				err = nil
			}
			errs <- err
		}()
	}
	for range 30 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	want := ms[0].m.cmds()
	if len(want) != 3+27 {
		t.Fatalf("applied %d commands, want 30", len(want))
	}
	converged(t, want, ms...)
}

// TestRestartReplaysThePersistedLog: a member closed and reopened on its
// engine has the state it applied before Open returns, and catches up
// with what the others applied meanwhile.
func TestRestartReplaysThePersistedLog(t *testing.T) {
	n := newNetwork()
	ms := groupOf3(t, n)
	propose(t, ms[0].log, "before")
	converged(t, []string{"voter+1", "voter+2", "voter+3", "before"}, ms...)
	c := ms[2]
	c.stop(n)
	propose(t, ms[0].log, "while-down")
	c2 := startMember(t, n, 3, c.fs, false)
	_ = c2
	converged(t, []string{"voter+1", "voter+2", "voter+3", "before", "while-down"}, ms[0], c2)
}

// TestReopenedStateBeforeStart: Open alone restores what was applied.
func TestReopenedStateBeforeStart(t *testing.T) {
	n := newNetwork()
	a := startMember(t, n, 1, nil, true)
	propose(t, a.log, "voter+1")
	propose(t, a.log, "x")
	a.stop(n)
	m := machine{&listMachine{}}
	b := startMember(t, n, 1, a.fs, false, func(c *Config) { c.Machine = m })
	if got := m.cmds(); !slices.Equal(got, []string{"voter+1", "x"}) {
		t.Fatalf("after Open: %q", got)
	}
	propose(t, b.log, "y") // a group of one elects itself again
}

// TestSnapshotCatchesUpANewMember: with the log truncated behind a
// snapshot, a member added later receives the snapshot and then the
// entries after it.
func TestSnapshotCatchesUpANewMember(t *testing.T) {
	n := newNetwork()
	small := func(c *Config) { c.SnapshotEvery = 5 }
	a := startMember(t, n, 1, nil, true, small)
	propose(t, a.log, "voter+1")
	var want []string
	want = append(want, "voter+1")
	for i := range 12 {
		cmd := fmt.Sprintf("c%d", i)
		propose(t, a.log, cmd)
		want = append(want, cmd)
	}
	if a.log.snapIndex() == 0 {
		t.Fatal("no snapshot taken")
	}
	b := startMember(t, n, 2, nil, false, small)
	propose(t, a.log, "voter+2")
	want = append(want, "voter+2")
	converged(t, want, a, b)
	// b restarts from the snapshot it received.
	b.stop(n)
	b2 := startMember(t, n, 2, b.fs, false, small)
	propose(t, b2.log, "after")
	converged(t, append(want, "after"), a, b2)
}

// TestMinorityCannotCommit: a member cut off from the other two cannot
// get a proposal applied; the majority still can, and the cut member
// catches up once the cut heals.
func TestMinorityCannotCommit(t *testing.T) {
	n := newNetwork()
	ms := groupOf3(t, n)
	n.setCut(3, true)
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	if err := ms[2].log.Propose(ctx, []byte("minority")); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("proposal on the minority side: %v, want ErrNoLeader", err)
	}
	propose(t, ms[0].log, "majority")
	n.setCut(3, false)
	converged(t, []string{"voter+1", "voter+2", "voter+3", "majority"}, ms...)
}

// TestEndedContextProposesNothing: a proposal whose context has ended
// is refused and never applied (raft itself would take it about half the
// time), on the leader and on a follower that forwards.
func TestEndedContextProposesNothing(t *testing.T) {
	n := newNetwork()
	ms := groupOf3(t, n)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 40 {
		mb := ms[i%len(ms)]
		if err := mb.log.Propose(ctx, []byte("ended")); !errors.Is(err, ErrNoLeader) || !errors.Is(err, context.Canceled) {
			t.Fatalf("proposal with an ended context on member %d: %v, want ErrNoLeader and context.Canceled", mb.id, err)
		}
	}
	propose(t, ms[0].log, "after")
	converged(t, []string{"voter+1", "voter+2", "voter+3", "after"}, ms...)
}

// TestHeldUpProposalIsNotAppliedLater: a member cut off by a partition
// that holds messages up (not one that fails them) proposes; Propose
// gives up. When the partition heals, the proposal it forwarded reaches
// the leader: it must not be applied, since its proposer was told it
// failed.
func TestHeldUpProposalIsNotAppliedLater(t *testing.T) {
	n := newNetwork()
	ms := groupOf3(t, n)
	leader := ms[0].log.Status().Leader
	var cut *member
	for _, mb := range ms {
		if mb.id != leader {
			cut = mb
		}
	}
	n.setHold(cut.id)
	// At once, while the cut member still knows the leader: it forwards
	// the proposal, and the message is held.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := cut.log.Propose(ctx, []byte("minority")); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("proposal on the minority side: %v, want ErrNoLeader", err)
	}
	time.Sleep(300 * time.Millisecond) // past the grace (one election timeout: 100ms)
	n.release()
	propose(t, ms[0].log, "majority")
	converged(t, []string{"voter+1", "voter+2", "voter+3", "majority"}, ms...)
}

// TestRemovedVoterLeavesTheGroup: the leader follows the machine's
// voters down as well as up.
func TestRemovedVoterLeavesTheGroup(t *testing.T) {
	n := newNetwork()
	ms := groupOf3(t, n)
	propose(t, ms[1].log, "voter-3")
	await.T(t, 10*time.Second, "two voters", func() bool {
		v := ms[0].log.Status().Voters
		return slices.Equal(v, []uint64{1, 2})
	})
	propose(t, ms[0].log, "after")
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("empty config: %v", err)
	}
	if _, err := Open(Config{ID: 1}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Open without a store: %v", err)
	}
}
