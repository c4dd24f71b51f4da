package evict

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringcache/ringcache/engine"
)

// ErrConfig is returned for an invalid Config.
var ErrConfig = errors.New("evict: invalid config")

// Source is the store eviction reads: its dataset size and samples of
// its records, of all of them and of those with an expiry (engine.Engine).
type Source interface {
	UsedBytes() int64
	Sample(froms []uint64, maxScan int, fn func(i int, s engine.Sampled) bool) error
	SampleExpiring(from uint64, maxScan int, fn func(s engine.Sampled) bool) error
}

// Config configures an Evictor.
type Config struct {
	// MaxMemory is the budget of the dataset, in Source.UsedBytes terms;
	// 0 is no limit.
	MaxMemory int64
	// Policy chooses the keys that go. Default NoEviction.
	Policy Policy
	// Samples is maxmemory-samples: keys looked at per key evicted by
	// the LRU, LFU and TTL policies (the random ones look at randomLook,
	// as Redis's ignore it). Default 5.
	Samples int
	// Source is the store; required.
	Source Source
	// Owns reports whether this node evicts the keys of a token: in a
	// cluster, those it is the first healthy owner of. Default (nil):
	// every key.
	Owns func(token uint64) bool
	// Delete evicts the victims: on a single node it deletes the records
	// sampled (engine.EvictSampled), in a cluster it writes the eviction
	// tombstones to each key's replicas through the write path. It
	// returns how many keys it evicted (a key written again since it was
	// chosen is not). Required.
	Delete func(ctx context.Context, victims []Victim) (int64, error)
	// Sketch keeps the reads; default: a new one of SketchSlots slots.
	Sketch      *Sketch
	SketchSlots int
	// Interval is how often the evictor checks the budget when no write
	// wakes it. Default 10ms.
	Interval time.Duration
	// BatchKeys bounds the keys one Delete carries. Default 64.
	BatchKeys int
	// MaxWait is how long Admit holds a write while eviction catches up
	// with a dataset past the budget's margin before it refuses it.
	// Default 1s.
	MaxWait time.Duration
	// Timeout bounds one Delete. Default 5s.
	Timeout time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
}

// DefaultConfig returns a Config with its defaults, no budget and no
// Source or Delete.
func DefaultConfig() Config {
	return Config{Samples: 5, SketchSlots: 1 << 20, Interval: 10 * time.Millisecond, BatchKeys: 64,
		MaxWait: time.Second, Timeout: 5 * time.Second}
}

// Validate reports a Config that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Source == nil || c.Delete == nil:
		return fmt.Errorf("%w: Source and Delete are required", ErrConfig)
	case c.MaxMemory < 0:
		return fmt.Errorf("%w: MaxMemory %d is negative", ErrConfig, c.MaxMemory)
	case c.Samples < 0 || c.Samples > 64:
		return fmt.Errorf("%w: Samples %d must be 1-64", ErrConfig, c.Samples)
	case int(c.Policy) >= len(policyNames):
		return fmt.Errorf("%w: %v", ErrConfig, c.Policy)
	}
	return nil
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Samples == 0 {
		c.Samples = d.Samples
	}
	if c.SketchSlots <= 0 {
		c.SketchSlots = d.SketchSlots
	}
	if c.Interval <= 0 {
		c.Interval = d.Interval
	}
	if c.BatchKeys <= 0 {
		c.BatchKeys = d.BatchKeys
	}
	if c.MaxWait <= 0 {
		c.MaxWait = d.MaxWait
	}
	if c.Timeout <= 0 {
		c.Timeout = d.Timeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Owns == nil {
		c.Owns = func(uint64) bool { return true }
	}
	if c.Sketch == nil {
		c.Sketch = NewSketch(c.SketchSlots)
	}
	return c
}

