package handoff

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ringcache/ringcache/engine"
)

// loop replays queues on Wake and every RetryInterval until Close.
func (m *Manager) loop() {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.RetryInterval)
	defer t.Stop()
	m.passAll()
	for {
		select {
		case <-m.life.Done():
			return
		case target := <-m.wake:
			m.pass(target, true)
		case <-t.C:
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
// it does not.
func (m *Manager) retrySoon(target string) {
	m.mu.Lock()
	n := m.mu.retries[target]
	m.mu.retries[target] = n + 1
	m.mu.Unlock()
	delay := min(100*time.Millisecond<<min(n, 4), time.Second, m.cfg.RetryInterval)
	time.AfterFunc(delay, func() {
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
		if b, err = m.next(target, cursor); err != nil || (len(b.keys) == 0 && len(b.stale) == 0) {
			break
		}
		if len(b.stale) > 0 {
			if err = m.dropStale(target, b); err != nil {
				break
			}
			if len(b.keys) == 0 {
				cursor = b.last
				continue
			}
		}
		if err = m.limiter.WaitN(m.life, min(b.bytes, m.cfg.BatchBytes)); err != nil {
			break
		}
		ctx, cancel := context.WithTimeout(m.life, m.cfg.Timeout)
		if st == Gone {
			err = m.cfg.Cluster.Handover(ctx, b.keys, b.recs)
		} else {
			err = m.cfg.Cluster.Deliver(ctx, target, b.keys, b.recs)
		}
		cancel()
		if err != nil {
			break
		}
		if _, err = m.cfg.Store.DeleteHints(target, b.keys, b.versions); err != nil {
			break
		}
		delivered += int64(len(b.keys))
		m.mu.Lock()
		m.mu.delivered[target] += int64(len(b.keys))
		m.mu.Unlock()
		cursor = b.keys[len(b.keys)-1]
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

// hintBatch is one delivery batch, copied out of the store.
type hintBatch struct {
	keys     [][]byte
	recs     []engine.Record
	versions []engine.Version
	bytes    int
	// stale and staleVersions are hints older than MaxAge, to drop.
	stale         [][]byte
	staleVersions []engine.Version
	// last is the last key scanned, stale or not: the next cursor.
	last []byte
}

// dropStale deletes a batch's hints that are too old to replay and
// counts them as dropped.
func (m *Manager) dropStale(target string, b hintBatch) error {
	n, err := m.cfg.Store.DeleteHints(target, b.stale, b.staleVersions)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.mu.dropped[target] += int64(n)
	m.mu.Unlock()
	m.log.Warn("handoff: hints older than the tombstone grace dropped instead of replayed; anti-entropy repairs their keys",
		"target", target, "hints", n)
	return nil
}

// next reads the batch of target's hints after cursor.
func (m *Manager) next(target string, cursor []byte) (hintBatch, error) {
	var b hintBatch
	var cut int64
	if m.cfg.MaxAge > 0 {
		cut = m.now().Add(-m.cfg.MaxAge).UnixMilli()
	}
	err := m.cfg.Store.ScanHints(target, cursor, func(key []byte, r engine.Record, _ int64) bool {
		b.last = slices.Clone(key)
		if r.Version.Wall < cut {
			b.stale = append(b.stale, b.last)
			b.staleVersions = append(b.staleVersions, r.Version)
			return len(b.stale) < m.cfg.BatchKeys
		}
		r.Value = slices.Clone(r.Value)
		b.keys = append(b.keys, b.last)
		b.recs = append(b.recs, r)
		b.versions = append(b.versions, r.Version)
		b.bytes += len(key) + r.EncodedLen()
		return len(b.keys) < m.cfg.BatchKeys && b.bytes < m.cfg.BatchBytes
	})
	return b, err
}
