package handoff

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/ringcache/ringcache/engine"
)

// downMetaPrefix names the persisted down-since times: prefix + target
// -> 8-byte big-endian Unix milliseconds.
const downMetaPrefix = "handoff/down/"

// Manager stores hints and runs the replay loop. Create it with New and
// stop it with Close; its methods are safe for concurrent use.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	limiter *rate.Limiter

	mu struct {
		sync.Mutex
		// down maps a target to when it was first seen down (Unix ms).
		down map[string]int64
		// delivered and dropped count hints since start, per target;
		// tooLarge counts those of dropped that no frame could carry.
		delivered, dropped, tooLarge map[string]int64
		// replaying marks targets whose replay is running.
		replaying map[string]bool
		// refusalLogged rate-limits the refusal log line per target.
		refusalLogged map[string]time.Time
		// retries counts a target's replays interrupted in a row, for the
		// backoff of the early retry; retryDue marks the targets whose
		// early retry is scheduled (one at a time).
		retries  map[string]int
		retryDue map[string]bool
	}
	// active lists the targets with pending hints, for Merge's fast path;
	// nil or empty when there are none. Writers hold activeMu, so that a
	// refresh computed before a Hold committed cannot hide its target.
	active   atomic.Pointer[[]string]
	activeMu sync.Mutex

	wake chan string
	life context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New loads the persisted down-since times and starts the replay loop.