// Evictor keeps a Source within its budget: a goroutine that, while the
// dataset is past MaxMemory, chooses victims by the policy among the keys
// this node owns and deletes them. It owns that goroutine: Close stops
// it.
type Evictor struct {
	cfg    Config
	sketch *Sketch

	maxMemory atomic.Int64
	policy    atomic.Uint32
	samples   atomic.Int64
	// nowMs is a coarse clock for the read hook, set by the loop.
	nowMs atomic.Int64
	// empty: the last pass found no key to evict. With a volatile policy
	// the dataset has no key with a TTL this node may evict, and writes
	// are refused, as in Redis; with an allkeys one, this node holds only
	// other primaries' keys (in a cluster), which they evict, and writes
	// are not held for it.
	empty atomic.Bool

	evicted, refused atomic.Int64

	// meanGap is the loop's running mean of the token distance between
	// sampled records (random policies; see chooseRandom).
	meanGap float64

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Stats are an Evictor's counters.
type Stats struct {
	// Evicted counts the keys whose eviction was acknowledged.
	Evicted int64
	// Refused counts writes Admit refused.
	Refused int64
	// Stuck reports that the dataset is past the budget and the policy
	// finds no key to evict (volatile-* with no expiring key).
	Stuck bool
}

// New validates cfg and starts the evictor.
func New(cfg Config) (*Evictor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	e := &Evictor{cfg: cfg, sketch: cfg.Sketch, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	e.maxMemory.Store(cfg.MaxMemory)
	e.policy.Store(uint32(cfg.Policy))
	e.samples.Store(int64(cfg.Samples))
	e.nowMs.Store(cfg.Now().UnixMilli())
	go e.loop()
	return e, nil
}

// Close stops the evictor and waits for it.
func (e *Evictor) Close() error {
	e.once.Do(func() { close(e.stop) })
	<-e.done
	return nil
}

// SetMaxMemory changes the budget; a lower one is evicted down to at once.
func (e *Evictor) SetMaxMemory(n int64) {
	e.maxMemory.Store(max(n, 0))
	e.wake()
}

// SetPolicy changes the policy.
func (e *Evictor) SetPolicy(p Policy) {
	e.policy.Store(uint32(p))
	e.empty.Store(false)
	e.wake()
}

// SetSamples changes maxmemory-samples (1-64).
func (e *Evictor) SetSamples(n int) { e.samples.Store(int64(min(max(n, 1), 64))) }

// MaxMemory, Policy and Samples return the settings in force.
func (e *Evictor) MaxMemory() int64 { return e.maxMemory.Load() }
func (e *Evictor) Policy() Policy   { return Policy(e.policy.Load()) }
func (e *Evictor) Samples() int     { return int(e.samples.Load()) }

// Sketch returns the access sketch (OBJECT FREQ and IDLETIME).
func (e *Evictor) Sketch() *Sketch { return e.sketch }

// Stats returns the counters.
func (e *Evictor) Stats() Stats {
	return Stats{Evicted: e.evicted.Load(), Refused: e.refused.Load(), Stuck: e.stuck()}
}

// OnRead is the store's read hook: it records an access to key when a
// budget with an LRU or LFU policy is set, and costs nothing otherwise.
func (e *Evictor) OnRead(key []byte) {
	if p := e.Policy(); (p.lru() || p.LFU()) && e.maxMemory.Load() > 0 {
		e.sketch.Touch(key, e.nowMs.Load())
	}
}

// over returns by how much the dataset is past the budget (<= 0: within).
func (e *Evictor) over() int64 {
	m := e.maxMemory.Load()
	if m <= 0 {
		return math.MinInt64
	}
	return e.cfg.Source.UsedBytes() - m
}

// Margin is how far past the budget the dataset may go while eviction
// catches up with writes, before Admit holds them: 1/64 of the budget
// plus 256 KiB.
func Margin(maxMemory int64) int64 { return maxMemory/64 + 256<<10 }

// Admit reports whether a command that may grow the dataset may run. Past
// the budget it may not under noeviction, nor when a volatile policy
// finds no key with a TTL to evict; otherwise it wakes the evictor, and
// past the margin holds the write until eviction brings the dataset back
// within it (at most MaxWait; then it refuses).
func (e *Evictor) Admit() bool {
	over := e.over()
	if over <= 0 {
		return true
	}
	if e.Policy() == NoEviction || e.stuck() {
		e.refused.Add(1)
		return false
	}
	e.wake()
	margin := Margin(e.maxMemory.Load())
	if over <= margin || e.empty.Load() {
		// Within the margin; or past it with nothing this node may
		// evict (in a cluster, its dataset is other primaries' keys,
		// which they evict): holding the write would not help.
		return true
	}
	deadline := time.Now().Add(e.cfg.MaxWait)
	for time.Now().Before(deadline) {
		select {
		case <-e.stop:
			return true
		case <-time.After(time.Millisecond):
		}
		if e.over() <= margin || e.empty.Load() {
			return true
		}
	}
	e.refused.Add(1)
	return false
}

// stuck reports that writes past the budget are refused because the
// policy finds nothing to evict (see empty).
func (e *Evictor) stuck() bool {
	return e.empty.Load() && e.Policy().Volatile() && e.over() > 0
}

func (e *Evictor) wake() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

func (e *Evictor) loop() {
	defer close(e.done)
	t := time.NewTicker(e.cfg.Interval)
	defer t.Stop()
	var p pool
	var sc scratch
	var lastPol Policy
	var lastErr, retryAt time.Time
	var indexAt time.Time // when a pass last sampled the expiry index
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		case <-e.kick:
		}
		e.nowMs.Store(e.cfg.Now().UnixMilli())
		if time.Now().Before(retryAt) {
			continue
		}
		for over := e.over(); over > 0; over = e.over() {
			pol := e.Policy()
			if pol == NoEviction {
				break
			}
			if pol != lastPol {
				p.reset()     // the scores meant another order
				e.meanGap = 0 // and the density another set of keys
				lastPol = pol
			}
			victims := e.choose(&p, &sc, pol, over, false)
			if len(victims) == 0 && pol.Volatile() && (!e.empty.Load() || time.Since(indexAt) >= time.Second) {
				// Keys with a TTL may be too few for a window to find.
				indexAt = time.Now()
				victims = e.choose(&p, &sc, pol, over, true)
			}
			for try := 1; len(victims) == 0 && try < emptyTries; try++ {
				victims = e.choose(&p, &sc, pol, over, false) // another window
			}
			e.empty.Store(len(victims) == 0)
			if len(victims) == 0 {
				break
			}
			ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Timeout)
			n, err := e.cfg.Delete(ctx, victims)
			cancel()
			e.evicted.Add(n)
			if err != nil {
				if time.Since(lastErr) > 10*time.Second {
					e.cfg.Logger.Warn("evict: deleting the chosen keys failed; trying again in a second", "keys", len(victims), "err", err)
					lastErr = time.Now()
				}
				retryAt = time.Now().Add(time.Second)
				break
			}
			select {
			case <-e.stop:
				return
			default:
			}
		}
	}
}

