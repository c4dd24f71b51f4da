package server

import (
	"math"
	"strconv"
	"sync/atomic"
	"time"
)

// live holds the settings CONFIG SET changes while the server runs. Each
// is read where it is used, so a change applies at once, to connections
// already open too: a lower proto-max-bulk-len to their next command, a
// timeout to their next read, a password to their next AUTH. As in Redis,
// a connection that was authenticated stays so when a password is set.
type live struct {
	maxClients    atomic.Int64
	requirePass   atomic.Pointer[string]
	protectedMode atomic.Bool
	idleTimeout   atomic.Int64 // nanoseconds; 0 never closes an idle client
	limits        atomic.Pointer[limits]
}

func (l *live) init(cfg Config) {
	l.maxClients.Store(int64(cfg.MaxClients))
	pass := cfg.RequirePass
	l.requirePass.Store(&pass)
	l.protectedMode.Store(cfg.ProtectedMode)
	l.idleTimeout.Store(int64(cfg.IdleTimeout))
	lim := limitsOf(cfg)
	l.limits.Store(&lim)
}

func (l *live) password() string    { return *l.requirePass.Load() }
func (l *live) maxBulk() int64      { return l.limits.Load().maxBulk }
func (l *live) idle() time.Duration { return time.Duration(l.idleTimeout.Load()) }
func (l *live) setLimits(edit func(*limits)) {
	lim := *l.limits.Load()
	edit(&lim)
	l.limits.Store(&lim)
}

// A paramSetter parses a CONFIG SET value (an error names what is wrong,
// in Redis's words) and returns the change to apply once every pair of
// the command parsed.
type paramSetter func(s *Server, v []byte) (apply func(), why string)

// runtimeParams are the parameters CONFIG SET changes while the server
// runs. The others CONFIG GET shows are refused as immutable.
var runtimeParams = map[string]paramSetter{
	"maxclients": intParam(1, math.MaxUint32, func(s *Server, n int64) { s.live.maxClients.Store(n) }),
	"timeout":    intParam(0, math.MaxInt32, func(s *Server, n int64) { s.setIdleTimeout(time.Duration(n) * time.Second) }),
	"requirepass": func(s *Server, v []byte) (func(), string) {
		pass := string(v)
		return func() { s.live.requirePass.Store(&pass) }, ""
	},
	"protected-mode": func(s *Server, v []byte) (func(), string) {
		on, ok := parseYesNo(v)
		if !ok {
			return nil, "argument must be 'yes' or 'no'"
		}
		return func() { s.live.protectedMode.Store(on) }, ""
	},
	"proto-max-bulk-len": memoryParam(func(s *Server, n int64) {
		s.live.setLimits(func(l *limits) { l.maxBulk = n; l.preAuthBulk = min(l.preAuthBulk, n) })
	}),
	"client-query-buffer-limit": memoryParam(func(s *Server, n int64) {
		s.live.setLimits(func(l *limits) { l.queryBuffer = n })
	}),
	"slowlog-log-slower-than":   intParam(-1, math.MaxInt64, func(s *Server, n int64) { s.slow.slowerThan.Store(n) }),
	"slowlog-max-len":           intParam(0, math.MaxInt64, func(s *Server, n int64) { s.slow.setMaxLen(n) }),
	"latency-monitor-threshold": intParam(0, math.MaxInt64, func(s *Server, n int64) { s.latency.threshold.Store(n) }),
	"busy-reply-threshold":      intParam(0, math.MaxInt64/int64(time.Millisecond), setBusyThreshold),
	"lua-time-limit":            intParam(0, math.MaxInt64/int64(time.Millisecond), setBusyThreshold),
}

// setBusyThreshold sets busy-reply-threshold (lua-time-limit), in ms.
func setBusyThreshold(s *Server, ms int64) {
	s.scripts.SetBusyThreshold(time.Duration(ms) * time.Millisecond)
}

// intParam is a runtime parameter that takes an integer in [lo, hi], with
// Redis's errors, and applies it with set.
func intParam(lo, hi int64, set func(*Server, int64)) paramSetter {
	return func(s *Server, v []byte) (func(), string) {
		n, ok := parseInt64(v)
		switch {
		case !ok:
			return nil, "argument couldn't be parsed into an integer"
		case n < lo || n > hi:
			return nil, "argument must be between " + strconv.FormatInt(lo, 10) + " and " + strconv.FormatInt(hi, 10) + " inclusive"
		}
		return func() { set(s, n) }, ""
	}
}

// memoryParam is a runtime parameter that takes a memory value (Redis's
// units: 1k is 1000 bytes, 1kb 1024) of at least 1mb, as Redis's
// proto-max-bulk-len and client-query-buffer-limit do.
func memoryParam(set func(*Server, int64)) paramSetter {
	return func(s *Server, v []byte) (func(), string) {
		n, ok := ParseMemory(v)
		switch {
		case !ok:
			return nil, "argument must be a memory value"
		case n < 1<<20 || n > math.MaxInt64:
			return nil, "argument must be between 1048576 and 9223372036854775807 inclusive"
		}
		return func() { set(s, int64(n)) }, ""
	}
}

// setIdleTimeout changes the idle timeout of every connection.
func (s *Server) setIdleTimeout(idle time.Duration) {
	s.live.idleTimeout.Store(int64(idle))
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.mu.clients {
		c.conn.idleChanged(idle)
	}
}
