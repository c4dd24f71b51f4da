package antientropy

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/ringcache/ringcache/cluster/ring"
	"github.com/ringcache/ringcache/engine"
)

// ReplicaRange is a ring range and its replicas' node ids, as the ring
// lists them.
type ReplicaRange = ring.ReplicaRange

// Ring is the cluster as the repairer sees it.
type Ring interface {
	// Self is this node's id.
	Self() string
	// ReplicaRanges returns every range of the current ring with its
	// replicas.
	ReplicaRanges() []ReplicaRange
	// RangeOf returns the current ring's range holding token t and its
	// replicas.
	RangeOf(t uint64) ReplicaRange
	// Peer returns the replica to exchange with, false if it is not
	// reachable now.
	Peer(id string) (Peer, bool)
}

// Errors of the repairer.
var (
	// ErrClosed is returned by Round after Close.
	ErrClosed = errors.New("antientropy: closed")
	// ErrInvalidConfig wraps every Config.Validate failure.
	ErrInvalidConfig = errors.New("antientropy: invalid config")
)

// Config configures a Repairer. Start from DefaultConfig.
type Config struct {
	// Store is the local engine. Required.
	Store Store
	// Meta persists the sync proofs. Required.
	Meta MetaStore
	// Ring lists the ranges and reaches the peers. Required.
	Ring Ring
	// Dirty holds the buckets hinted handoff marked; their ranges go
	// first. Optional.
	Dirty *Dirty
	// Interval is the period of the background rounds; 0 turns the loop
	// off (Round still works). Default 1m.
	Interval time.Duration
	// Rate bounds the bytes an exchange sends and receives per second.
	// Default 8 MiB/s.
	Rate int64
	// Timeout bounds one exchange with one peer. Default 2m.
	Timeout time.Duration
	// ProofMargin is how much later than a tombstone's version (or its
	// arrival here, whichever is later) an exchange must have started to
	// prove that the replica has the tombstone: clocks differ between
	// nodes. Default 5s.
	ProofMargin time.Duration
	// MinReplicas is how many replicas a range must have for a tombstone
	// in it to be purged: a node alone in its ring (starting while it
	// cannot reach its seeds) must not take that for proof. Default 1;
	// a cluster node sets min(N, 2).
	MinReplicas int
	// Limits bound the repair requests of an exchange, in bytes as well
	// as records. Default DefaultLimits().
	Limits Limits
	// Logger receives round summaries and failures. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// NewTicker, when set, paces the background rounds instead of the
	// loop's own timer (the first round after a random part of Interval,
	// then one every Interval): it starts a ticker with period Interval
	// and returns its channel and its stop, and a round runs on every
	// tick. Tests pass a ticker they drive, and make the loop run a
	// given number of rounds instead of waiting for them.
	NewTicker func(d time.Duration) (ticks <-chan time.Time, stop func())
}

// DefaultConfig returns the defaults of every field that has one.
func DefaultConfig() Config {
	return Config{Interval: time.Minute, Rate: 8 << 20, Timeout: 2 * time.Minute, ProofMargin: 5 * time.Second, MinReplicas: 1,
		Limits: DefaultLimits()}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Store == nil || c.Meta == nil || c.Ring == nil:
		return fmt.Errorf("%w: Store, Meta and Ring are required", ErrInvalidConfig)
	case c.Interval < 0:
		return fmt.Errorf("%w: Interval %v is negative", ErrInvalidConfig, c.Interval)
	case c.Rate < 1:
		return fmt.Errorf("%w: Rate %d must be positive", ErrInvalidConfig, c.Rate)
	case c.Timeout <= 0:
		return fmt.Errorf("%w: Timeout %v must be positive", ErrInvalidConfig, c.Timeout)
	case c.MinReplicas < 1:
		return fmt.Errorf("%w: MinReplicas %d must be at least 1", ErrInvalidConfig, c.MinReplicas)
	case c.ProofMargin < 0:
		return fmt.Errorf("%w: ProofMargin %v is negative", ErrInvalidConfig, c.ProofMargin)
	case c.Limits.BatchBytes < 1 || c.Limits.MaxRecordBytes < 0:
		return fmt.Errorf("%w: Limits %+v: BatchBytes must be positive, MaxRecordBytes not negative", ErrInvalidConfig, c.Limits)
	}
	return nil
}

