package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Hinted handoff under load. RunHandoff starts a local cluster of real
// ringcache processes and drives a steady GET/SET load at every node but
// the last (the victim) for the whole experiment, which has four phases:
//
//	before  the steady load alone, for Phase
//	outage  the victim is SIGKILLed; Hints keys it owns are written in
//	        pipelined batches through the survivors, and the phase ends
//	        once the survivors hold a hint for each of them
//	replay  the victim is restarted on its own data directory; the phase
//	        ends when no node holds a hint for it (RINGCACHE HINTS polled
//	        every Poll)
//	after   the steady load alone again, for Phase
//
// Each phase reports the steady load's GET and SET success rate and
// latency; the replay rate is the hints pending at the restart divided by
// the time from the restart to the last one delivered.

// Errors of RunHandoff and ParseHints.
var (
	// ErrHintsReply reports a RINGCACHE HINTS reply of the wrong shape.
	ErrHintsReply = errors.New("bench: malformed RINGCACHE HINTS reply")
	// ErrHandoff reports an experiment step that did not complete in time.
	ErrHandoff = errors.New("bench: handoff experiment incomplete")
)

// HandoffConfig configures RunHandoff. Start from DefaultHandoffConfig.
type HandoffConfig struct {
	// RingcacheBin is the ringcache binary. Default "./bin/ringcache".
	RingcacheBin string
	// Nodes is the cluster size (at least 4: N=3 plus a fallback).
	// Default 5.
	Nodes int
	// Hints is how many keys owned by the victim are written during the
	// outage. Default 100,000.
	Hints int
	// Phase is the length of the before and after phases. Default 5s.
	Phase time.Duration
	// Conns is the steady load's connection count, spread over the
	// survivors. Default 8.
	Conns int
	// Rate bounds the steady load in commands per second over all
	// connections; 0 runs it closed-loop. Default 2000.
	Rate int
	// Keys is the steady load's key space ("key:%012d"). Default 10,000.
	Keys int
	// ValueSize is the size of every SET value, in bytes. Default 100.
	ValueSize int
	// Batch is how many SETs one hint-writing pipeline carries. Default
	// 1000.
	Batch int
	// Extra flags are passed to every node. Default N=3, W=2, R=2.
	Extra []string
	// HintWait bounds the wait for the survivors to hold every hint after
	// the outage writes. Default 60s.
	HintWait time.Duration
	// ReplayTimeout bounds the replay phase. Default 5m.
	ReplayTimeout time.Duration
	// Poll is the RINGCACHE HINTS polling period. Default 100ms.
	Poll time.Duration
	// Seed makes the steady load reproducible. Default 1.
	Seed uint64
	// Log receives progress lines; nil: none.
	Log io.Writer
}

// DefaultHandoffConfig returns the defaults documented on HandoffConfig.
func DefaultHandoffConfig() HandoffConfig {
	return HandoffConfig{
		RingcacheBin:  "./bin/ringcache",
		Nodes:         5,
		Hints:         100_000,
		Phase:         5 * time.Second,
		Conns:         8,
		Rate:          2000,
		Keys:          10_000,
		ValueSize:     100,
		Batch:         1000,
		Extra:         []string{"--replicas", "3", "--read-quorum", "2", "--write-quorum", "2"},
		HintWait:      time.Minute,
		ReplayTimeout: 5 * time.Minute,
		Poll:          100 * time.Millisecond,
		Seed:          1,
	}
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c HandoffConfig) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: handoff: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.RingcacheBin == "":
		return bad("ringcache binary is empty")
	case c.Nodes < 4:
		return bad("%d nodes, need at least 4", c.Nodes)
	case c.Hints < 1:
		return bad("hints %d < 1", c.Hints)
	case c.Phase <= 0:
		return bad("phase %v must be positive", c.Phase)
	case c.Conns < 1:
		return bad("conns %d < 1", c.Conns)
	case c.Rate < 0:
		return bad("rate %d < 0", c.Rate)
	case c.Keys < 1 || c.ValueSize < 1 || c.Batch < 1:
		return bad("keys %d, value size %d and batch %d must be positive", c.Keys, c.ValueSize, c.Batch)
	case c.HintWait <= 0 || c.ReplayTimeout <= 0 || c.Poll <= 0:
		return bad("hint wait %v, replay timeout %v and poll %v must be positive", c.HintWait, c.ReplayTimeout, c.Poll)
	}
	return nil
}

