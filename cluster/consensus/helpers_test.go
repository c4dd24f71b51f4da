package consensus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"

	"github.com/ringcache/ringcache/bench/await"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/engine/enginetest"
)

// listMachine records the commands it applied. "voter+N" and "voter-N"
// change its voters; "bad" is refused.
type listMachine struct {
	mu     sync.Mutex
	Cmds   []string
	Voters []uint64 // json
}

var errRefused = errors.New("refused")

func (m *listMachine) Apply(cmd []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := string(cmd)
	if s == "bad" {
		return errRefused
	}
	var id uint64
	if _, err := fmt.Sscanf(s, "voter+%d", &id); err == nil && !slices.Contains(m.Voters, id) {
		m.Voters = append(m.Voters, id)
	}
	if _, err := fmt.Sscanf(s, "voter-%d", &id); err == nil {
		m.Voters = slices.DeleteFunc(m.Voters, func(v uint64) bool { return v == id })
	}
	m.Cmds = append(m.Cmds, s)
	return nil
}

func (m *listMachine) Snapshot() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, _ := json.Marshal(m)
	return b
}

func (m *listMachine) Restore(snap []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Cmds, m.Voters = nil, nil
	return json.Unmarshal(snap, m)
}

func (m *listMachine) cmds() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.Cmds)
}

// voters implements StateMachine.Voters.
type machine struct{ *listMachine }

func (m machine) Voters() []uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.listMachine.Voters)
}

// network delivers messages between the logs of one test, and can cut
// members off.
type network struct {
	mu   sync.Mutex
	logs map[uint64]*Log
	cut  map[uint64]bool
	// hold, for a member, keeps the messages to and from it instead of
	// failing them, as a TCP connection does through a partition that
	// drops packets; release delivers them.
	hold map[uint64]bool
	held []heldMsg
}

type heldMsg struct {
	to  uint64
	msg []byte
}

func newNetwork() *network {
	return &network{logs: map[uint64]*Log{}, cut: map[uint64]bool{}, hold: map[uint64]bool{}}
}

type endpoint struct {
	n    *network
	from uint64
}

func (e endpoint) Send(to uint64, msg []byte) error {
	e.n.mu.Lock()
	l, cut := e.n.logs[to], e.n.cut[to] || e.n.cut[e.from]
	if e.n.hold[to] || e.n.hold[e.from] {
		e.n.held = append(e.n.held, heldMsg{to, slices.Clone(msg)})
		e.n.mu.Unlock()
		return nil
	}
	e.n.mu.Unlock()
	if l == nil || cut {
		return errors.New("unreachable")
	}
	_, err := l.Receive(context.Background(), msg)
	return err
}

func (n *network) setCut(id uint64, cut bool) {
	n.mu.Lock()
	n.cut[id] = cut
	n.mu.Unlock()
}

func (n *network) setHold(id uint64) {
	n.mu.Lock()
	n.hold[id] = true
	n.mu.Unlock()
}

// release ends every hold and delivers the held messages, in order.
func (n *network) release() {
	n.mu.Lock()
	clear(n.hold)
	held := n.held
	n.held = nil
	n.mu.Unlock()
	for _, h := range held {
		n.mu.Lock()
		l := n.logs[h.to]
		n.mu.Unlock()
		if l != nil {
			_, _ = l.Receive(context.Background(), h.msg)
		}
	}
}

// member is one log of a test group with the engine it persists to.
type member struct {
	id  uint64
	fs  vfs.FS
	eng *engine.Engine
	m   machine
	log *Log
}

func startMember(t *testing.T, n *network, id uint64, fs vfs.FS, bootstrap bool, mods ...func(*Config)) *member {
	t.Helper()
	if fs == nil {
		fs = vfs.NewMem()
	}
	mb := &member{id: id, fs: fs, m: machine{&listMachine{}}}
	mb.eng = enginetest.Open(t, func(c *engine.Config) { c.FS = fs })
	cfg := Config{ID: id, Store: mb.eng, Machine: mb.m, Transport: endpoint{n, id}, TickInterval: 10 * time.Millisecond}
	for _, f := range mods {
		f(&cfg)
	}
	l, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mb.log = l
	n.mu.Lock()
	n.logs[id] = l
	n.mu.Unlock()
	if err := l.Start(bootstrap); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mb.stop(n) })
	return mb
}

func (mb *member) stop(n *network) {
	n.mu.Lock()
	if n.logs[mb.id] == mb.log {
		delete(n.logs, mb.id)
	}
	n.mu.Unlock()
	_ = mb.log.Close()
	_ = mb.eng.Close()
}

func propose(t *testing.T, l *Log, cmd string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Propose(ctx, []byte(cmd)); err != nil {
		t.Fatalf("propose %q: %v", cmd, err)
	}
}

// converged waits until every member applied want.
func converged(t *testing.T, want []string, ms ...*member) {
	t.Helper()
	await.T(t, 10*time.Second, "every member to apply "+strings.Join(want, ","), func() error {
		for _, mb := range ms {
			if got := mb.m.cmds(); !slices.Equal(got, want) {
				return fmt.Errorf("member %d applied %q", mb.id, got)
			}
		}
		return nil
	})
}