// proofsMetaName persists the sync proofs.
const proofsMetaName = "antientropy/synced"

// proofKey names one (range, peer) pair.
type proofKey struct {
	r    Range
	peer string
}

// Summary is what one round did, over every peer.
type Summary struct {
	Result
	// Peers counts the exchanges made; Failed those that ended in error.
	Peers, Failed int
	// Complete reports that every range this node replicates was
	// compared, and repaired, with at least one other replica and with
	// every other replica the ring offered as a peer (those it did not
	// offer, not alive, are the only ones left out).
	Complete bool
	// Duration is the round's wall time.
	Duration time.Duration
}

// Stats are the repairer's totals.
type Stats struct {
	Rounds                   int64
	LastRound                time.Time
	LastDuration             time.Duration
	KeysSent, KeysReceived   int64
	BytesSent, BytesReceived int64
	// RangesInSync and RangesOutOfSync are from the last round: ranges
	// whose roots matched every peer, and those that differed from some.
	RangesInSync, RangesOutOfSync int64
	// ExchangeFailures counts exchanges that ended in error.
	ExchangeFailures int64
	// KeysTooLarge counts differing records left unrepaired because no
	// replica frame can carry them (one per record and round).
	KeysTooLarge int64
}

// Repairer runs anti-entropy rounds: in the background every Interval,
// and on demand (Round, for RINGCACHE REPAIR). Rounds never overlap.
type Repairer struct {
	cfg     Config
	log     *slog.Logger
	limiter *rate.Limiter

	// round serializes rounds.
	round sync.Mutex

	mu struct {
		sync.Mutex
		// proofs: when the last successful exchange of a range with a
		// peer started (Unix ms).
		proofs map[proofKey]int64
		stats  Stats
	}
	closed atomic.Bool

	life context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New loads the persisted proofs and, if Interval > 0, starts the loop.
func New(cfg Config) (*Repairer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Repairer{cfg: cfg, log: cfg.Logger, limiter: rate.NewLimiter(rate.Limit(cfg.Rate), rateBurst(cfg.Rate))}
	r.mu.proofs = map[proofKey]int64{}
	if err := r.loadProofs(); err != nil {
		return nil, err
	}
	r.life, r.stop = context.WithCancel(context.Background())
	if cfg.Interval > 0 {
		r.wg.Add(1)
		go r.loop()
	}
	return r, nil
}

// Close stops the loop, waits for a round in progress to stop, and
// persists the proofs. Idempotent.
func (r *Repairer) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	r.stop()
	r.wg.Wait()
	r.round.Lock()
	defer r.round.Unlock()
	return r.saveProofs()
}

// loop runs a round every Interval, the first after a random part of it
// so that nodes started together do not all repair at once; with
// Config.NewTicker, a round on every tick instead.
func (r *Repairer) loop() {
	defer r.wg.Done()
	var ticks <-chan time.Time
	if r.cfg.NewTicker != nil {
		c, stop := r.cfg.NewTicker(r.cfg.Interval)
		defer stop()
		ticks = c
	}
	wait := time.Duration(rand.Int64N(int64(r.cfg.Interval))) + time.Second
	for {
		if ticks == nil {
			t := time.NewTimer(wait)
			select {
			case <-r.life.Done():
				t.Stop()
				return
			case <-t.C:
			}
			wait = r.cfg.Interval
		} else {
			select {
			case <-r.life.Done():
				return
			case <-ticks:
			}
		}
		if _, err := r.Round(r.life); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, ErrClosed) {
			r.log.Warn("antientropy: round", "err", err)
		}
	}
}

// budget spends n bytes of the rate limit.
func (r *Repairer) budget(ctx context.Context, n int) error {
	return RateBudget(r.limiter)(ctx, n)
}