// emptyTries is how many windows, each after a random token of its own,
// a pass samples before it concludes that the policy finds nothing to
// evict (empty: under a volatile policy Admit then refuses writes past the
// budget). A volatile pass samples the expiry index (see choose) after
// its first window finds nothing, and the other windows only if the index
// finds nothing either: its entries made stale by rewrites stay until
// due, and a stretch of them may hide the live ones. While the dataset
// stays past the budget with nothing found, the index is sampled again
// once a second, not every pass: it costs a point read per entry.
const emptyTries = 4

// Victim is a key chosen for eviction: its record as sampled (Key owned
// by the victim) and the eviction tombstone that deletes that version.
type Victim struct {
	Sampled   engine.Sampled
	Tombstone engine.Record
}

// choose picks up to BatchKeys victims whose bytes cover over. Each round
// offers perRound*Samples sampled keys to the pool and takes the pool's
// perRound best: Samples keys looked at per key evicted, as in Redis
// (the random policies look at randomLook: see chooseRandom). The pool keeps its
// candidates from batch to batch, as Redis's does; one evicted since, or
// changed, costs a wasted delete at most (a tombstone below a newer
// version does not apply).
//
// A batch's rounds take consecutive records after one random token: one
// seek per batch, since a seek positions an iterator on every level of
// the store and costs as much as many steps. Tokens are hashes, so the
// records after a random token are as random a sample of the keys as
// records after as many random tokens would be.
//
// With expiring, the sample is drawn from the engine's expiry index
// instead (Source.SampleExpiring): every key there has a TTL. The
// volatile policies fall back on it when a window holds no key with a TTL
// this node may evict, which happens by chance when such keys are rare
// (with one in 2,000, about one window in three). volatile-ttl reads the
// index from its start, the nearest expiries; the others from a random
// due time between its first entry and its last, which is a random key
// only as far as expiries are spread evenly (a lone far expiry makes the
// span mostly empty, and most starts wrap to the first entries).
func (e *Evictor) choose(p *pool, sc *scratch, pol Policy, over int64, expiring bool) []Victim {
	now := e.cfg.Now().UnixMilli()
	samples := e.Samples()
	rounds := make([][]candidate, (e.cfg.BatchKeys+perRound-1)/perRound)
	per := perRound * samples
	if pol.random() {
		per = randomLook * perRound
	}
	// The rounds share one array, kept from batch to batch, and the
	// sampled keys one buffer: a batch looks at hundreds of keys and
	// allocates a copy only of those the pool keeps.
	// The buffer is the batch's own (Delete may keep the victims' keys);
	// when it grows, the keys already cut from it keep the old array.
	if n := len(rounds) * per; cap(sc.cands) < n {
		sc.cands = make([]candidate, n)
	}
	all := sc.cands[:len(rounds)*per]
	for i := range rounds {
		rounds[i] = all[i*per : i*per : (i+1)*per]
	}
	keys := make([]byte, 0, len(all)*32)
	r := 0
	from := rand.Uint64()
	collect := func(s engine.Sampled) bool {
		if (pol.Volatile() && s.ExpireAt == 0) || !e.cfg.Owns(s.Token) {
			return true
		}
		start := len(keys)
		keys = append(keys, s.Key...)
		c := candidate{key: keys[start:len(keys):len(keys)], seen: s, score: e.bound(pol, s, now)}
		c.seen.Key = nil // the engine's buffer; c.key is the copy
		rounds[r] = append(rounds[r], c)
		if len(rounds[r]) == per {
			r++
		}
		return r < len(rounds)
	}
	maxScan := len(rounds) * max(32*samples, 256)
	if expiring {
		if pol == VolatileTTL {
			from = 0 // the index's start: the nearest expiries
		}
		_ = e.cfg.Source.SampleExpiring(from, maxScan, collect)
	} else {
		_ = e.cfg.Source.Sample([]uint64{from}, maxScan, func(_ int, s engine.Sampled) bool { return collect(s) })
	}
	victims := make([]Victim, 0, e.cfg.BatchKeys)
	if sc.chosen == nil {
		sc.chosen = make(map[string]bool, e.cfg.BatchKeys)
	}
	chosen := sc.chosen
	clear(chosen)
	var freed int64
	take := func(c candidate) {
		if chosen[string(c.key)] {
			return
		}
		chosen[string(c.key)] = true
		v := Victim{Sampled: c.seen, Tombstone: engine.Record{Tombstone: true, Version: engine.EvictedVersion(c.seen.Version), EvictedAt: now}}
		v.Sampled.Key = c.key
		victims = append(victims, v)
		freed += c.seen.Bytes
	}
	if pol.random() {
		var cands []candidate
		if expiring {
			// In expiry order, not token order: chooseRandom's weighting
			// by token density does not apply. Taken in random order.
			cands = slices.Concat(rounds...)
			rand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
		} else {
			cands = e.chooseRandom(rounds, from)
		}
		for _, c := range cands {
			if freed >= over || len(victims) == e.cfg.BatchKeys {
				break
			}
			take(c)
		}
		return victims
	}
	for _, round := range rounds {
		if freed >= over {
			break
		}
		for _, c := range round {
			// A key already chosen may come again in a later round; a key
			// the pool refuses even by its bound is not looked up.
			if chosen[string(c.key)] || p.refuses(c) {
				continue
			}
			c.seen.Key = c.key
			c.score = e.score(pol, c.seen, now)
			c.seen.Key = nil
			p.offer(c)
		}
		for n := 0; n < perRound; {
			c, ok := p.best()
			if !ok {
				break
			}
			if !chosen[string(c.key)] {
				take(c)
				n++
			}
		}
	}
	return victims
}

