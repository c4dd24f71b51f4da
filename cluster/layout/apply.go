package layout

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/ringcache/ringcache/cluster/ring"
)

// CommandKind is what a Command does.
type CommandKind uint8

const (
	// CmdBootstrap creates the cluster with Member as its first, Normal
	// member.
	CmdBootstrap CommandKind = iota + 1
	// CmdJoin starts the join of Member.
	CmdJoin
	// CmdLeave starts the departure of Node, which is alive.
	CmdLeave
	// CmdRemove starts the removal of Node, which is dead.
	CmdRemove
	// CmdReplace starts the replacement of Node (dead) by Member.
	CmdReplace
	// CmdAdvance moves the operation from Stage to the next stage (or
	// completes it from UseNew); Epoch is the stage's epoch.
	CmdAdvance
	// CmdStreamed reports that Node received every range it gains in
	// the operation that began at Epoch.
	CmdStreamed
	// CmdAbort rolls back the operation that began at Epoch, which
	// must not have reached WriteBothReadNew.
	CmdAbort
)

// Command is one change proposed to the layout.
type Command struct {
	Kind CommandKind `json:"kind"`
	// ClusterID names the new cluster (Bootstrap).
	ClusterID string `json:"cluster_id,omitempty"`
	// Member is the member bootstrapping, joining or replacing; its
	// Tokens and State are chosen by Apply.
	Member *Member `json:"member,omitempty"`
	// VNodes is the token count Member asks for (0: the default).
	VNodes int `json:"vnodes,omitempty"`
	// Node is the member the command is about.
	Node string `json:"node,omitempty"`
	// Stage and Epoch pin the operation stage a command was made for.
	Stage Stage  `json:"stage,omitempty"`
	Epoch uint64 `json:"epoch,omitempty"`
	// Force marks an operation forced past a data-loss check.
	Force bool `json:"force,omitempty"`
}

// Encode returns c's encoding.
func (c Command) Encode() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // a Command always encodes
	}
	return b
}

// DecodeCommand decodes a Command encoded by Encode.
func DecodeCommand(b []byte) (Command, error) {
	var c Command
	if err := json.Unmarshal(b, &c); err != nil {
		return Command{}, fmt.Errorf("%w: %w", ErrBadCommand, err)
	}
	return c, nil
}

// Encode returns l's encoding (a snapshot of the log).
func (l *Layout) Encode() []byte {
	b, err := json.Marshal(l)
	if err != nil {
		panic(err)
	}
	return b
}

// Decode decodes a Layout encoded by Encode.
func Decode(b []byte) (*Layout, error) {
	var l Layout
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("%w: layout: %w", ErrBadCommand, err)
	}
	sortMembers(l.Members)
	return &l, nil
}

// Apply returns the layout after c, with its epoch incremented, or an
// error and l unchanged. It is deterministic: every member applies the
// same commands in the same order and reaches the same layout. n is the
// replica count the operation's streaming plan is made for.
func Apply(l *Layout, c Command, n int) (*Layout, error) {
	if c.Kind != CmdBootstrap && !l.Bootstrapped() {
		return l, ErrNotBootstrapped
	}
	var next *Layout
	var err error
	switch c.Kind {
	case CmdBootstrap:
		next, err = bootstrap(l, c)
	case CmdJoin:
		next, err = join(l, c, n)
	case CmdLeave, CmdRemove:
		next, err = depart(l, c, n)
	case CmdReplace:
		next, err = replace(l, c, n)
	case CmdAdvance:
		next, err = advance(l, c)
	case CmdStreamed:
		next, err = streamed(l, c)
	case CmdAbort:
		next, err = abort(l, c)
	default:
		return l, fmt.Errorf("%w: kind %d", ErrBadCommand, c.Kind)
	}
	if err != nil {
		return l, err
	}
	next.Epoch = l.Epoch + 1
	if next.Op != nil && next.Op.Epoch == 0 {
		next.Op.Epoch = next.Epoch
	}
	if next.Op != nil && next.Op.Started == 0 {
		next.Op.Started = next.Epoch
	}
	return next, nil
}

