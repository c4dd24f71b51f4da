package engine

import (
	"sync/atomic"
	"time"
)

// counters are the engine's own monotonic counters.
type counters struct {
	applied       atomic.Uint64
	stale         atomic.Uint64
	expired       atomic.Uint64
	purged        atomic.Uint64
	commits       atomic.Uint64
	explicitSyncs atomic.Uint64
	evicted       atomic.Uint64
	floorDropped  atomic.Uint64
}

// Stats is a snapshot of engine counters and Pebble gauges.
type Stats struct {
	// LiveRecords is the live counter: stored non-tombstone records,
	// including expired ones not reclaimed yet (Count excludes those).
	LiveRecords int64
	// Applied counts records that replaced the stored one.
	Applied uint64
	// Stale counts records ignored because their version was not newer.
	Stale uint64
	// ExpiredReclaimed counts expired records turned into tombstones.
	ExpiredReclaimed uint64
	// TombstonesPurged counts tombstones physically deleted.
	TombstonesPurged uint64
	// UsedBytes is the live dataset's size (Engine.UsedBytes).
	UsedBytes int64
	// EvictedApplied counts live records replaced by an eviction's
	// tombstone, whichever node made the eviction.
	EvictedApplied uint64
	// FloorDropped counts records, tombstones included, dropped because
	// a raised flush floor (RaiseFloor: a FLUSHALL this node missed) was
	// newer than them.
	FloorDropped uint64
	// Commits counts Pebble batches committed by the engine.
	Commits uint64
	// WALSyncs counts fsyncs of WAL files, whoever asked for them.
	WALSyncs uint64
	// ExplicitSyncs counts WAL syncs requested by Sync, Close and the
	// FsyncEverySec syncer.
	ExplicitSyncs uint64
	// WALBytes is the number of bytes written to the WAL.
	WALBytes uint64
	// DiskUsageBytes is the space used by the store's files.
	DiskUsageBytes uint64
	// MemTableBytes is the memory held by memtables.
	MemTableBytes uint64
	// Flushes and Compactions count Pebble flushes and compactions.
	Flushes, Compactions int64
	// ReadAmp is the number of sorted runs a point read may consult.
	ReadAmp int
	// BlockCacheHits and BlockCacheMisses count block cache lookups.
	BlockCacheHits, BlockCacheMisses int64
	// RowCacheHits and RowCacheMisses count row cache lookups;
	// RowCacheEntries is the records it holds now and RowCacheBytes the
	// memory it takes (its allocated chunks and its index);
	// RowCacheEvictions counts entries it dropped to stay in budget.
	RowCacheHits, RowCacheMisses, RowCacheEvictions uint64
	RowCacheEntries, RowCacheBytes                  int64
	// PresenceSkips counts reads of keys the presence filter knew were not
	// stored (no Pebble read), PresenceBuilds the filters built from the
	// store, PresenceBytes the current filter's memory.
	PresenceSkips, PresenceBuilds uint64
	PresenceBytes                 int64
	// HintsPending is the number of stored hints, all targets together;
	// HintsBytes their stored size (Pebble keys plus values).
	HintsPending, HintsBytes int64
	// Failed reports that a write failed and writes are refused.
	Failed bool
}

// LiveRecords returns the live counter (Stats.LiveRecords) alone, without
// the cost of Pebble's metrics.
func (e *Engine) LiveRecords() int64 { return e.live.Load() }

// UsedBytes returns the size of the live dataset: RecordBytes summed over
// the stored records that are not tombstones (expired ones included until
// the reclaimer turns them into tombstones). It is kept as records change,
// rebuilt by Open's count, and costs no scan. Tombstones, hints and
// metadata are not part of it.
func (e *Engine) UsedBytes() int64 { return e.used.Load() }

// Stats returns a snapshot. After Close, or after a write failure that
// wedged Pebble (whose metrics need a mutex the failed commit still
// holds), only the engine's own counters are filled.
func (e *Engine) Stats() Stats {
	s := Stats{
		LiveRecords:      e.live.Load(),
		Applied:          e.counters.applied.Load(),
		Stale:            e.counters.stale.Load(),
		ExpiredReclaimed: e.counters.expired.Load(),
		TombstonesPurged: e.counters.purged.Load(),
		UsedBytes:        e.used.Load(),
		EvictedApplied:   e.counters.evicted.Load(),
		FloorDropped:     e.counters.floorDropped.Load(),
		Commits:          e.counters.commits.Load(),
		WALSyncs:         e.fs.syncs.Load(),
		ExplicitSyncs:    e.counters.explicitSyncs.Load(),
		HintsPending:     e.hints.count.Load(),
		HintsBytes:       e.hints.bytes.Load(),
		Failed:           e.Err() != nil,
	}
	if e.cache != nil {
		s.RowCacheHits, s.RowCacheMisses = e.cache.hits.Load(), e.cache.misses.Load()
		s.RowCacheEvictions = e.cache.evictions.Load()
		s.RowCacheEntries, s.RowCacheBytes = e.cache.stats()
	}
	if p := e.presence; p != nil {
		s.PresenceSkips, s.PresenceBuilds = p.skips.Load(), p.builds.Load()
		if f := p.cur.Load(); f != nil {
			s.PresenceBytes = f.bytes()
		}
	}
	if e.enter() != nil {
		return s
	}
	defer e.leave()
	if e.wedged.Load() {
		return s
	}
	m := e.db.Metrics()
	s.WALBytes = m.WAL.BytesWritten
	s.DiskUsageBytes = m.DiskSpaceUsage()
	s.MemTableBytes = m.MemTable.Size
	s.Flushes = m.Flush.Count
	s.Compactions = m.Compact.Count
	s.ReadAmp = m.ReadAmp()
	s.BlockCacheHits = m.BlockCache.Hits
	s.BlockCacheMisses = m.BlockCache.Misses
	return s
}

// TombstoneGrace returns how long tombstones are kept before they may be
// purged: the age past which a write may conflict with a forgotten delete.
func (e *Engine) TombstoneGrace() time.Duration { return e.cfg.TombstoneGrace }
