package layout

import (
	"fmt"
	"slices"
	"testing"
)

// FuzzCommands applies arbitrary command sequences and checks the
// layout's invariants after each: Apply never panics; a refused command
// leaves the layout as it was; the epoch grows by one per applied
// command; at most one operation runs and its members are in matching
// states; every member that owns ranges has tokens, distinct from every
// other owner's; both rings build.
func FuzzCommands(f *testing.F) {
	f.Add([]byte{0, 1, 2, 6, 7, 6, 6, 6, 3, 6, 7, 6, 6, 6, 4, 8})
	f.Add([]byte{1, 1, 1, 5, 2, 6, 8, 3, 4, 6, 7})
	f.Fuzz(func(t *testing.T, ops []byte) {
		l := cluster(t, "a", "b")
		for i, op := range ops {
			c := pick(l, op, i)
			next, err := Apply(l, c, testN)
			if err != nil {
				if next != l {
					t.Fatalf("refused %+v changed the layout", c)
				}
				continue
			}
			if next.Epoch != l.Epoch+1 {
				t.Fatalf("epoch %d after %d", next.Epoch, l.Epoch)
			}
			check(t, next)
			l = next
		}
	})
}

// pick turns a fuzz byte into a command that is often, not always,
// valid for l.
func pick(l *Layout, op byte, i int) Command {
	ids := []string{"a", "b", "c", "d", "e", "f"}
	id := ids[int(op>>4)%len(ids)]
	c := Command{Epoch: l.Epoch}
	if l.Op != nil {
		c.Epoch, c.Stage = l.Op.Epoch, l.Op.Stage
	}
	switch op % 9 {
	case 0, 1:
		c.Kind, c.Member = CmdJoin, member(fmt.Sprintf("%s%d", id, i))
	case 2:
		c.Kind, c.Node = CmdLeave, id
	case 3:
		c.Kind, c.Node = CmdRemove, id
	case 4:
		c.Kind, c.Node, c.Member = CmdReplace, id, member(fmt.Sprintf("r%d", i))
	case 5, 6:
		c.Kind = CmdAdvance
	case 7:
		c.Kind = CmdStreamed
		if l.Op != nil && len(l.Op.Pending) > 0 {
			c.Node, c.Epoch = l.Op.Pending[0], l.Op.Started
		}
	case 8:
		c.Kind = CmdAbort
		if l.Op != nil {
			c.Epoch = l.Op.Started
		}
	}
	return c
}

func check(t *testing.T, l *Layout) {
	t.Helper()
	seen := map[uint64]string{}
	busy := 0
	for _, m := range l.Members {
		switch m.State {
		case Joining, Leaving, Removing, Replacing:
			busy++
		}
		if m.State == Left {
			if m.Tokens != nil {
				t.Fatalf("%s left with tokens", m.ID)
			}
			continue
		}
		if len(m.Tokens) == 0 {
			t.Fatalf("%s (%s) has no tokens", m.ID, m.State)
		}
		if m.State == Joining && l.Op != nil && l.Op.Kind == Replace {
			continue // holds the tokens of the member it replaces
		}
		for _, tok := range m.Tokens {
			if o, ok := seen[tok]; ok {
				t.Fatalf("token %d of %s and %s", tok, o, m.ID)
			}
			seen[tok] = m.ID
		}
	}
	switch {
	case l.Op == nil && busy != 0:
		t.Fatalf("%d members in an operation's state with none in progress", busy)
	case l.Op != nil && l.Op.Kind == Replace && busy != 2:
		t.Fatalf("replace with %d members in an operation's state", busy)
	case l.Op != nil && l.Op.Kind != Replace && busy != 1:
		t.Fatalf("%s with %d members in an operation's state", l.Op.Kind, busy)
	}
	if l.Op != nil {
		for _, id := range l.Op.Pending {
			if !slices.Contains(l.Op.Gaining, id) {
				t.Fatalf("pending %s does not gain", id)
			}
		}
	}
	cur, next := l.Rings()
	if cur.Len() == 0 || next.Len() == 0 {
		t.Fatal("a ring without members")
	}
}