// scratch is the memory choose reuses from batch to batch: the array of
// sampled candidates and the set of keys chosen. Nothing choose returns
// points into it. The loop owns one, as it owns the pool.
type scratch struct {
	cands  []candidate
	chosen map[string]bool
}

// randomLook is how many keys the random policies look at per key they
// evict, on average (chooseRandom).
const randomLook = 4

// chooseRandom returns, in random order, the victims the random policies
// take from the rounds of a window: the records that followed token from,
// perRound*randomLook to a round.
//
// A window starts at a random token, so a stretch of records is drawn in
// proportion to the token space it covers, not to the records in it:
// sparse stretches are drawn more often. They are sparse where keys were
// evicted before, which is also where the keys written since make up
// more of the records. Taking the records of every window alike evicted
// recently written keys nearly twice as often as the others
// (TestRandomEvictsUniformly). So each round gives victims in proportion
// to its density: 1/randomLook of its records for a round of the mean
// density (the running mean of the token gap between records), fewer
// for a sparser one, more for a denser one (at most all), chosen at
// random within it. Keys of one hash tag share a token, so a round among
// them looks as dense as can be and is taken whole; the weighting is
// only as fine as the tokens are distinct.
//
// Rounds sparser than the mean may all round down to nothing; then one
// candidate goes all the same, so that a pass that found keys to evict
// never reports that there are none.
func (e *Evictor) chooseRandom(rounds [][]candidate, from uint64) []candidate {
	var victims []candidate
	for _, round := range rounds {
		if len(round) == 0 {
			break
		}
		last := round[len(round)-1].seen.Token
		gap := float64(last-from)/float64(len(round)) + 1 // last-from wraps with the ring
		from = last
		if e.meanGap == 0 {
			e.meanGap = gap
		}
		e.meanGap += (gap - e.meanGap) / 256
		n := len(round)
		if want := float64(n) / randomLook * e.meanGap / gap; want < float64(n) {
			n = int(want + rand.Float64()) // rounded at random: right on average
		}
		rand.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		victims = append(victims, round[:n]...)
	}
	if len(victims) == 0 && len(rounds[0]) > 0 {
		all := slices.Concat(rounds...)
		return []candidate{all[rand.IntN(len(all))]}
	}
	rand.Shuffle(len(victims), func(i, j int) { victims[i], victims[j] = victims[j], victims[i] })
	return victims
}

