package layout

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/ringcache/ringcache/cluster/ring"
)

const testN = 3

func member(id string) *Member {
	return &Member{ID: id, RaftID: xxhash.Sum64String(id), ClusterAddr: id + ":7100"}
}

func mustApply(t testing.TB, l *Layout, c Command) *Layout {
	t.Helper()
	next, err := Apply(l, c, testN)
	if err != nil {
		t.Fatalf("Apply(%+v): %v", c, err)
	}
	return next
}

// finish drives the operation in progress to completion as the driver
// would: advance, report every gaining member streamed, advance.
func finish(t testing.TB, l *Layout) *Layout {
	t.Helper()
	for l.Op != nil {
		if l.Op.Stage == Streaming {
			for _, id := range l.Op.Pending {
				l = mustApply(t, l, Command{Kind: CmdStreamed, Node: id, Epoch: l.Op.Started})
			}
		}
		l = mustApply(t, l, Command{Kind: CmdAdvance, Stage: l.Op.Stage, Epoch: l.Op.Epoch})
	}
	return l
}

func cluster(t testing.TB, ids ...string) *Layout {
	t.Helper()
	l := mustApply(t, &Layout{}, Command{Kind: CmdBootstrap, ClusterID: "c", Member: member(ids[0]), VNodes: 64})
	for _, id := range ids[1:] {
		l = finish(t, mustApply(t, l, Command{Kind: CmdJoin, Member: member(id)}))
	}
	return l
}

func TestStagesOfAJoin(t *testing.T) {
	l := cluster(t, "a", "b", "c")
	l = mustApply(t, l, Command{Kind: CmdJoin, Member: member("d")})
	if m, _ := l.Member("d"); m.State != Joining || len(m.Tokens) != 64 {
		t.Fatalf("joining member: %+v", m)
	}
	if !slices.Equal(l.Op.Gaining, []string{"d"}) || !slices.Equal(l.Op.Pending, []string{"d"}) {
		t.Fatalf("a join's gaining members: %v", l.Op.Gaining)
	}
	cur, next := l.Rings()
	if cur.Len() != 3 || next.Len() != 4 {
		t.Fatalf("rings of %d and %d members", cur.Len(), next.Len())
	}
	if _, err := Apply(l, Command{Kind: CmdJoin, Member: member("d")}, testN); err != nil {
		t.Fatalf("the joining node asks again: %v", err)
	}
	wiped := member("d")
	wiped.Incarnation = 9
	if _, err := Apply(l, Command{Kind: CmdJoin, Member: wiped}, testN); !errors.Is(err, ErrBusy) && !errors.Is(err, ErrKnownID) {
		t.Fatalf("another node under the joining id: %v", err)
	}
	if _, err := Apply(l, Command{Kind: CmdJoin, Member: member("e")}, testN); !errors.Is(err, ErrBusy) {
		t.Fatalf("a second join: %v, want ErrBusy", err)
	}
	if _, err := Apply(l, Command{Kind: CmdLeave, Node: "a"}, testN); !errors.Is(err, ErrBusy) {
		t.Fatalf("a leave during a join: %v, want ErrBusy", err)
	}
	want := []Stage{WriteBothReadOld, Streaming, WriteBothReadNew, UseNew}
	for i, s := range want {
		if l.Op.Stage != s || l.Op.Epoch != l.Epoch {
			t.Fatalf("step %d: at %s since %d (epoch %d), want %s", i, l.Op.Stage, l.Op.Epoch, l.Epoch, s)
		}
		if _, err := Apply(l, Command{Kind: CmdAdvance, Stage: s, Epoch: l.Epoch - 1}, testN); !errors.Is(err, ErrStale) {
			t.Fatalf("advance with an old epoch: %v", err)
		}
		if s == Streaming {
			if _, err := Apply(l, Command{Kind: CmdAdvance, Stage: s, Epoch: l.Op.Epoch}, testN); !errors.Is(err, ErrNotDone) {
				t.Fatalf("advance while streaming: %v", err)
			}
			l = mustApply(t, l, Command{Kind: CmdStreamed, Node: "d", Epoch: l.Op.Started})
			l = mustApply(t, l, Command{Kind: CmdStreamed, Node: "d", Epoch: l.Op.Started}) // twice: fine
		}
		if s == WriteBothReadNew {
			if _, err := Apply(l, Command{Kind: CmdAbort, Epoch: l.Op.Started}, testN); !errors.Is(err, ErrBadState) {
				t.Fatalf("abort after read-new: %v", err)
			}
		}
		l = mustApply(t, l, Command{Kind: CmdAdvance, Stage: s, Epoch: l.Op.Epoch})
	}
	if l.Op != nil {
		t.Fatalf("operation still in progress: %+v", l.Op)
	}
	if m, _ := l.Member("d"); m.State != Normal {
		t.Fatalf("joined member is %s", m.State)
	}
	if cur, _ := l.Rings(); cur.Digest() != next.Digest() {
		t.Fatal("the ring after the join is not the one planned")
	}
}