// Round compares every range this node replicates with each of its other
// replicas, one peer at a time, ranges marked dirty first, and repairs
// what differs. It records, per range and peer, when a successful
// exchange started: the proof tombstone purge waits for.
func (r *Repairer) Round(ctx context.Context) (Summary, error) {
	if r.closed.Load() {
		return Summary{}, ErrClosed
	}
	r.round.Lock()
	defer r.round.Unlock()
	if r.closed.Load() {
		return Summary{}, ErrClosed
	}
	// Close stops a round started on a caller's context too.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(r.life, cancel)()
	start := r.cfg.Now()

	pl := r.plan()
	out, stopped, err := r.exchangeAll(ctx, pl, start)
	if stopped {
		return out.sum, err
	}
	r.clearDirty(pl, out, start)
	if err := r.saveProofs(); err != nil {
		r.log.Warn("antientropy: persist proofs", "err", err)
	}
	out.sum.Duration = r.cfg.Now().Sub(start)
	out.sum.Complete = out.complete(pl)
	r.record(pl, out, start)
	return out.sum, err
}

// roundPlan is what a round compares: per peer, the ranges it shares
// with this node, dirty ones first.
type roundPlan struct {
	dirty    map[int]bool       // dirty buckets when the round started
	isDirty  map[Range]bool     // ranges touching a dirty bucket
	replicas map[Range][]string // every range this node replicates, with its replicas
	byPeer   map[string][]Range
	peers    []string // sorted
}

// plan lists the ranges this node replicates and who else holds them.
func (r *Repairer) plan() roundPlan {
	self := r.cfg.Ring.Self()
	pl := roundPlan{isDirty: map[Range]bool{}, replicas: map[Range][]string{}, byPeer: map[string][]Range{}}
	if r.cfg.Dirty != nil {
		pl.dirty = map[int]bool{}
		for _, b := range r.cfg.Dirty.Buckets() {
			pl.dirty[b] = true
		}
	}
	for _, rr := range r.cfg.Ring.ReplicaRanges() {
		if !slices.Contains(rr.Replicas, self) {
			continue
		}
		if len(pl.dirty) > 0 && touchesDirty(rr.Range, pl.dirty) {
			pl.isDirty[rr.Range] = true
		}
		pl.replicas[rr.Range] = rr.Replicas
		for _, id := range rr.Replicas {
			if id != self {
				pl.byPeer[id] = append(pl.byPeer[id], rr.Range)
			}
		}
	}
	for id, rs := range pl.byPeer {
		pl.peers = append(pl.peers, id)
		slices.SortStableFunc(rs, func(a, b Range) int { return boolOrder(pl.isDirty[a], pl.isDirty[b]) })
	}
	slices.Sort(pl.peers)
	return pl
}

// roundOutcome is what a round's exchanges found.
type roundOutcome struct {
	sum       Summary
	synced    map[Range]int // peers each range was synced with
	expected  map[Range]int // peers each range was offered to
	differing map[Range]bool
}

// exchangeAll runs the round's exchanges, one peer at a time. The error
// is the first exchange's that failed (the others still ran); stopped
// reports that the context ended the round before a peer's turn, and
// the error is then the context's.
func (r *Repairer) exchangeAll(ctx context.Context, pl roundPlan, start time.Time) (out roundOutcome, stopped bool, firstErr error) {
	out = roundOutcome{synced: map[Range]int{}, expected: map[Range]int{}, differing: map[Range]bool{}}
	for _, id := range pl.peers {
		if err := ctx.Err(); err != nil {
			return out, true, err
		}
		p, ok := r.cfg.Ring.Peer(id)
		if !ok {
			out.sum.Failed++
			continue
		}
		for _, rg := range pl.byPeer[id] {
			out.expected[rg]++
		}
		out.sum.Peers++
		xctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		res, err := exchangeWithin(xctx, r.cfg.Store, p, pl.byPeer[id], r.budget, r.cfg.Limits, nil)
		cancel()
		out.sum.add(res)
		r.recordProofs(id, res.Synced, start)
		for _, rg := range res.Synced {
			out.synced[rg]++
		}
		for _, rg := range res.Differing {
			out.differing[rg] = true
		}
		if err != nil {
			out.sum.Failed++
			r.log.Warn("antientropy: exchange failed", "peer", id, "err", err)
			if firstErr == nil {
				firstErr = fmt.Errorf("antientropy: exchange with %s: %w", id, err)
			}
		}
	}
	return out, false, firstErr
}

