package handoff

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
)

// loop replays queues on Wake and every RetryInterval until Close.
func (m *Manager) loop() {
	defer m.wg.Done()
	ticks, stop := m.cfg.startTicker()
	defer stop()
	m.passAll()
	for {
		select {
		case <-m.life.Done():
			return
		case target := <-m.wake:
			m.pass(target, true)
		case <-ticks:
			m.passAll()
		}
	}
}

// passAll visits every target with hints or a down-since time.
func (m *Manager) passAll() {
	targets := map[string]bool{}
	for _, q := range m.cfg.Store.HintQueues() {
		targets[q.Target] = true
	}
	m.mu.Lock()
	for t := range m.mu.down {
		targets[t] = true
	}
	m.mu.Unlock()
	ids := make([]string, 0, len(targets))
	for t := range targets {
		ids = append(ids, t)
	}
	slices.Sort(ids)
	for _, t := range ids {
		if m.life.Err() != nil {
			return
		}
		m.pass(t, false)
	}
}

// pass does what target's state calls for: replay to it when alive, to
// the keys' owners when it is gone, nothing while it is down. woken says
// the pass was asked for (the target was seen coming back).
func (m *Manager) pass(target string, woken bool) {
	st := m.cfg.Cluster.Status(target)
	if st == Down {
		if m.queue(target).Count > 0 {
			m.Down(target, m.now())
		}
		// A replay was interrupted lately (the target came back and failed
		// a call, so it counts as down for a moment): keep trying with
		// backoff rather than wait for the periodic retry.
		m.mu.Lock()
		retrying := m.mu.retries[target] > 0
		m.mu.Unlock()
		if (woken || retrying) && m.queue(target).Count > 0 {
			m.retrySoon(target)
		}
		return
	}
	// Hints stored while a pass runs land behind its cursor: go again
	// while the queue is not empty, a few times at most.
	for range 3 {
		if m.queue(target).Count == 0 {
			break
		}
		if err := m.replay(target, st); err != nil {
			m.retrySoon(target)
			break
		}
		m.mu.Lock()
		delete(m.mu.retries, target)
		m.mu.Unlock()
	}
	m.refreshActive()
	if m.queue(target).Count == 0 {
		m.clearDown(target)
		return
	}
	if st == Gone {
		m.dropExpired(target)
	} else {
		m.Down(target, m.now()) // hints remain: keep (or restart) the clock
	}
}

// retrySoon schedules another pass for a target whose replay was
// interrupted, sooner than the periodic retry: a node that just came back
// may refuse connections for a moment (its peers' clients back off
// between dials). The delay doubles from 100ms up to a second (or
// RetryInterval if shorter): a returning node gets its hints within about
// a second of accepting connections, for one failed dial a second while
// it does not. A target has one early retry scheduled at most: the passes
// that fail meanwhile (the periodic ones, the woken ones) do not add
// their own, which would pile up for as long as the target stays away.
func (m *Manager) retrySoon(target string) {
	m.mu.Lock()
	if m.mu.retryDue[target] {
		m.mu.Unlock()
		return
	}
	m.mu.retryDue[target] = true
	n := m.mu.retries[target]
	m.mu.retries[target] = n + 1
	m.mu.Unlock()
	delay := min(100*time.Millisecond<<min(n, 4), time.Second, m.cfg.RetryInterval)
	time.AfterFunc(delay, func() {
		m.mu.Lock()
		delete(m.mu.retryDue, target)
		m.mu.Unlock()
		if m.life.Err() == nil {
			m.Wake(target)
		}
	})
}

// dropExpired drops the hints of a gone target whose owners could not
// take them for longer than the hint window.
func (m *Manager) dropExpired(target string) {
	m.mu.Lock()
	since, ok := m.mu.down[target]
	m.mu.Unlock()
	if !ok {
		// A hint stored while a pass cleared the time: start it now.
		m.Down(target, m.now())
		return
	}
	if m.now().Sub(time.UnixMilli(since)) <= m.cfg.MaxWindow {
		return
	}
	n, err := m.cfg.Store.DropHints(target)
	if err != nil {
		m.log.Warn("handoff: drop hints", "target", target, "err", err)
		return
	}
	m.mu.Lock()
	m.mu.dropped[target] += n
	m.mu.Unlock()
	m.log.Warn("handoff: hints of a departed node dropped: its keys' owners could not take them within the hint window",
		"target", target, "hints", n)
	m.refreshActive()
	m.clearDown(target)
}

