package engine

// Stat is one named engine figure, for INFO and the metrics endpoint.
type Stat struct {
	Name  string
	Value float64
}

// Numbers lists the figures of s under stable snake_case names.
func (s Stats) Numbers() []Stat {
	failed := 0.0
	if s.Failed {
		failed = 1
	}
	return []Stat{
		{"live_records", float64(s.LiveRecords)},
		{"records_applied", float64(s.Applied)},
		{"records_stale", float64(s.Stale)},
		{"expired_reclaimed", float64(s.ExpiredReclaimed)},
		{"tombstones_purged", float64(s.TombstonesPurged)},
		{"floor_dropped", float64(s.FloorDropped)},
		{"commits", float64(s.Commits)},
		{"wal_syncs", float64(s.WALSyncs)},
		{"explicit_syncs", float64(s.ExplicitSyncs)},
		{"wal_bytes", float64(s.WALBytes)},
		{"disk_usage_bytes", float64(s.DiskUsageBytes)},
		{"memtable_bytes", float64(s.MemTableBytes)},
		{"flushes", float64(s.Flushes)},
		{"compactions", float64(s.Compactions)},
		{"read_amp", float64(s.ReadAmp)},
		{"block_cache_hits", float64(s.BlockCacheHits)},
		{"block_cache_misses", float64(s.BlockCacheMisses)},
		{"row_cache_hits", float64(s.RowCacheHits)},
		{"row_cache_misses", float64(s.RowCacheMisses)},
		{"row_cache_evictions", float64(s.RowCacheEvictions)},
		{"row_cache_entries", float64(s.RowCacheEntries)},
		{"row_cache_bytes", float64(s.RowCacheBytes)},
		{"presence_skips", float64(s.PresenceSkips)},
		{"presence_builds", float64(s.PresenceBuilds)},
		{"presence_bytes", float64(s.PresenceBytes)},
		{"hints_pending", float64(s.HintsPending)},
		{"hints_bytes", float64(s.HintsBytes)},
		{"write_failed", failed},
	}
}