// clearDirty clears the dirty marks of every dirty range now in sync with
// all its other replicas, and persists the marks.
func (r *Repairer) clearDirty(pl roundPlan, out roundOutcome, start time.Time) {
	if r.cfg.Dirty == nil || len(pl.dirty) == 0 {
		return
	}
	var clear []int
	for rg, reps := range pl.replicas {
		if pl.isDirty[rg] && out.synced[rg] == len(reps)-1 {
			for _, lf := range Leaves(rg) {
				if pl.dirty[lf.Bucket] {
					clear = append(clear, lf.Bucket)
				}
			}
		}
	}
	r.cfg.Dirty.Clear(clear, start.UnixMilli())
	if err := r.cfg.Dirty.Flush(); err != nil {
		r.log.Warn("antientropy: persist dirty marks", "err", err)
	}
}

// complete reports whether every range was synced with every replica it
// was offered to, and with at least one.
func (out roundOutcome) complete(pl roundPlan) bool {
	for rg := range pl.replicas {
		if out.synced[rg] == 0 || out.synced[rg] < out.expected[rg] {
			return false
		}
	}
	return true
}

// record adds a finished round to the stats and logs what it did.
func (r *Repairer) record(pl roundPlan, out roundOutcome, start time.Time) {
	sum := out.sum
	inSync := int64(0)
	for rg := range pl.replicas {
		if !out.differing[rg] {
			inSync++
		}
	}
	r.mu.Lock()
	st := &r.mu.stats
	st.Rounds++
	st.LastRound, st.LastDuration = start, sum.Duration
	st.KeysSent += sum.KeysSent
	st.KeysReceived += sum.KeysReceived
	st.BytesSent += sum.BytesSent
	st.BytesReceived += sum.BytesReceived
	st.RangesInSync, st.RangesOutOfSync = inSync, int64(len(out.differing))
	st.ExchangeFailures += int64(sum.Failed)
	st.KeysTooLarge += sum.KeysTooLarge
	r.mu.Unlock()
	if sum.KeysSent+sum.KeysReceived > 0 || sum.Failed > 0 {
		r.log.Info("antientropy: round", "peers", sum.Peers, "failed", sum.Failed, "ranges", sum.RangesCompared,
			"differing", sum.RangesDiffering, "keys_sent", sum.KeysSent, "keys_received", sum.KeysReceived,
			"bytes_sent", sum.BytesSent, "bytes_received", sum.BytesReceived, "seconds", sum.Duration.Seconds())
	}
	if sum.KeysTooLarge > 0 {
		r.log.Warn("antientropy: records too large for a replica frame left unrepaired; the rest of their ranges was repaired",
			"records", sum.KeysTooLarge, "limit", r.cfg.Limits.MaxRecordBytes)
	}
}

func (s *Summary) add(res Result) {
	s.RangesCompared += res.RangesCompared
	s.RangesDiffering += res.RangesDiffering
	s.LeavesDiffering += res.LeavesDiffering
	s.KeysSent += res.KeysSent
	s.KeysReceived += res.KeysReceived
	s.BytesSent += res.BytesSent
	s.BytesReceived += res.BytesReceived
	s.KeysTooLarge += res.KeysTooLarge
	s.BelowFloor += res.BelowFloor
}

func boolOrder(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// touchesDirty reports whether one of rg's buckets is dirty.
func touchesDirty(rg Range, dirty map[int]bool) bool {
	for _, lf := range Leaves(rg) {
		if dirty[lf.Bucket] {
			return true
		}
	}
	return false
}

// Stats returns the totals.
func (r *Repairer) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.stats
}