// replay streams target's queue in throttled batches: to target itself
// when alive, to the keys' current owners when gone. A batch's hints are
// deleted once acknowledged, unless a newer hint replaced them meanwhile.
// Hints that can no longer be replayed (older than MaxAge, too large for a
// frame) are dropped on the way, so they never hold up the ones behind.
func (m *Manager) replay(target string, st Status) error {
	m.mu.Lock()
	if m.mu.replaying[target] {
		m.mu.Unlock()
		return nil
	}
	m.mu.replaying[target] = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.mu.replaying, target)
		m.mu.Unlock()
	}()

	q := m.queue(target)
	start := m.now()
	m.log.Info("handoff: replay started", "target", target, "to", st.String(), "pending", q.Count, "bytes", q.Bytes)
	var delivered int64
	var cursor []byte
	var err error
	for {
		var b hintBatch
		if b, err = m.next(target, cursor); err != nil || b.taken == 0 {
			break
		}
		if err = m.dropUnsendable(target, b); err != nil {
			break
		}
		if len(b.keys) > 0 {
			if err = m.spend(b.bytes); err != nil {
				break
			}
			var n int
			n, err = m.deliver(target, st, b.keys, b.recs, b.versions)
			delivered += int64(n)
			if err != nil {
				break
			}
		}
		cursor = b.last
	}
	secs := m.now().Sub(start).Seconds()
	if err != nil && !errors.Is(err, context.Canceled) {
		m.log.Warn("handoff: replay interrupted", "target", target, "delivered", delivered, "seconds", secs, "err", err)
		return err
	}
	m.log.Info("handoff: replay finished", "target", target, "delivered", delivered,
		"pending", m.queue(target).Count, "seconds", secs)
	return err
}

// spend waits until the replay rate allows n more bytes, in steps of at
// most the limiter's burst (BatchBytes), so a hint larger than a batch is
// throttled for its whole size.
func (m *Manager) spend(n int) error {
	for n > 0 {
		step := min(n, m.limiter.Burst())
		if err := m.limiter.WaitN(m.life, step); err != nil {
			return err
		}
		n -= step
	}
	return nil
}

// deliver sends hints to target (or to the keys' owners when it is gone)
// and deletes those acknowledged. A send refused for its size
// (transport.ErrFrameTooLarge: the hints do not fit in one request) is
// split in halves, each sent on its own, and a single hint refused so is
// dropped: a size refusal is never retried as it was. It returns how many
// hints were delivered; an error of any other kind stops it.
func (m *Manager) deliver(target string, st Status, keys [][]byte, recs []engine.Record, versions []engine.Version) (int, error) {
	ctx, cancel := context.WithTimeout(m.life, m.cfg.Timeout)
	var err error
	if st == Gone {
		err = m.cfg.Cluster.Handover(ctx, keys, recs)
	} else {
		err = m.cfg.Cluster.Deliver(ctx, target, keys, recs)
	}
	cancel()
	if errors.Is(err, transport.ErrFrameTooLarge) && m.life.Err() == nil {
		if len(keys) == 1 {
			return 0, m.dropHints(target, keys, versions, errHintTooLarge, len(keys[0])+len(recs[0].Value), err)
		}
		mid := len(keys) / 2
		n, err := m.deliver(target, st, keys[:mid], recs[:mid], versions[:mid])
		if err != nil {
			return n, err
		}
		k, err := m.deliver(target, st, keys[mid:], recs[mid:], versions[mid:])
		return n + k, err
	}
	if err != nil {
		return 0, err
	}
	if _, err := m.cfg.Store.DeleteHints(target, keys, versions); err != nil {
		return 0, err
	}
	m.mu.Lock()
	m.mu.delivered[target] += int64(len(keys))
	m.mu.Unlock()
	return len(keys), nil
}