// TestJoinMovesOnlyToTheNewMember: over ten joins, every moved range
// goes to the joining member alone, the others keep their tokens, and
// the primary shares stay balanced (the spread is logged).
func TestJoinMovesOnlyToTheNewMember(t *testing.T) {
	l := cluster(t, "n00")
	for i := 1; i <= 10; i++ {
		id := fmt.Sprintf("n%02d", i)
		before := l.Clone()
		l = mustApply(t, l, Command{Kind: CmdJoin, Member: member(id)})
		cur, next := l.Rings()
		for _, mv := range ring.Moves(cur, next, testN) {
			if g := mv.Gaining(); !slices.Equal(g, []string{id}) {
				t.Fatalf("join %s: range %v gained by %v", id, mv.Range, g)
			}
		}
		l = finish(t, l)
		for _, m := range before.Members {
			if now, _ := l.Member(m.ID); !slices.Equal(now.Tokens, m.Tokens) {
				t.Fatalf("join %s changed %s's tokens", id, m.ID)
			}
		}
		cur, _ = l.Rings()
		lo, hi := 1.0, 0.0
		for _, s := range cur.Shares() {
			lo, hi = min(lo, s), max(hi, s)
		}
		spread := hi / lo
		t.Logf("%2d members: primary share spread (max/min) %.3f", i+1, spread)
		if spread > 1.5 {
			t.Fatalf("%d members: spread %.3f", i+1, spread)
		}
	}
}

func TestLeaveRemoveReplace(t *testing.T) {
	base := cluster(t, "a", "b", "c", "d")
	for _, kind := range []CommandKind{CmdLeave, CmdRemove} {
		l := mustApply(t, base, Command{Kind: kind, Node: "b"})
		if slices.Contains(l.Op.Gaining, "b") || len(l.Op.Gaining) == 0 {
			t.Fatalf("kind %d: gaining %v", kind, l.Op.Gaining)
		}
		l = finish(t, l)
		m, _ := l.Member("b")
		if m.State != Left || m.Tokens != nil {
			t.Fatalf("kind %d: departed member %+v", kind, m)
		}
		if cur, _ := l.Rings(); cur.Len() != 3 {
			t.Fatalf("kind %d: ring of %d", kind, cur.Len())
		}
		if slices.Contains(l.Voters(), m.RaftID) {
			t.Fatalf("kind %d: departed member still votes", kind)
		}
		if _, err := Apply(l, Command{Kind: CmdJoin, Member: member("b")}, testN); !errors.Is(err, ErrKnownID) {
			t.Fatalf("kind %d: the id of a departed member joins again: %v", kind, err)
		}
	}

	l := mustApply(t, base, Command{Kind: CmdReplace, Node: "b", Member: member("e")})
	if !slices.Equal(l.Op.Gaining, []string{"e"}) {
		t.Fatalf("replace: gaining %v", l.Op.Gaining)
	}
	old, _ := l.Member("b")
	l = finish(t, l)
	if e, _ := l.Member("e"); e.State != Normal || !slices.Equal(e.Tokens, old.Tokens) {
		t.Fatalf("replacement %+v does not hold the tokens of b", e)
	}
	if b, _ := l.Member("b"); b.State != Left {
		t.Fatalf("replaced member is %s", b.State)
	}
}