// Phase names, in order.
const (
	PhaseBefore = "before"
	PhaseOutage = "outage"
	PhaseReplay = "replay"
	PhaseAfter  = "after"
)

var phaseNames = []string{PhaseBefore, PhaseOutage, PhaseReplay, PhaseAfter}

// HandoffResult is what RunHandoff measured. Latencies are in ms.
type HandoffResult struct {
	Nodes  int      `json:"nodes"`
	Extra  []string `json:"flags"`
	Victim string   `json:"victim"`
	Conns  int      `json:"conns"`
	Rate   int      `json:"rate"`
	Keys   int      `json:"keys"`
	// Phases holds the steady load's figures per phase, in order.
	Phases []PhaseResult `json:"phases"`
	// HintKeys were written during the outage, HintErrors of them failed,
	// in HintWriteSec.
	HintKeys     int     `json:"hint_keys"`
	HintErrors   int64   `json:"hint_errors"`
	HintWriteSec float64 `json:"hint_write_s"`
	// Pending is the survivors' hints for the victim at its restart, held
	// by Holders nodes.
	Pending int64 `json:"pending_before_restart"`
	Holders int   `json:"holders"`
	// HintsMissing is how many more successful outage writes there were
	// than hints at the restart: writes acknowledged without a hint for
	// the victim. Exact, as the steady load writes no key of the victim.
	HintsMissing int64 `json:"hints_missing"`
	// ReadySec is the time from the restart to the victim's first PONG,
	// DrainSec to the moment no node held a hint for it.
	ReadySec float64 `json:"restart_to_ready_s"`
	DrainSec float64 `json:"restart_to_drained_s"`
	// ReplayRate is Pending / DrainSec, in keys per second.
	ReplayRate float64 `json:"replay_keys_per_s"`
	// Delivered and Dropped sum RINGCACHE HINTS over the survivors at the
	// end of the replay.
	Delivered int64 `json:"delivered"`
	Dropped   int64 `json:"dropped"`
	// MissingOnVictim counts the outage keys the victim does not hold
	// (RINGCACHE LOCALGET) after the after phase: acknowledged writes
	// that hinted handoff did not bring back.
	MissingOnVictim int64 `json:"missing_on_victim"`
	// Incomplete names the step that timed out, if any.
	Incomplete string `json:"incomplete,omitempty"`
}

// PhaseResult is the steady load during one phase.
type PhaseResult struct {
	Name    string      `json:"name"`
	Seconds float64     `json:"seconds"`
	Get     PhaseOpStat `json:"get"`
	Set     PhaseOpStat `json:"set"`
}

// PhaseOpStat is one command type during one phase. A GET that finds
// nothing succeeds.
type PhaseOpStat struct {
	Ops        int64   `json:"ops"`
	Errors     int64   `json:"errors"`
	SuccessPct float64 `json:"success_pct"`
	P50        float64 `json:"p50_ms"`
	P99        float64 `json:"p99_ms"`
	Max        float64 `json:"max_ms"`
	FirstError string  `json:"first_error,omitempty"`
	// Missing counts GETs that found nothing (successes all the same).
	Missing int64 `json:"missing"`
}

// HintRow is one row of a RINGCACHE HINTS reply.
type HintRow struct {
	Target                                          string
	Pending, Bytes, OldestAgeMs, Delivered, Dropped int64
}