// perRound is how many keys a round of sampling evicts.
const perRound = 8

// bound is an upper bound of score(pol, s, now) that needs no look at the
// sketch: the score of a key never read since its write. A read makes a
// key less idle and more frequent (the sketch makes keys look hotter,
// never colder), so it only lowers the score. The pool's policies sample
// several keys per key they evict and keep few: most sampled keys do not
// beat the pool's worst even by this bound, and are never looked up in
// the sketch, whose table is too large to stay in the CPU's caches.
func (e *Evictor) bound(pol Policy, s engine.Sampled, now int64) uint64 {
	switch {
	case pol.lru():
		return uint64(Access{}.Idle(s.Version.Wall, now))
	case pol.LFU():
		return 255 - uint64(e.sketch.FreqOf(Access{}, s.Version.Wall, now))
	}
	return e.score(pol, s, now)
}

// score is how good a victim s is under pol: the higher the better.
func (e *Evictor) score(pol Policy, s engine.Sampled, now int64) uint64 {
	switch {
	case pol.lru():
		return uint64(e.sketch.Idle(s.Key, s.Version.Wall, now))
	case pol.LFU():
		return 255 - uint64(e.sketch.Freq(s.Key, s.Version.Wall, now))
	case pol == VolatileTTL:
		return math.MaxUint64 - uint64(max(s.ExpireAt, 0))
	}
	return 0
}