func New(cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Manager{
		cfg:     cfg,
		log:     cfg.Logger,
		now:     cfg.Now,
		limiter: rate.NewLimiter(rate.Limit(cfg.ReplayRate), cfg.BatchBytes),
		wake:    make(chan string, 64),
	}
	m.mu.down = map[string]int64{}
	m.mu.delivered = map[string]int64{}
	m.mu.dropped = map[string]int64{}
	m.mu.tooLarge = map[string]int64{}
	m.mu.replaying = map[string]bool{}
	m.mu.refusalLogged = map[string]time.Time{}
	m.mu.retries = map[string]int{}
	m.mu.retryDue = map[string]bool{}
	err := cfg.Store.ScanMeta(downMetaPrefix, func(name string, val []byte) bool {
		if len(val) == 8 {
			m.mu.down[name[len(downMetaPrefix):]] = int64(binary.BigEndian.Uint64(val))
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("handoff: load down times: %w", err)
	}
	m.refreshActive()
	m.life, m.stop = context.WithCancel(context.Background())
	m.wg.Add(1)
	go m.loop()
	return m, nil
}

// Close stops the replay loop (a replay in progress stops after its
// current batch) and waits for it. Idempotent.
func (m *Manager) Close() error {
	m.stop()
	m.wg.Wait()
	return nil
}

// Hold stores records as hints for target, acknowledging them as durably
// as a plain write. It refuses (ErrWindow, ErrFull, ErrTooLarge) when the
// target has been down longer than MaxWindow, its queue is full, or a
// record exceeds MaxRecordBytes; refused records count as dropped.
func (m *Manager) Hold(target string, keys [][]byte, recs []engine.Record) error {
	_, err := m.HoldNewer(target, keys, recs)
	return err
}

// HoldNewer is Hold that also tells which records lost to a newer hint
// already held for target (engine.PutHintsNewer): nil when none did, else
// newer[i] is the version held for keys[i] where it beat recs[i].
func (m *Manager) HoldNewer(target string, keys [][]byte, recs []engine.Record) ([]engine.Version, error) {
	if m.life.Err() != nil {
		return nil, ErrClosed
	}
	if n := m.countTooLarge(keys, recs); n > 0 {
		m.mu.Lock()
		m.mu.tooLarge[target] += int64(n)
		m.mu.Unlock()
		return nil, m.refuse(target, len(keys), ErrTooLarge)
	}
	now := m.now()
	since, err := m.markDown(target, now)
	if err != nil {
		return nil, err
	}
	if now.Sub(time.UnixMilli(since)) > m.cfg.MaxWindow {
		return nil, m.refuse(target, len(keys), ErrWindow)
	}
	if m.queue(target).Bytes >= m.cfg.MaxBytes {
		return nil, m.refuse(target, len(keys), ErrFull)
	}
	ks, rs, kept := keys, recs, []int(nil)
	if m.cfg.MaxAge > 0 {
		ks, rs, kept = m.fresh(target, keys, recs, now)
		if len(ks) == 0 {
			return nil, nil
		}
	}
	held := make([]engine.Version, len(ks))
	if _, err := m.cfg.Store.PutHintsNewer(target, ks, rs, now.UnixMilli(), held); err != nil {
		return nil, fmt.Errorf("handoff: store hints for %s: %w", target, err)
	}
	m.activeMu.Lock()
	if a := m.active.Load(); a == nil || !slices.Contains(*a, target) {
		ids := []string{target}
		if a != nil {
			ids = append(slices.Clone(*a), target)
		}
		m.active.Store(&ids)
	}
	m.activeMu.Unlock()
	return spread(held, kept, len(keys)), nil
}

// spread maps the versions of the records kept (their positions in the
// original call; nil: all of them) back to a slice of n, and returns nil
// when every version is zero.
func spread(held []engine.Version, kept []int, n int) []engine.Version {
	var out []engine.Version
	for j, v := range held {
		if v.IsZero() {
			continue
		}
		if out == nil {
			out = make([]engine.Version, n)
		}
		i := j
		if kept != nil {
			i = kept[j]
		}
		out[i] = v
	}
	return out
}

// fresh returns the records younger than MaxAge and their positions; the
// others are counted as dropped (they would be dropped at replay anyway).
func (m *Manager) fresh(target string, keys [][]byte, recs []engine.Record, now time.Time) ([][]byte, []engine.Record, []int) {
	cut := now.Add(-m.cfg.MaxAge).UnixMilli()
	var ks [][]byte
	var rs []engine.Record
	kept := []int{}
	for i := range recs {
		if recs[i].ChangedAt() >= cut {
			ks, rs = append(ks, keys[i]), append(rs, recs[i])
			kept = append(kept, i)
		}
	}
	if n := len(keys) - len(ks); n > 0 {
		m.mu.Lock()
		m.mu.dropped[target] += int64(n)
		m.mu.Unlock()
	}
	return ks, rs, kept
}

// tooLarge reports whether a hint's key and value exceed MaxRecordBytes:
// no replica frame can carry it.
func (m *Manager) tooLarge(key []byte, r engine.Record) bool {
	return m.cfg.MaxRecordBytes > 0 && len(key)+len(r.Value) > m.cfg.MaxRecordBytes
}

// countTooLarge counts the records tooLarge refuses.
func (m *Manager) countTooLarge(keys [][]byte, recs []engine.Record) int {
	n := 0
	for i := range keys {
		if m.tooLarge(keys[i], recs[i]) {
			n++
		}
	}
	return n
}

// refuse counts a refusal and logs it at most once a minute per target.
func (m *Manager) refuse(target string, n int, why error) error {
	now := m.now()
	m.mu.Lock()
	m.mu.dropped[target] += int64(n)
	logIt := now.Sub(m.mu.refusalLogged[target]) >= time.Minute
	if logIt {
		m.mu.refusalLogged[target] = now
	}
	m.mu.Unlock()
	if logIt {
		m.log.Warn("handoff: hints refused", "target", target, "reason", why)
	}
	return fmt.Errorf("%w (target %s)", why, target)
}

// Down records that target was seen down at t, unless an earlier time
// is recorded already. The membership layer calls it on failure events.
func (m *Manager) Down(target string, t time.Time) {
	if _, err := m.markDown(target, t); err != nil {
		m.log.Warn("handoff: persist down time", "target", target, "err", err)
	}
}

// markDown returns target's down-since time (Unix ms), setting and
// persisting it as t if none is recorded.
func (m *Manager) markDown(target string, t time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if since, ok := m.mu.down[target]; ok {
		return since, nil
	}
	since := t.UnixMilli()
	val := binary.BigEndian.AppendUint64(nil, uint64(since))
	if err := m.cfg.Store.PutMeta(downMetaPrefix+target, val); err != nil {
		return 0, fmt.Errorf("handoff: persist down time of %s: %w", target, err)
	}
	m.mu.down[target] = since
	return since, nil
}

// clearDown forgets target's down-since time: it is alive and has no
// hints left.
func (m *Manager) clearDown(target string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.mu.down[target]; !ok {
		return
	}
	if err := m.cfg.Store.DeleteMeta(downMetaPrefix + target); err != nil {
		m.log.Warn("handoff: clear down time", "target", target, "err", err)
		return
	}
	delete(m.mu.down, target)
}

// Wake asks the loop to replay target's hints now (it was seen alive).
func (m *Manager) Wake(target string) {
	select {
	case m.wake <- target:
	default: // the loop is busy; its periodic retry comes soon
	}
}

// Merge folds the hints this node holds into read results: where a hint
// for keys[i] is newer than recs[i] (or found[i] is false), it replaces
// it. Without pending hints it costs one atomic load.
func (m *Manager) Merge(keys [][]byte, recs []engine.Record, found []bool) error {
	a := m.active.Load()
	if a == nil || len(*a) == 0 {
		return nil
	}
	hr := make([]engine.Record, len(keys))
	hf := make([]bool, len(keys))
	for _, target := range *a {
		clear(hf)
		if err := m.cfg.Store.LookupHints(target, keys, hr, hf); err != nil {
			return err
		}
		for i := range keys {
			if hf[i] && (!found[i] || hr[i].Version.Compare(recs[i].Version) > 0) {
				recs[i], found[i] = hr[i], true
			}
		}
	}
	return nil
}

// refreshActive recomputes the targets with pending hints.
func (m *Manager) refreshActive() {
	m.activeMu.Lock()
	defer m.activeMu.Unlock()
	qs := m.cfg.Store.HintQueues()
	ids := make([]string, 0, len(qs))
	for _, q := range qs {
		if q.Count > 0 {
			ids = append(ids, q.Target)
		}
	}
	m.active.Store(&ids)
}

// queue returns target's queue figures.
func (m *Manager) queue(target string) engine.HintQueue { return m.cfg.Store.HintQueue(target) }

// SetReplayRate changes Config.ReplayRate while the manager runs (at
// least 1); replays in progress go on at the new rate.
func (m *Manager) SetReplayRate(bytesPerSec int64) {
	m.limiter.SetLimit(rate.Limit(max(bytesPerSec, 1)))
}