// ParseHints reads a RINGCACHE HINTS reply as go-redis returns it: an
// array of [target, pending, bytes, oldest-age-ms, delivered, dropped].
func ParseHints(reply any) ([]HintRow, error) {
	rows, ok := reply.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: %T, want an array", ErrHintsReply, reply)
	}
	out := make([]HintRow, 0, len(rows))
	for _, r := range rows {
		f, ok := r.([]any)
		if !ok || len(f) != 6 {
			return nil, fmt.Errorf("%w: row %v, want 6 fields", ErrHintsReply, r)
		}
		var h HintRow
		switch t := f[0].(type) {
		case string:
			h.Target = t
		case []byte:
			h.Target = string(t)
		default:
			return nil, fmt.Errorf("%w: target %v is not a string", ErrHintsReply, f[0])
		}
		for i, dst := range []*int64{&h.Pending, &h.Bytes, &h.OldestAgeMs, &h.Delivered, &h.Dropped} {
			n, ok := f[i+1].(int64)
			if !ok || n < 0 {
				return nil, fmt.Errorf("%w: field %d of row %v is not a count", ErrHintsReply, i+1, r)
			}
			*dst = n
		}
		out = append(out, h)
	}
	return out, nil
}

// hintTotals sums the rows for target: pending, delivered, dropped.
func hintTotals(rows []HintRow, target string) (pending, delivered, dropped int64) {
	for _, r := range rows {
		if r.Target == target {
			pending, delivered, dropped = pending+r.Pending, delivered+r.Delivered, dropped+r.Dropped
		}
	}
	return
}

// WriteText prints the result as a small table.
func (r HandoffResult) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("hinted handoff: %d nodes %v, victim %s SIGKILLed and restarted\n", r.Nodes, r.Extra, r.Victim)
	load := "closed loop"
	if r.Rate > 0 {
		load = fmt.Sprintf("%d ops/s", r.Rate)
	}
	ew.printf("steady load: %d conns over the survivors, 50%% GET / 50%% SET, %s, %d keys (SETs skip the victim's)\n\n",
		r.Conns, load, r.Keys)
	ew.printf("%-7s %7s %9s %8s %10s %9s %8s %10s\n",
		"phase", "secs", "GET ops", "GET ok%", "GET p99ms", "SET ops", "SET ok%", "SET p99ms")
	for _, p := range r.Phases {
		ew.printf("%-7s %7.2f %9d %8.3f %10.3f %9d %8.3f %10.3f\n", p.Name, p.Seconds,
			p.Get.Ops, p.Get.SuccessPct, p.Get.P99, p.Set.Ops, p.Set.SuccessPct, p.Set.P99)
	}
	for _, p := range r.Phases {
		for _, o := range []struct {
			name string
			s    PhaseOpStat
		}{{"GET", p.Get}, {"SET", p.Set}} {
			if o.s.FirstError != "" {
				ew.printf("%s %s: %d errors, first: %s\n", p.Name, o.name, o.s.Errors, o.s.FirstError)
			}
		}
	}
	ew.printf("\nhints: %d keys owned by %s written in %.2fs (%d failed); %d hints pending on %d nodes at the restart\n",
		r.HintKeys, r.Victim, r.HintWriteSec, r.HintErrors, r.Pending, r.Holders)
	if r.HintsMissing > 0 {
		ew.printf("WARNING: at least %d acknowledged outage writes left no hint for %s\n", r.HintsMissing, r.Victim)
	}
	ew.printf("replay: %s answered %.2fs after its restart; no hint pending %.2fs after it: %.0f keys/s (%d delivered, %d dropped)\n",
		r.Victim, r.ReadySec, r.DrainSec, r.ReplayRate, r.Delivered, r.Dropped)
	ew.printf("after: %d of the %d outage keys missing on %s\n", r.MissingOnVictim, r.HintKeys, r.Victim)
	if r.Incomplete != "" {
		ew.printf("INCOMPLETE: %s\n", r.Incomplete)
	}
	return ew.err
}

