package server

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"
)

// Client control: CLIENT REPLY, NO-EVICT, KILL, PAUSE and UNPAUSE.

// muted is a redcon.Conn that writes nothing: a connection's replies go to
// it while CLIENT REPLY OFF or SKIP silences them.
type muted struct{ redcon.Conn }

func (muted) WriteError(string)      {}
func (muted) WriteString(string)     {}
func (muted) WriteBulk([]byte)       {}
func (muted) WriteBulkString(string) {}
func (muted) WriteInt(int)           {}
func (muted) WriteInt64(int64)       {}
func (muted) WriteUint64(uint64)     {}
func (muted) WriteArray(int)         {}
func (muted) WriteNull()             {}
func (muted) WriteRaw([]byte)        {}
func (muted) WriteAny(any)           {}

// mute sends the replies to nowhere until unmute.
func (w *reply) mute() {
	if _, ok := w.Conn.(muted); !ok {
		w.Conn = muted{w.Conn}
	}
}

func (w *reply) unmute() {
	if m, ok := w.Conn.(muted); ok {
		w.Conn = m.Conn
	}
}

// silent reports whether the client's next reply is not to be sent
// (CLIENT REPLY OFF, or the command after CLIENT REPLY SKIP).
func (c *client) silent() bool { return c.replyOff || c.skipNext }

func cmdClientReply(x *call) error {
	switch a := x.args[2]; {
	case equalFold(a, "on"):
		x.c.replyOff, x.c.skipNext = false, false
		x.conn.unmute()
		x.conn.WriteString("OK")
	case equalFold(a, "off"):
		x.c.replyOff = true
	case equalFold(a, "skip"):
		if !x.c.replyOff {
			x.c.skipNext = true
		}
	default:
		return errSyntax
	}
	return nil
}

func cmdClientNoEvict(x *call) error {
	switch a := x.args[2]; {
	case equalFold(a, "on"):
		x.c.noEvict = true
	case equalFold(a, "off"):
		x.c.noEvict = false
	default:
		return errSyntax
	}
	x.conn.WriteString("OK")
	return nil
}

// killFilter is CLIENT KILL's filters; a zero field matches every client.
type killFilter struct {
	id          int64
	addr, laddr string
	skipMe      bool
	noneOfType  bool // TYPE master, replica or pubsub: no such clients here
}

func (f killFilter) matches(c, me *client) bool {
	switch {
	case f.noneOfType, f.skipMe && c == me:
		return false
	case f.id != 0 && c.id != f.id:
		return false
	case f.addr != "" && c.conn.RemoteAddr().String() != f.addr:
		return false
	case f.laddr != "" && c.conn.LocalAddr().String() != f.laddr:
		return false
	}
	return true
}

func parseKillFilter(args [][]byte) (killFilter, error) {
	f := killFilter{skipMe: true}
	if len(args)%2 != 0 {
		return f, errSyntax
	}
	for j := 0; j < len(args); j += 2 {
		opt, v := args[j], args[j+1]
		switch {
		case equalFold(opt, "id"):
			id, ok := parseInt64(v)
			if !ok || id <= 0 {
				return f, newReplyError("ERR client-id should be greater than 0")
			}
			f.id = id
		case equalFold(opt, "type"):
			switch strings.ToLower(string(v)) {
			case "normal":
			case "master", "replica", "slave", "pubsub":
				f.noneOfType = true
			default:
				return f, newReplyError("ERR Unknown client type '" + clip(v, 128) + "'")
			}
		case equalFold(opt, "user"):
			if string(v) != "default" {
				return f, newReplyError("ERR No such user '" + clip(v, 128) + "'")
			}
		case equalFold(opt, "addr"):
			f.addr = string(v)
		case equalFold(opt, "laddr"):
			f.laddr = string(v)
		case equalFold(opt, "skipme"):
			switch {
			case equalFold(v, "yes"):
				f.skipMe = true
			case equalFold(v, "no"):
				f.skipMe = false
			default:
				return f, errSyntax
			}
		default:
			return f, errSyntax
		}
	}
	return f, nil
}

// cmdClientKill answers CLIENT KILL addr (the old form: OK or an error)
// and CLIENT KILL filter value ... (the number of clients closed). A
// client that kills itself gets its reply first.
func cmdClientKill(x *call) error {
	old := len(x.args) == 3
	var f killFilter
	if old {
		f = killFilter{addr: string(x.args[2])}
	} else {
		var err error
		if f, err = parseKillFilter(x.args[2:]); err != nil {
			return err
		}
	}
	killed := 0
	self := false
	for _, c := range x.s.clients() {
		if !f.matches(c, x.c) {
			continue
		}
		killed++
		if c == x.c {
			self = true
			continue
		}
		c.conn.Close()
	}
	switch {
	case old && killed == 0:
		return newReplyError("ERR No such client")
	case old:
		x.conn.WriteString("OK")
	default:
		x.conn.WriteInt(killed)
	}
	if self {
		x.c.closed = true
		x.conn.Close()
	}
	return nil
}

// pause is CLIENT PAUSE's state: until when commands wait, and whether
// all of them or only writes. untilNs lets every command check it with one
// atomic load; wake is closed whenever the pause changes.
type pause struct {
	untilNs atomic.Int64 // Unix nanoseconds; 0 or past: no pause
	mu      sync.Mutex
	all     bool
	wake    chan struct{}
}

// set pauses until the given time, or longer if a pause in effect ends
// later; a pause of all commands stays one until it ends.
func (p *pause) set(until time.Time, all bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now().UnixNano()
	cur := p.untilNs.Load()
	if cur <= now {
		p.all = false
	}
	p.all = p.all || all
	p.untilNs.Store(max(cur, until.UnixNano()))
	p.signalLocked()
}

func (p *pause) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.untilNs.Store(0)
	p.all = false
	p.signalLocked()
}

func (p *pause) signalLocked() {
	if p.wake != nil {
		close(p.wake)
	}
	p.wake = make(chan struct{})
}

// wait blocks a command while a pause covers it (every command, or writes
// when write is set), until the pause ends, is lifted, or done closes.
func (p *pause) wait(write bool, done <-chan struct{}) {
	for {
		now := time.Now().UnixNano()
		until := p.untilNs.Load()
		if until <= now {
			return
		}
		p.mu.Lock()
		covered, wake := p.all || write, p.wake
		p.mu.Unlock()
		if !covered {
			return
		}
		t := time.NewTimer(time.Duration(until - now))
		select {
		case <-t.C:
		case <-wake:
		case <-done:
			t.Stop()
			return
		}
		t.Stop()
	}
}

// paused reports whether a pause may be in effect: the one check on the
// command path.
func (p *pause) paused(now time.Time) bool { return p.untilNs.Load() > now.UnixNano() }

func cmdClientPause(x *call) error {
	ms, ok := parseInt64(x.args[2])
	if !ok {
		return newReplyError("ERR timeout is not an integer or out of range")
	}
	if ms < 0 {
		return newReplyError("ERR timeout is negative")
	}
	all := true
	if len(x.args) == 4 {
		switch {
		case equalFold(x.args[3], "write"):
			all = false
		case equalFold(x.args[3], "all"):
		default:
			return newReplyError("ERR CLIENT PAUSE mode must be WRITE or ALL")
		}
	} else if len(x.args) > 4 {
		return errSyntax
	}
	x.s.paused.set(time.Now().Add(time.Duration(ms)*time.Millisecond), all)
	x.conn.WriteString("OK")
	return nil
}

func cmdClientUnpause(x *call) error {
	x.s.paused.clear()
	x.conn.WriteString("OK")
	return nil
}