func checkNew(l *Layout, c Command) error {
	if c.Member == nil || c.Member.ID == "" || c.Member.ClusterAddr == "" || c.Member.RaftID == 0 {
		return fmt.Errorf("%w: member with id, cluster address and raft id", ErrBadCommand)
	}
	if _, ok := l.Member(c.Member.ID); ok {
		return fmt.Errorf("%w: %s", ErrKnownID, c.Member.ID)
	}
	for _, m := range l.Members {
		if m.RaftID == c.Member.RaftID {
			return fmt.Errorf("%w: raft id %d of %s", ErrKnownID, m.RaftID, m.ID)
		}
	}
	return nil
}

func bootstrap(l *Layout, c Command) (*Layout, error) {
	if l.Bootstrapped() {
		return nil, ErrBootstrapped
	}
	if c.ClusterID == "" {
		return nil, fmt.Errorf("%w: bootstrap without a cluster id", ErrBadCommand)
	}
	if err := checkNew(&Layout{}, c); err != nil {
		return nil, err
	}
	next := &Layout{ClusterID: c.ClusterID, VNodes: max(c.VNodes, 1)}
	m := *c.Member
	m.State = Normal
	m.Tokens = ring.JoinTokens(ring.New(nil, 0), m.ID, next.VNodes)
	next.Members = []Member{m}
	return next, nil
}

// idle returns ErrBusy when an operation is in progress. A command that
// repeats the start of the operation in progress is not an error: the
// caller gets its (already applied) result.
func idle(l *Layout) error {
	if l.Op != nil {
		return fmt.Errorf("%w: %s of %s at %s", ErrBusy, l.Op.Kind, l.Op.Node, l.Op.Stage)
	}
	return nil
}

func join(l *Layout, c Command, n int) (*Layout, error) {
	if c.Member != nil && l.Op != nil && l.Op.Kind == Join && l.Op.Node == c.Member.ID {
		if m, _ := l.Member(c.Member.ID); m.Incarnation == c.Member.Incarnation {
			return l.Clone(), nil // the joining node asked again
		}
	}
	if err := idle(l); err != nil {
		return nil, err
	}
	if err := checkNew(l, c); err != nil {
		return nil, err
	}
	cur, _ := l.Rings()
	v := c.VNodes
	if v <= 0 {
		v = l.VNodes
	}
	m := *c.Member
	m.State = Joining
	m.Tokens = ring.JoinTokens(cur, m.ID, v)
	next := l.Clone()
	next.Members = append(next.Members, m)
	sortMembers(next.Members)
	next.Op = &Op{Kind: Join, Node: m.ID, Stage: WriteBothReadOld}
	return plan(next, n), nil
}

// idleNormal returns the index of member id for an operation that
// starts from it: no operation in progress, and id a Normal member.
func idleNormal(l *Layout, id string) (int, error) {
	if err := idle(l); err != nil {
		return 0, err
	}
	i, ok := l.index(id)
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrUnknownNode, id)
	}
	if l.Members[i].State != Normal {
		return 0, fmt.Errorf("%w: %s is %s", ErrBadState, id, l.Members[i].State)
	}
	return i, nil
}

func depart(l *Layout, c Command, n int) (*Layout, error) {
	i, err := idleNormal(l, c.Node)
	if err != nil {
		return nil, err
	}
	if owners(l) < 2 {
		return nil, ErrTooFew
	}
	next := l.Clone()
	kind, state := Leave, Leaving
	if c.Kind == CmdRemove {
		kind, state = Remove, Removing
	}
	next.Members[i].State = state
	next.Op = &Op{Kind: kind, Node: c.Node, Stage: WriteBothReadOld, Forced: c.Force}
	return plan(next, n), nil
}