// RunHandoff runs the experiment described at the top of this file. Every
// process it starts is stopped before it returns, on error and on
// cancellation too. A step that times out ends the experiment with the
// figures so far and an error wrapping ErrHandoff.
func RunHandoff(ctx context.Context, cfg HandoffConfig) (res HandoffResult, err error) {
	if err := cfg.Validate(); err != nil {
		return res, err
	}
	tgt, err := NewRingcacheClusterTarget("handoff", cfg.RingcacheBin, cfg.Nodes, cfg.Extra...)
	if err != nil {
		return res, err
	}
	x := &handoffRun{cfg: cfg, ct: tgt.(*clusterTarget), res: &res}
	defer func() {
		logf(cfg.Log, "stopping the cluster\n")
		err = errors.Join(err, x.ct.Stop(context.WithoutCancel(ctx)))
	}()
	x.victim = len(x.ct.nodes) - 1
	res = HandoffResult{Nodes: cfg.Nodes, Extra: cfg.Extra, Victim: fmt.Sprintf("n%d", x.victim+1),
		Conns: cfg.Conns, Rate: cfg.Rate, Keys: cfg.Keys}
	if err := x.start(ctx); err != nil {
		return res, err
	}
	defer x.polls.close()

	load := startSteadyLoad(cfg.steady(), x.addrs[:x.victim], x.setKeys)
	defer func() {
		if res.Phases == nil {
			res.Phases = load.stop()
		}
	}()
	steps := []func(context.Context) error{x.before, x.outage, x.replay, x.after}
	for i, step := range steps {
		if i > 0 {
			load.next()
		}
		if err := step(ctx); err != nil {
			return res, err
		}
	}
	res.Phases = load.stop()
	logf(cfg.Log, "checking the %d outage keys on %s\n", len(x.keys), res.Victim)
	res.MissingOnVictim, err = missingOn(ctx, x.addrs[x.victim], x.keys, x.value)
	return res, err
}

// handoffRun is one RunHandoff in progress.
type handoffRun struct {
	cfg    HandoffConfig
	ct     *clusterTarget
	res    *HandoffResult
	victim int      // index of the node killed and restarted
	addrs  []string // client address of every node
	polls  *hintPoller
	// keys are the victim's keys written during the outage, with value;
	// setKeys the steady key indexes the victim does not own.
	keys    []string
	value   []byte
	setKeys []int64
}

// start starts the nodes, waits for the membership, and chooses the keys.
func (x *handoffRun) start(ctx context.Context) error {
	logf(x.cfg.Log, "starting %d nodes\n", x.cfg.Nodes)
	x.addrs = make([]string, len(x.ct.nodes))
	for i, n := range x.ct.nodes {
		var err error
		if x.addrs[i], _, err = n.Start(ctx); err != nil {
			return err
		}
	}
	if err := waitMembers(ctx, x.addrs[0], len(x.addrs)); err != nil {
		return fmt.Errorf("%w: %v", ErrTargetStart, err)
	}
	logf(x.cfg.Log, "choosing %d keys owned by %s\n", x.cfg.Hints, x.res.Victim)
	admin := redis.NewClient(&redis.Options{Addr: x.addrs[0], MaxRetries: -1, ReadTimeout: 30 * time.Second, PoolSize: 1})
	defer admin.Close()
	var err error
	if x.keys, err = keysOwnedBy(ctx, admin, x.res.Victim, x.cfg.Hints); err != nil {
		return err
	}
	if x.setKeys, err = steadySetKeys(ctx, admin, x.res.Victim, x.cfg.Keys); err != nil {
		return err
	}
	x.res.HintKeys = len(x.keys)
	x.value = bytes.Repeat([]byte{'h'}, x.cfg.ValueSize)
	x.polls = newHintPoller(x.addrs)
	return nil
}

