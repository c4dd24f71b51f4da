package handoff

import (
	"slices"
	"strings"
	"time"
)

// TargetStats describes the hints held for one target.
type TargetStats struct {
	Target string
	// Pending and Bytes are the hints stored now and their size.
	Pending, Bytes int64
	// OldestAge is the age of the oldest pending hint (0 if none).
	OldestAge time.Duration
	// Delivered and Dropped count hints since this node started:
	// acknowledged by their target (or its successors), and refused or
	// discarded.
	Delivered, Dropped int64
	// TooLarge counts the hints of Dropped that were refused or discarded
	// because no replica frame could carry them (Config.MaxRecordBytes).
	TooLarge int64
	// DownSince is when the target was first seen down (zero if it is
	// not considered down).
	DownSince time.Time
	// Replaying reports a replay in progress.
	Replaying bool
}

// Stats returns one entry per target with pending hints, a down-since
// time or counters, sorted by target.
func (m *Manager) Stats() []TargetStats {
	now := m.now()
	byID := map[string]*TargetStats{}
	get := func(id string) *TargetStats {
		if s, ok := byID[id]; ok {
			return s
		}
		s := &TargetStats{Target: id}
		byID[id] = s
		return s
	}
	for _, q := range m.cfg.Store.HintQueues() {
		s := get(q.Target)
		s.Pending, s.Bytes = q.Count, q.Bytes
		if q.OldestMs > 0 {
			s.OldestAge = max(now.Sub(time.UnixMilli(q.OldestMs)), 0)
		}
	}
	m.mu.Lock()
	for id, since := range m.mu.down {
		get(id).DownSince = time.UnixMilli(since)
	}
	for id, n := range m.mu.delivered {
		get(id).Delivered = n
	}
	for id, n := range m.mu.dropped {
		get(id).Dropped = n
	}
	for id, n := range m.mu.tooLarge {
		get(id).TooLarge = n
	}
	for id := range m.mu.replaying {
		get(id).Replaying = true
	}
	m.mu.Unlock()
	out := make([]TargetStats, 0, len(byID))
	for _, s := range byID {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b TargetStats) int { return strings.Compare(a.Target, b.Target) })
	return out
}

// Totals sums Stats over every target.
func Totals(stats []TargetStats) (t TargetStats) {
	for _, s := range stats {
		t.Pending += s.Pending
		t.Bytes += s.Bytes
		t.Delivered += s.Delivered
		t.Dropped += s.Dropped
		t.TooLarge += s.TooLarge
		t.OldestAge = max(t.OldestAge, s.OldestAge)
	}
	return t
}