// hintBatch is one delivery batch, copied out of the store.
type hintBatch struct {
	keys     [][]byte
	recs     []engine.Record
	versions []engine.Version
	bytes    int
	// stale are hints older than MaxAge, big hints larger than
	// MaxRecordBytes (the largest's size in bigSize): both to drop.
	stale, big []droppedHint
	bigSize    int
	// taken counts the hints the batch took, to deliver or to drop; last
	// is the last of them, the next cursor. 0: nothing after the cursor.
	taken int
	last  []byte
}

// droppedHint is a hint to drop rather than deliver.
type droppedHint struct {
	key     []byte
	version engine.Version
}

// Why hints are dropped instead of replayed.
var (
	errHintStale    = errors.New("older than the tombstone grace")
	errHintTooLarge = errors.New("too large for a replica frame")
)

// dropUnsendable drops a batch's hints that cannot be replayed.
func (m *Manager) dropUnsendable(target string, b hintBatch) error {
	if len(b.stale) > 0 {
		if err := m.dropHints(target, keysOf(b.stale), versionsOf(b.stale), errHintStale, 0, nil); err != nil {
			return err
		}
	}
	if len(b.big) > 0 {
		return m.dropHints(target, keysOf(b.big), versionsOf(b.big), errHintTooLarge, b.bigSize, nil)
	}
	return nil
}

// dropHints deletes hints that will never be replayed, counts them as
// dropped and says why in a log line: hints older than the tombstone
// grace (anti-entropy repairs their keys), or too large for a frame
// (size is the largest one's key and value; cause the refusal, if a
// send was refused).
func (m *Manager) dropHints(target string, keys [][]byte, versions []engine.Version, why error, size int, cause error) error {
	n, err := m.cfg.Store.DeleteHints(target, keys, versions)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.mu.dropped[target] += int64(n)
	if why == errHintTooLarge {
		m.mu.tooLarge[target] += int64(n)
	}
	m.mu.Unlock()
	if why == errHintStale {
		m.log.Warn("handoff: hints older than the tombstone grace dropped instead of replayed; anti-entropy repairs their keys",
			"target", target, "hints", n)
		return nil
	}
	m.log.Warn("handoff: hints too large for a replica frame dropped instead of replayed; the hints behind them go on",
		"target", target, "hints", n, "bytes", size, "limit", m.cfg.MaxRecordBytes, "err", cause)
	return nil
}

func keysOf(hs []droppedHint) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i].key
	}
	return out
}

func versionsOf(hs []droppedHint) []engine.Version {
	out := make([]engine.Version, len(hs))
	for i := range hs {
		out[i] = hs[i].version
	}
	return out
}

// next reads the batch of target's hints after cursor: up to BatchKeys
// hints to deliver, within BatchBytes unless the first alone is larger,
// and the hints met on the way that are to be dropped. A hint that would
// take the batch past BatchBytes is left for the next batch; the values
// of hints to drop are not copied.
func (m *Manager) next(target string, cursor []byte) (hintBatch, error) {
	var b hintBatch
	var cut int64
	if m.cfg.MaxAge > 0 {
		cut = m.now().Add(-m.cfg.MaxAge).UnixMilli()
	}
	err := m.cfg.Store.ScanHints(target, cursor, func(key []byte, r engine.Record, _ int64) bool {
		switch {
		case r.ChangedAt() < cut:
			b.taken++
			b.last = slices.Clone(key)
			b.stale = append(b.stale, droppedHint{b.last, r.Version})
			return len(b.stale) < m.cfg.BatchKeys
		case m.tooLarge(key, r):
			b.taken++
			b.last = slices.Clone(key)
			b.big = append(b.big, droppedHint{b.last, r.Version})
			b.bigSize = max(b.bigSize, len(key)+len(r.Value))
			return len(b.big) < m.cfg.BatchKeys
		}
		size := len(key) + r.EncodedLen()
		if len(b.keys) > 0 && b.bytes+size > m.cfg.BatchBytes {
			return false
		}
		b.taken++
		b.last = slices.Clone(key)
		r.Value = slices.Clone(r.Value)
		b.keys = append(b.keys, b.last)
		b.recs = append(b.recs, r)
		b.versions = append(b.versions, r.Version)
		b.bytes += size
		return len(b.keys) < m.cfg.BatchKeys && b.bytes < m.cfg.BatchBytes
	})
	return b, err
}