// pause waits d unless ctx ends first.
func pause(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func (x *handoffRun) before(ctx context.Context) error {
	logf(x.cfg.Log, "phase %s: %v\n", PhaseBefore, x.cfg.Phase)
	return pause(ctx, x.cfg.Phase)
}

func (x *handoffRun) after(ctx context.Context) error {
	logf(x.cfg.Log, "phase %s: %v\n", PhaseAfter, x.cfg.Phase)
	return pause(ctx, x.cfg.Phase)
}

// outage SIGKILLs the victim, writes its keys through the survivors and
// waits for their hints.
func (x *handoffRun) outage(ctx context.Context) error {
	res := x.res
	logf(x.cfg.Log, "phase %s: SIGKILL %s, write %d of its keys\n", PhaseOutage, res.Victim, len(x.keys))
	x.ct.nodes[x.victim].kill()
	start := time.Now()
	res.HintErrors = writeKeys(ctx, x.addrs[:x.victim], x.keys, x.cfg.Batch, x.value)
	res.HintWriteSec = time.Since(start).Seconds()
	// Hints for owners that failed after the reply are stored in the
	// background: wait until there is one per write, or until the count
	// stops growing (some writes may have none; the result shows it).
	want := int64(len(x.keys)) - res.HintErrors
	var held, last int64
	lastChange := time.Now()
	if err := x.polls.until(ctx, x.cfg.HintWait, x.cfg.Poll, func(rows []HintRow) bool {
		held, _, _ = hintTotals(rows, res.Victim)
		if held != last {
			last, lastChange = held, time.Now()
		}
		return held >= want || (held > 0 && time.Since(lastChange) >= hintSettle)
	}); err != nil {
		res.Pending = held
		res.Incomplete = fmt.Sprintf("%d hints held for %d keys written, %v after the writes", held, want, x.cfg.HintWait)
		return fmt.Errorf("%w: %s: %v", ErrHandoff, res.Incomplete, err)
	}
	rows, _ := x.polls.poll(ctx)
	res.Pending, _, _ = hintTotals(rows, res.Victim)
	res.HintsMissing = max(want-res.Pending, 0)
	for _, r := range rows {
		if r.Target == res.Victim && r.Pending > 0 {
			res.Holders++
		}
	}
	return nil
}

// replay restarts the victim and waits until no node holds a hint for it.
func (x *handoffRun) replay(ctx context.Context) error {
	res := x.res
	logf(x.cfg.Log, "phase %s: restart %s with %d hints pending\n", PhaseReplay, res.Victim, res.Pending)
	start := time.Now()
	if err := x.ct.nodes[x.victim].restart(ctx, x.addrs[x.victim]); err != nil {
		return err
	}
	res.ReadySec = time.Since(start).Seconds()
	err := x.polls.until(ctx, x.cfg.ReplayTimeout, x.cfg.Poll, func(rows []HintRow) bool {
		p, d, dr := hintTotals(rows, res.Victim)
		res.Delivered, res.Dropped = d, dr
		return p == 0
	})
	res.DrainSec = time.Since(start).Seconds()
	if err != nil {
		res.Incomplete = fmt.Sprintf("hints still pending %v after the restart", x.cfg.ReplayTimeout)
		return fmt.Errorf("%w: %s: %v", ErrHandoff, res.Incomplete, err)
	}
	res.ReplayRate = float64(res.Pending) / max(res.DrainSec, 1e-9)
	return nil
}

// hintSettle is how long the hint count must stay unchanged before the
// outage phase ends with fewer hints than writes.
const hintSettle = 3 * time.Second

// ownedChunk is how many RINGCACHE OWNERS one pipeline carries.
const ownedChunk = 2000

// keysOwnedBy returns n key names whose preference list (RINGCACHE
// OWNERS through c) includes id.
func keysOwnedBy(ctx context.Context, c *redis.Client, id string, n int) ([]string, error) {
	out := make([]string, 0, n)
	for next := 0; len(out) < n; next += ownedChunk {
		if next > 100*n {
			return nil, fmt.Errorf("%w: only %d of %d keys owned by %s among %d", ErrHandoff, len(out), n, id, next)
		}
		names := make([]string, ownedChunk)
		for j := range names {
			names[j] = fmt.Sprintf("hk:%010d", next+j)
		}
		owned, err := ownedBy(ctx, c, id, names)
		if err != nil {
			return nil, err
		}
		for j, yes := range owned {
			if yes && len(out) < n {
				out = append(out, names[j])
			}
		}
	}
	return out, nil
}

// ownedBy reports for each name whether id is among its owners.
func ownedBy(ctx context.Context, c *redis.Client, id string, names []string) ([]bool, error) {
	out := make([]bool, len(names))
	for start := 0; start < len(names); start += ownedChunk {
		batch := names[start:min(start+ownedChunk, len(names))]
		pipe := c.Pipeline()
		cmds := make([]*redis.Cmd, len(batch))
		for j, k := range batch {
			cmds[j] = pipe.Do(ctx, "RINGCACHE", "OWNERS", k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("bench: RINGCACHE OWNERS: %w", err)
		}
		for j, cmd := range cmds {
			owners, err := cmd.StringSlice()
			if err != nil {
				return nil, fmt.Errorf("bench: RINGCACHE OWNERS %s: %w", batch[j], err)
			}
			for _, o := range owners {
				out[start+j] = out[start+j] || o == id
			}
		}
	}
	return out, nil
}

// steadySetKeys returns the indexes of the steady key space the victim
// does not own: the steady load writes only those, so every hint for
// the victim comes from an outage write and the count is exact.
func steadySetKeys(ctx context.Context, c *redis.Client, id string, keys int) ([]int64, error) {
	names := make([]string, keys)
	var kb []byte
	for i := range names {
		kb = appendKey(kb[:0], int64(i))
		names[i] = string(kb)
	}
	owned, err := ownedBy(ctx, c, id, names)
	if err != nil {
		return nil, err
	}
	var out []int64
	for i, yes := range owned {
		if !yes {
			out = append(out, int64(i))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s owns all %d steady keys", ErrHandoff, id, keys)
	}
	return out, nil
}

// missingOn counts the keys that the node at addr does not itself hold
// with value (RINGCACHE LOCALGET).
func missingOn(ctx context.Context, addr string, keys []string, value []byte) (int64, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ReadTimeout: 30 * time.Second, PoolSize: 1})
	defer c.Close()
	var missing int64
	for start := 0; start < len(keys); start += ownedChunk {
		batch := keys[start:min(start+ownedChunk, len(keys))]
		pipe := c.Pipeline()
		cmds := make([]*redis.Cmd, len(batch))
		for j, k := range batch {
			cmds[j] = pipe.Do(ctx, "RINGCACHE", "LOCALGET", k)
		}
		_, _ = pipe.Exec(ctx) // redis.Nil per missing key; checked below
		for j, cmd := range cmds {
			res, err := cmd.Slice()
			switch {
			case errors.Is(err, redis.Nil):
				missing++
			case err != nil:
				return 0, fmt.Errorf("bench: RINGCACHE LOCALGET %s: %w", batch[j], err)
			case len(res) != 4 || res[0] != string(value) || res[3] != int64(0):
				missing++
			}
		}
	}
	return missing, nil
}

// writeKeys SETs every key through the nodes at addrs, one connection
// per node, in pipelines of batch commands, and returns how many failed.
func writeKeys(ctx context.Context, addrs []string, keys []string, batch int, value []byte) int64 {
	var failed atomic.Int64
	var wg sync.WaitGroup
	per := (len(keys) + len(addrs) - 1) / len(addrs)
	for i, addr := range addrs {
		part := keys[min(i*per, len(keys)):min((i+1)*per, len(keys))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ReadTimeout: 30 * time.Second, PoolSize: 1})
			defer c.Close()
			for start := 0; start < len(part); start += batch {
				pipe := c.Pipeline()
				for _, k := range part[start:min(start+batch, len(part))] {
					pipe.Set(ctx, k, value, 0)
				}
				cmds, _ := pipe.Exec(ctx)
				for _, cmd := range cmds {
					if cmd.Err() != nil {
						failed.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	return failed.Load()
}

// hintPoller reads RINGCACHE HINTS from every node.
type hintPoller struct {
	clients []*redis.Client
}

func newHintPoller(addrs []string) *hintPoller {
	p := &hintPoller{}
	for _, a := range addrs {
		p.clients = append(p.clients, redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1,
			DialTimeout: time.Second, ReadTimeout: 2 * time.Second, PoolSize: 1}))
	}
	return p
}

func (p *hintPoller) close() {
	for _, c := range p.clients {
		c.Close()
	}
}

// poll returns the rows of every node that answers; a node that is down
// holds nothing anyone can count on, and its hints are on its disk, so
// its absence is not an error.
func (p *hintPoller) poll(ctx context.Context) ([]HintRow, int) {
	var rows []HintRow
	answered := 0
	for _, c := range p.clients {
		reply, err := c.Do(ctx, "RINGCACHE", "HINTS").Result()
		if err != nil {
			continue
		}
		r, err := ParseHints(reply)
		if err != nil {
			continue
		}
		answered++
		rows = append(rows, r...)
	}
	return rows, answered
}

// until polls every period until done returns true for the rows of the
// nodes that answered, or limit passes.
func (p *hintPoller) until(ctx context.Context, limit, period time.Duration, done func([]HintRow) bool) error {
	deadline := time.Now().Add(limit)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if rows, n := p.poll(ctx); n > 0 && done(rows) {
			return nil
		}
		if time.Now().After(deadline) {
			return context.DeadlineExceeded
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Steady load. Each connection's goroutine records into its own
// histograms, one set per phase, chosen when a command is sent; stop
// waits for the goroutines before reading them.

// steadyLoad is the background GET/SET load. It owns its goroutines:
// stop ends them.
type steadyLoad struct {
	names   []string
	phase   atomic.Int32
	starts  []time.Time // phase start times; written by the caller only
	workers []*steadyWorker
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// steadyWorker is one connection. stats is written by its goroutine only.
type steadyWorker struct {
	client *redis.Client
	rng    *rand.Rand
	stats  [][2]opCounts // [phase][get, set]
}

type opCounts struct {
	hist       *hdrhistogram.Histogram
	ops, errs  int64
	misses     int64 // GETs that found nothing
	firstError string
}

// steadyConfig is what a steady load is made of.
type steadyConfig struct {
	Conns, Rate, Keys, ValueSize int
	Seed                         uint64
	// Phases names the phases the load is measured in, in order.
	Phases []string
}

func (c HandoffConfig) steady() steadyConfig {
	return steadyConfig{Conns: c.Conns, Rate: c.Rate, Keys: c.Keys, ValueSize: c.ValueSize, Seed: c.Seed, Phases: phaseNames}
}

// startSteadyLoad starts cfg.Conns connections spread over addrs, each
// sending one command at a time: half GETs of any key, half SETs of one
// of setKeys (nil: any key).
func startSteadyLoad(cfg steadyConfig, addrs []string, setKeys []int64) *steadyLoad {
	ctx, cancel := context.WithCancel(context.Background())
	l := &steadyLoad{cancel: cancel, starts: []time.Time{time.Now()}, names: cfg.Phases}
	var lim *rate.Limiter
	if cfg.Rate > 0 {
		lim = rate.NewLimiter(rate.Limit(cfg.Rate), cfg.Conns)
	}
	value := make([]byte, cfg.ValueSize)
	for i := range value {
		value[i] = 's'
	}
	for i := range cfg.Conns {
		w := &steadyWorker{
			client: redis.NewClient(&redis.Options{Addr: addrs[i%len(addrs)], MaxRetries: -1, PoolSize: 1,
				Protocol: 2, DisableIdentity: true, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}),
			rng:   rand.New(rand.NewPCG(cfg.Seed, uint64(i)+1)),
			stats: make([][2]opCounts, len(cfg.Phases)),
		}
		for p := range w.stats {
			w.stats[p] = [2]opCounts{{hist: newHist()}, {hist: newHist()}}
		}
		l.workers = append(l.workers, w)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer w.client.Close()
			w.loop(ctx, &l.phase, lim, cfg.Keys, setKeys, value)
		}()
	}
	return l
}

// next moves the load to the next phase.
func (l *steadyLoad) next() {
	l.starts = append(l.starts, time.Now())
	l.phase.Add(1)
}

// stop ends the load and summarizes every phase that started.
func (l *steadyLoad) stop() []PhaseResult {
	end := time.Now()
	l.cancel()
	l.wg.Wait()
	var out []PhaseResult
	for p, start := range l.starts {
		until := end
		if p+1 < len(l.starts) {
			until = l.starts[p+1]
		}
		pr := PhaseResult{Name: l.names[p], Seconds: until.Sub(start).Seconds()}
		pr.Get, pr.Set = l.summarize(p, 0), l.summarize(p, 1)
		out = append(out, pr)
	}
	return out
}

func (l *steadyLoad) summarize(phase, op int) PhaseOpStat {
	h := newHist()
	var s PhaseOpStat
	for _, w := range l.workers {
		c := w.stats[phase][op]
		h.Merge(c.hist)
		s.Ops += c.ops
		s.Errors += c.errs
		s.Missing += c.misses
		if s.FirstError == "" {
			s.FirstError = c.firstError
		}
	}
	if s.Ops > 0 {
		s.SuccessPct = 100 * float64(s.Ops-s.Errors) / float64(s.Ops)
	}
	lat := latencyOf(h)
	s.P50, s.P99, s.Max = lat.P50, lat.P99, lat.Max
	return s
}

// loop sends one command at a time until ctx ends: a GET of any of the
// keys, or a SET of one of setKeys.
func (w *steadyWorker) loop(ctx context.Context, phase *atomic.Int32, lim *rate.Limiter, keys int, setKeys []int64, value []byte) {
	var kb []byte
	for {
		if lim != nil && lim.Wait(ctx) != nil {
			return
		}
		if ctx.Err() != nil {
			return
		}
		p := min(int(phase.Load()), len(w.stats)-1)
		op := w.rng.IntN(2)
		switch {
		case op == 0 || setKeys == nil:
			kb = appendKey(kb[:0], w.rng.Int64N(int64(keys)))
		default:
			kb = appendKey(kb[:0], setKeys[w.rng.IntN(len(setKeys))])
		}
		start := time.Now()
		var err error
		if op == 0 {
			err = w.client.Get(ctx, string(kb)).Err()
		} else {
			err = w.client.Set(ctx, string(kb), value, 0).Err()
		}
		if ctx.Err() != nil {
			return // cut short by stop: neither a sample nor an error
		}
		c := &w.stats[p][op]
		_ = c.hist.RecordValue(max(time.Since(start).Microseconds(), histMinUs))
		c.ops++
		if errors.Is(err, redis.Nil) {
			c.misses++
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			c.errs++
			if c.firstError == "" {
				c.firstError = err.Error()
			}
		}
	}
}

// kill SIGKILLs the process and keeps its directory for restart.
func (t *procTarget) kill() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.proc == nil {
		return
	}
	t.mu.proc.Kill()
	t.mu.proc = nil
}

// restart starts the killed process again on addr with its data
// directory, and waits until it answers PING.
func (t *procTarget) restart(ctx context.Context, addr string) error {
	t.mu.Lock()
	dir, running := t.mu.dir, t.mu.proc != nil
	t.mu.Unlock()
	if running || dir == "" {
		return fmt.Errorf("%w: %s: restart of a running or removed process", ErrTargetStart, t.name)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	return t.run(ctx, hostPort{host, port}, dir)
}
