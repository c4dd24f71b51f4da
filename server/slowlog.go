package server

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The slow log keeps the latest commands that ran longer than
// slowlog-log-slower-than microseconds (negative: none; 0: every one), at
// most slowlog-max-len of them, as Redis's does. A command run alone is
// timed on its own; a run of GET/MGET or SET/MSET batched into one store
// call is timed as a whole and each of its commands counts its share.

const (
	defaultSlowlogSlowerThan = 10000 // µs, Redis's default
	defaultSlowlogMaxLen     = 128
	slowlogMaxArgs           = 32  // arguments kept per entry, as Redis
	slowlogMaxArgLen         = 128 // bytes kept per argument, as Redis
)

type slowEntry struct {
	id         int64
	at         int64 // Unix seconds
	micros     int64
	args       []string
	addr, name string
}

type slowlog struct {
	slowerThan atomic.Int64 // µs
	maxLen     atomic.Int64
	mu         struct {
		sync.Mutex
		entries []slowEntry // newest last
		nextID  int64
	}
}

func (l *slowlog) init() {
	l.slowerThan.Store(defaultSlowlogSlowerThan)
	l.maxLen.Store(defaultSlowlogMaxLen)
}

// slow reports whether a command that took d belongs in the log.
func (l *slowlog) slow(d time.Duration) bool {
	t := l.slowerThan.Load()
	return t >= 0 && d.Microseconds() >= t
}

// add records one command; the caller checked slow.
func (l *slowlog) add(c *client, args [][]byte, d time.Duration, now time.Time) {
	e := slowEntry{at: now.Unix(), micros: d.Microseconds(), addr: c.addr(), name: c.name()}
	n := min(len(args), slowlogMaxArgs)
	for i, a := range args[:n] {
		switch {
		case i == slowlogMaxArgs-1 && len(args) > slowlogMaxArgs:
			e.args = append(e.args, "... ("+strconv.Itoa(len(args)-slowlogMaxArgs+1)+" more arguments)")
		case len(a) > slowlogMaxArgLen:
			e.args = append(e.args, string(a[:slowlogMaxArgLen])+"... ("+strconv.Itoa(len(a)-slowlogMaxArgLen)+" more bytes)")
		default:
			e.args = append(e.args, string(a))
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e.id = l.mu.nextID
	l.mu.nextID++
	l.mu.entries = append(l.mu.entries, e)
	l.trimLocked()
}

func (l *slowlog) trimLocked() {
	if over := len(l.mu.entries) - int(l.maxLen.Load()); over > 0 {
		l.mu.entries = append(l.mu.entries[:0], l.mu.entries[over:]...)
	}
}

// setMaxLen changes slowlog-max-len, dropping the oldest entries beyond it.
func (l *slowlog) setMaxLen(n int64) {
	l.maxLen.Store(n)
	l.mu.Lock()
	l.trimLocked()
	l.mu.Unlock()
}

// newest returns up to n entries, newest first (n < 0: all).
func (l *slowlog) newest(n int) []slowEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	all := l.mu.entries
	if n < 0 || n > len(all) {
		n = len(all)
	}
	out := make([]slowEntry, 0, n)
	for i := len(all) - 1; i >= len(all)-n; i-- {
		out = append(out, all[i])
	}
	return out
}

func (l *slowlog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.mu.entries)
}

func (l *slowlog) reset() {
	l.mu.Lock()
	l.mu.entries = nil
	l.mu.Unlock()
}

func cmdSlowlogGet(x *call) error {
	n := int64(10)
	if len(x.args) == 3 {
		v, ok := parseInt64(x.args[2])
		if !ok || v < -1 {
			return newReplyError("ERR count should be greater than or equal to -1")
		}
		n = v
	} else if len(x.args) > 3 {
		return wrongArity(x.cmd.name)
	}
	entries := x.s.slow.newest(int(min(n, 1<<30)))
	w := x.conn
	w.WriteArray(len(entries))
	for _, e := range entries {
		w.WriteArray(6)
		w.WriteInt64(e.id)
		w.WriteInt64(e.at)
		w.WriteInt64(e.micros)
		w.WriteArray(len(e.args))
		for _, a := range e.args {
			w.WriteBulkString(a)
		}
		w.WriteBulkString(e.addr)
		w.WriteBulkString(e.name)
	}
	return nil
}

func cmdSlowlogLen(x *call) error {
	x.conn.WriteInt(x.s.slow.len())
	return nil
}

func cmdSlowlogReset(x *call) error {
	x.s.slow.reset()
	x.conn.WriteString("OK")
	return nil
}

func cmdSlowlogHelp(x *call) error {
	return writeHelp(x, "SLOWLOG", []string{
		"GET [<count>]", "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
		"    Entries are made of:",
		"    id, timestamp, time in microseconds, arguments array, client IP and port,",
		"    client name",
		"LEN", "    Return the length of the slowlog.",
		"RESET", "    Reset the slowlog.",
	})
}