func replace(l *Layout, c Command, n int) (*Layout, error) {
	i, err := idleNormal(l, c.Node)
	if err != nil {
		return nil, err
	}
	if err := checkNew(l, c); err != nil {
		return nil, err
	}
	next := l.Clone()
	next.Members[i].State = Replacing
	m := *c.Member
	m.State = Joining
	m.Tokens = slices.Clone(l.Members[i].Tokens)
	next.Members = append(next.Members, m)
	sortMembers(next.Members)
	next.Op = &Op{Kind: Replace, Node: m.ID, Old: c.Node, Stage: WriteBothReadOld, Forced: c.Force}
	return plan(next, n), nil
}

// plan sets the operation's gaining members: those that receive a range
// they do not hold on the current ring.
func plan(l *Layout, n int) *Layout {
	cur, next := l.Rings()
	var gaining []string
	for _, mv := range ring.Moves(cur, next, n) {
		for _, id := range mv.Gaining() {
			if !slices.Contains(gaining, id) {
				gaining = append(gaining, id)
			}
		}
	}
	slices.Sort(gaining)
	l.Op.Gaining = gaining
	l.Op.Pending = slices.Clone(gaining)
	return l
}

func owners(l *Layout) int {
	k := 0
	for _, m := range l.Members {
		if m.State == Normal {
			k++
		}
	}
	return k
}

// current checks that c was made for the operation's current stage.
func current(l *Layout, c Command) error {
	if l.Op == nil {
		return fmt.Errorf("%w: no operation in progress", ErrStale)
	}
	if c.Epoch != l.Op.Epoch || (c.Stage != 0 && c.Stage != l.Op.Stage) {
		return fmt.Errorf("%w: for %s at epoch %d, the operation is at %s since epoch %d",
			ErrStale, c.Stage, c.Epoch, l.Op.Stage, l.Op.Epoch)
	}
	return nil
}

func advance(l *Layout, c Command) (*Layout, error) {
	if err := current(l, c); err != nil {
		return nil, err
	}
	if l.Op.Stage == Streaming && len(l.Op.Pending) > 0 {
		return nil, fmt.Errorf("%w: %v", ErrNotDone, l.Op.Pending)
	}
	next := l.Clone()
	if l.Op.Stage == UseNew {
		return complete(next), nil
	}
	next.Op.Stage++
	next.Op.Epoch = 0 // Apply sets the new epoch
	return next, nil
}

// complete ends the operation: the layout becomes its next one.
func complete(l *Layout) *Layout {
	for i := range l.Members {
		m := &l.Members[i]
		switch m.State {
		case Joining:
			m.State = Normal
		case Leaving, Removing, Replacing:
			m.State, m.Tokens = Left, nil
		}
	}
	l.Op = nil
	return l
}

func streamed(l *Layout, c Command) (*Layout, error) {
	if l.Op == nil || c.Epoch != l.Op.Started {
		return nil, fmt.Errorf("%w: streaming report for the operation of epoch %d", ErrStale, c.Epoch)
	}
	i := slices.Index(l.Op.Pending, c.Node)
	if i < 0 {
		if slices.Contains(l.Op.Gaining, c.Node) {
			return l.Clone(), nil // reported twice
		}
		return nil, fmt.Errorf("%w: %s gains no range", ErrUnknownNode, c.Node)
	}
	next := l.Clone()
	next.Op.Pending = slices.Delete(next.Op.Pending, i, i+1)
	return next, nil
}

func abort(l *Layout, c Command) (*Layout, error) {
	if l.Op == nil || c.Epoch != l.Op.Started {
		return nil, fmt.Errorf("%w: abort of the operation of epoch %d", ErrStale, c.Epoch)
	}
	if l.Op.Stage >= WriteBothReadNew {
		return nil, fmt.Errorf("%w: the operation reads from the new replicas already", ErrBadState)
	}
	next := l.Clone()
	for i := range next.Members {
		m := &next.Members[i]
		switch m.State {
		case Joining:
			m.State, m.Tokens = Left, nil
		case Leaving, Removing, Replacing:
			m.State = Normal
		}
	}
	next.Op = nil
	return next, nil
}
