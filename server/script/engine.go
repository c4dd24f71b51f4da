package script

import (
	"container/list"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Engine compiles, caches and runs scripts. It is safe for concurrent
// use: scripts run at the same time on the goroutines that call Eval,
// each in its own sandbox.
type Engine struct {
	cfg Config
	// threshold is BusyThreshold in nanoseconds, changed at run time by
	// SetBusyThreshold.
	threshold atomic.Int64
	// sandboxes holds prepared sandboxes between runs; a sandbox is used by
	// one run at a time.
	sandboxes sync.Pool
	// runs counts the runs in mu.running, so that Busy, which the server
	// asks before every command, costs one atomic load while none runs.
	runs atomic.Int64

	mu struct {
		sync.Mutex
		// scripts is the cache, by lower-case SHA1 of the body.
		scripts map[string]*entry
		// evicts lists the SHA1s cached by EVAL only, oldest first: the
		// ones MaxCached may drop. Kept only when MaxCached > 0.
		evicts *list.List
		// running holds every run between its start and its end.
		running map[*run]struct{}
	}
}

// entry is a cached script and how it came to be cached.
type entry struct {
	*compiled
	evict *list.Element // in mu.evicts while only EVAL cached it
}

// New returns an Engine configured by cfg.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg.withDefaults()}
	e.threshold.Store(int64(cfg.BusyThreshold))
	e.sandboxes.New = func() any { return newSandbox() }
	e.mu.scripts = map[string]*entry{}
	e.mu.evicts = list.New()
	e.mu.running = map[*run]struct{}{}
	return e, nil
}

// SHA1Hex returns the lower-case hex SHA1 of body: the name of a script.
func SHA1Hex(body []byte) string {
	sum := sha1.Sum(body)
	return hex.EncodeToString(sum[:])
}

// Load compiles body and caches it, as SCRIPT LOAD does, and returns its
// SHA1. A script that does not compile gives an error wrapping
// ErrCompile whose RESPError is Redis's reply.
func (e *Engine) Load(body []byte) (sha string, err error) {
	sha = SHA1Hex(body)
	_, err = e.cache(sha, body, true)
	return sha, err
}

// Body returns the body of the cached script sha (case-insensitive), for
// copying the cache to other nodes.
func (e *Engine) Body(sha string) ([]byte, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ent, ok := e.mu.scripts[strings.ToLower(sha)]
	if !ok {
		return nil, false
	}
	return append([]byte(nil), ent.body...), true
}

// Exists reports whether sha (case-insensitive) is cached.
func (e *Engine) Exists(sha string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.mu.scripts[strings.ToLower(sha)]
	return ok
}

// Flush empties the cache (SCRIPT FLUSH). Running scripts finish.
func (e *Engine) Flush() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mu.scripts = map[string]*entry{}
	e.mu.evicts.Init()
}

// Eval runs body as EVAL does, caching it first, and returns the complete
// RESP reply: the script's result, or an error reply. ctx ending stops
// the script as SCRIPT KILL would, with an error reply naming ctx's error.
func (e *Engine) Eval(ctx context.Context, body []byte, r Run) []byte {
	sha := SHA1Hex(body)
	c, err := e.cache(sha, body, false)
	if err != nil {
		return []byte(RESPError(err))
	}
	return e.run(ctx, sha, c, r)
}

// EvalSHA runs the cached script sha (case-insensitive) as EVALSHA does.
// It returns ErrNoScript if it is not cached.
func (e *Engine) EvalSHA(ctx context.Context, sha string, r Run) ([]byte, error) {
	sha = strings.ToLower(sha)
	e.mu.Lock()
	ent, ok := e.mu.scripts[sha]
	e.mu.Unlock()
	if !ok {
		return nil, ErrNoScript
	}
	return e.run(ctx, sha, ent.compiled, r), nil
}