func TestAbortRestores(t *testing.T) {
	base := cluster(t, "a", "b", "c")
	for _, c := range []Command{
		{Kind: CmdJoin, Member: member("d")},
		{Kind: CmdLeave, Node: "b"},
		{Kind: CmdReplace, Node: "b", Member: member("e")},
	} {
		l := mustApply(t, base, c)
		l = mustApply(t, l, Command{Kind: CmdAdvance, Stage: l.Op.Stage, Epoch: l.Op.Epoch})
		l = mustApply(t, l, Command{Kind: CmdAbort, Epoch: l.Op.Started})
		cur, _ := l.Rings()
		bcur, _ := base.Rings()
		if l.Op != nil || cur.Digest() != bcur.Digest() {
			t.Fatalf("%+v: abort did not restore the ring", c)
		}
	}
}

func TestBadCommands(t *testing.T) {
	empty := &Layout{}
	if _, err := Apply(empty, Command{Kind: CmdJoin, Member: member("a")}, testN); !errors.Is(err, ErrNotBootstrapped) {
		t.Fatalf("join before bootstrap: %v", err)
	}
	l := cluster(t, "a", "b")
	cases := []struct {
		c    Command
		want error
	}{
		{Command{Kind: CmdBootstrap, ClusterID: "x", Member: member("z")}, ErrBootstrapped},
		{Command{Kind: CmdJoin, Member: member("a")}, ErrKnownID},
		{Command{Kind: CmdJoin, Member: &Member{ID: "z"}}, ErrBadCommand},
		{Command{Kind: CmdJoin}, ErrBadCommand},
		{Command{Kind: CmdLeave, Node: "zz"}, ErrUnknownNode},
		{Command{Kind: CmdReplace, Node: "a", Member: member("b")}, ErrKnownID},
		{Command{Kind: CmdAdvance, Epoch: l.Epoch}, ErrStale},
		{Command{Kind: CmdStreamed, Node: "a", Epoch: 1}, ErrStale},
		{Command{Kind: 99}, ErrBadCommand},
	}
	for _, tc := range cases {
		got, err := Apply(l, tc.c, testN)
		if !errors.Is(err, tc.want) || got != l {
			t.Errorf("Apply(%+v) = %v, want %v and the layout unchanged", tc.c, err, tc.want)
		}
	}
	one := cluster(t, "a")
	if _, err := Apply(one, Command{Kind: CmdLeave, Node: "a"}, testN); !errors.Is(err, ErrTooFew) {
		t.Fatalf("the last member leaves: %v", err)
	}
}

// TestEncodeRoundTrip: a layout and a command survive their encoding,
// and applying the decoded commands gives the same layout.
func TestEncodeRoundTrip(t *testing.T) {
	l := cluster(t, "a", "b", "c")
	l = mustApply(t, l, Command{Kind: CmdJoin, Member: member("d")})
	got, err := Decode(l.Encode())
	if err != nil || !bytes.Equal(got.Encode(), l.Encode()) {
		t.Fatalf("round trip: %v", err)
	}
	c := Command{Kind: CmdAdvance, Stage: l.Op.Stage, Epoch: l.Op.Epoch}
	dc, err := DecodeCommand(c.Encode())
	if err != nil || dc != c {
		t.Fatalf("command round trip: %+v %v", dc, err)
	}
	a, b := mustApply(t, l, c), mustApply(t, got, dc)
	if !bytes.Equal(a.Encode(), b.Encode()) {
		t.Fatal("the same command on equal layouts gives different layouts")
	}
	if _, err := DecodeCommand([]byte("{")); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("garbage: %v", err)
	}
}