// recordProofs notes that the ranges were synced with peer by an
// exchange that started at start.
func (r *Repairer) recordProofs(peer string, ranges []Range, start time.Time) {
	ms := start.UnixMilli()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rg := range ranges {
		r.mu.proofs[proofKey{rg, peer}] = ms
	}
}

// PurgeAllowed reports whether a tombstone may be purged: only once an
// exchange with every other replica of its range started after the
// tombstone was written (plus ProofMargin) and after this node stored it
// over a record of the key (storedAt, Unix ms), so that the exchange
// carried it to every replica that lacked it: each holds it or something
// newer, and no repair can bring the deleted value back. A tombstone that
// reached this node after an exchange with a peer that still holds the
// old value (through repair from a third replica, or a hint) is not
// proven by that exchange, however long after the delete it came.
// storedAt 0 (the engine held nothing for the key) counts from the
// version alone: see engine.Config.PurgeAllowed. It is the engine's
// PurgeAllowed hook: it never calls the engine.
func (r *Repairer) PurgeAllowed(key []byte, rec engine.Record, storedAt int64) bool {
	rr := r.cfg.Ring.RangeOf(engine.Token(key))
	self := r.cfg.Ring.Self()
	if len(rr.Replicas) < r.cfg.MinReplicas || !slices.Contains(rr.Replicas, self) {
		// No ring yet, a ring of this node alone, or a range this node no
		// longer replicates (it may again after a ring change): nothing
		// proves the other replicas have the tombstone.
		return false
	}
	need := max(rec.ChangedAt(), storedAt) + r.cfg.ProofMargin.Milliseconds()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range rr.Replicas {
		if id == self {
			continue
		}
		if at, ok := r.mu.proofs[proofKey{rr.Range, id}]; !ok || at <= need {
			return false
		}
	}
	return true
}

// saveProofs persists the proofs: for each, the range (16 bytes), the
// peer id (1-byte length + bytes) and the time (8 bytes).
func (r *Repairer) saveProofs() error {
	r.mu.Lock()
	val := make([]byte, 0, len(r.mu.proofs)*40)
	for k, ms := range r.mu.proofs {
		val = binary.BigEndian.AppendUint64(val, k.r.Start)
		val = binary.BigEndian.AppendUint64(val, k.r.End)
		val = append(val, byte(len(k.peer)))
		val = append(val, k.peer...)
		val = binary.BigEndian.AppendUint64(val, uint64(ms))
	}
	r.mu.Unlock()
	return r.cfg.Meta.PutMeta(proofsMetaName, val)
}

// loadProofs reads the persisted proofs; a damaged value is ignored (no
// proof only delays purges).
func (r *Repairer) loadProofs() error {
	val, ok, err := r.cfg.Meta.GetMeta(proofsMetaName)
	if err != nil {
		return fmt.Errorf("antientropy: load proofs: %w", err)
	}
	if !ok {
		return nil
	}
	for len(val) >= 17 {
		rg := Range{Start: binary.BigEndian.Uint64(val), End: binary.BigEndian.Uint64(val[8:])}
		n := int(val[16])
		if len(val) < 17+n+8 {
			break
		}
		peer := string(val[17 : 17+n])
		ms := int64(binary.BigEndian.Uint64(val[17+n:]))
		r.mu.proofs[proofKey{rg, peer}] = ms
		val = val[17+n+8:]
	}
	return nil
}

// rateBurst is the burst of a Rate: a second's worth, at most 1 GiB.
func rateBurst(bytesPerSec int64) int { return int(min(bytesPerSec, 1<<30)) }

// SetRate changes Config.Rate while the repairer runs (at least 1); an
// exchange in progress goes on at the new rate.
func (r *Repairer) SetRate(bytesPerSec int64) {
	bytesPerSec = max(bytesPerSec, 1)
	r.limiter.SetLimit(rate.Limit(bytesPerSec))
	r.limiter.SetBurst(rateBurst(bytesPerSec))
}