// cache returns the compiled script sha, compiling and caching body if
// needed. byLoad marks it as loaded by SCRIPT LOAD: never evicted.
func (e *Engine) cache(sha string, body []byte, byLoad bool) (*compiled, error) {
	e.mu.Lock()
	ent, ok := e.mu.scripts[sha]
	if ok {
		e.keep(ent, byLoad)
		e.mu.Unlock()
		return ent.compiled, nil
	}
	e.mu.Unlock()
	// Compile without the lock: another goroutine compiling the same body
	// wastes work, never correctness, as both results are the same.
	c, err := compile(append([]byte(nil), body...))
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if ent, ok := e.mu.scripts[sha]; ok {
		e.keep(ent, byLoad)
		return ent.compiled, nil
	}
	ent = &entry{compiled: c}
	if !byLoad && e.cfg.MaxCached > 0 {
		ent.evict = e.mu.evicts.PushBack(sha)
	}
	e.mu.scripts[sha] = ent
	e.evictOverflow()
	return c, nil
}

// keep exempts a script SCRIPT LOAD asked for from eviction. Callers hold
// e.mu.
func (e *Engine) keep(ent *entry, byLoad bool) {
	if byLoad && ent.evict != nil {
		e.mu.evicts.Remove(ent.evict)
		ent.evict = nil
	}
}

// evictOverflow drops the oldest EVAL-only scripts past MaxCached.
// Callers hold e.mu.
func (e *Engine) evictOverflow() {
	for e.cfg.MaxCached > 0 && len(e.mu.scripts) > e.cfg.MaxCached && e.mu.evicts.Len() > 0 {
		sha := e.mu.evicts.Remove(e.mu.evicts.Front()).(string)
		delete(e.mu.scripts, sha)
	}
}

// run runs a compiled script for EVAL or EVALSHA.
func (e *Engine) run(ctx context.Context, sha string, c *compiled, r Run) []byte {
	if r.ReadOnly && c.shebang && !c.noWrites {
		return []byte(errorReply(msgWriteFlagRO))
	}
	client := r.Proto
	if client != 3 {
		client = 2
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rn := &run{
		sha: sha, host: r.Host, client: client, proto: 2,
		readOnly: r.ReadOnly || c.noWrites, logger: e.cfg.Logger,
		ctx: ctx, cancel: cancel, start: time.Now(),
	}
	e.track(rn, true)
	defer e.track(rn, false)
	sb := e.sandboxes.Get().(*sandbox)
	out, reusable := sb.exec(rn, c.proto, r.Keys, r.Args)
	if reusable {
		e.sandboxes.Put(sb)
	}
	return out
}

func (e *Engine) track(r *run, start bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if start {
		e.mu.running[r] = struct{}{}
		e.runs.Add(1)
	} else {
		delete(e.mu.running, r)
		e.runs.Add(-1)
	}
}

// SetBusyThreshold changes BusyThreshold (CONFIG SET busy-reply-threshold);
// 0 means scripts never count as busy.
func (e *Engine) SetBusyThreshold(d time.Duration) {
	e.threshold.Store(int64(max(d, 0)))
}

// Busy reports whether some script has been running longer than
// BusyThreshold: while it is, Redis answers other commands with
// ReplyBusy.
func (e *Engine) Busy() bool {
	return len(e.busy()) > 0
}

// busy returns the runs past the threshold.
func (e *Engine) busy() []*run {
	th := time.Duration(e.threshold.Load())
	if th <= 0 || e.runs.Load() == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*run
	for r := range e.mu.running {
		if time.Since(r.start) > th {
			out = append(out, r)
		}
	}
	return out
}

// Kill is SCRIPT KILL: it stops every busy script (running longer than
// BusyThreshold; scripts that have not run that long are left alone, as
// in Redis, where SCRIPT KILL cannot even be read before then) that has
// not called a write command; each gets Redis's killed-script error. It
// returns ErrNotBusy if no script is busy, and ErrUnkillable if a busy
// script has written: it keeps running.
func (e *Engine) Kill() error {
	busy := e.busy()
	if len(busy) == 0 {
		return ErrNotBusy
	}
	var err error
	for _, r := range busy {
		if !r.kill() {
			err = ErrUnkillable
		}
	}
	return err
}

// BusyThreshold returns the threshold SetBusyThreshold last set (CONFIG
// GET busy-reply-threshold).
func (e *Engine) BusyThreshold() time.Duration { return time.Duration(e.threshold.Load()) }
