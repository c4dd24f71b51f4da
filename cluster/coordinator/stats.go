package coordinator

import (
	"strconv"
	"sync/atomic"

	"github.com/ringcache/ringcache/server/store"
)

// counters are the coordinator's running totals.
type counters struct {
	reads, writes                           atomic.Int64
	readQuorumFailures, writeQuorumFailures atomic.Int64
	repairsSync, repairsBackground          atomic.Int64
	repairFailures, repairsDropped          atomic.Int64
	fallbacks, hintsHeld                    atomic.Int64
	speculations                            atomic.Int64
	restamps, restampsExhausted             atomic.Int64
	staleRetries                            atomic.Int64
	readsBehind                             atomic.Int64
}

// Stats is a snapshot of the coordinator's counters since New.
type Stats struct {
	// Reads and Writes count Get and Put requests.
	Reads, Writes int64
	// ReadQuorumFailures and WriteQuorumFailures count requests answered
	// with NOQUORUM.
	ReadQuorumFailures, WriteQuorumFailures int64
	// ReadRepairsSync counts records repaired before a read's reply;
	// ReadRepairsBackground those repaired after it (late repliers).
	ReadRepairsSync, ReadRepairsBackground int64
	// ReadRepairFailures counts repair batches a replica did not
	// acknowledge in time.
	ReadRepairFailures int64
	// ReadRepairsDropped counts late repairs skipped because every
	// background repair slot was busy.
	ReadRepairsDropped int64
	// Fallbacks counts substitute calls made after an owner's write call
	// failed mid-request.
	Fallbacks int64
	// HintsHeld counts records this coordinator kept as hints because an
	// owner's write call failed with no substitute to take it.
	HintsHeld int64
	// ReadSpeculations counts reads that asked their other replicas
	// because the first ones had not answered within ReadSpeculation.
	ReadSpeculations int64
	// Restamps counts write rounds stamped again because a replica held a
	// newer version of a key; RestampsExhausted counts writes that were
	// still beaten after maxRestamps of them (by concurrent writes) and
	// were acknowledged as ordered before those.
	Restamps, RestampsExhausted int64
	// StaleRetries counts requests planned again because a replica knew
	// a later layout epoch (a topology operation moved on).
	StaleRetries int64
	// ReadsBehind counts read answers from replicas that were catching
	// up, which counted toward no quorum.
	ReadsBehind int64
}

// Stats returns the current counters.
func (c *Coordinator) Stats() Stats {
	s := &c.stats
	return Stats{
		Reads:                 s.reads.Load(),
		Writes:                s.writes.Load(),
		ReadQuorumFailures:    s.readQuorumFailures.Load(),
		WriteQuorumFailures:   s.writeQuorumFailures.Load(),
		ReadRepairsSync:       s.repairsSync.Load(),
		ReadRepairsBackground: s.repairsBackground.Load(),
		ReadRepairFailures:    s.repairFailures.Load(),
		ReadRepairsDropped:    s.repairsDropped.Load(),
		Fallbacks:             s.fallbacks.Load(),
		HintsHeld:             s.hintsHeld.Load(),
		ReadSpeculations:      s.speculations.Load(),
		Restamps:              s.restamps.Load(),
		StaleRetries:          s.staleRetries.Load(),
		RestampsExhausted:     s.restampsExhausted.Load(),
		ReadsBehind:           s.readsBehind.Load(),
	}
}

// InfoSections implements server.InfoProvider: the coordinator's
// "Cluster" section (InfoFields). A Node builds the whole INFO around it.
func (c *Coordinator) InfoSections() []store.InfoSection {
	return []store.InfoSection{{Name: "Cluster", Fields: c.InfoFields()}}
}

// InfoFields are the coordinator's INFO figures: its configuration and
// Stats. cluster_enabled is 0 so that cluster-aware clients treat the
// node as a standalone server: any node accepts any key.
func (c *Coordinator) InfoFields() [][2]string {
	s := c.Stats()
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	fields := [][2]string{
		{"cluster_enabled", "0"},
		{"ringcache_node_id", c.cfg.Self},
		{"ringcache_replicas", strconv.Itoa(c.cfg.N)},
		{"ringcache_read_quorum", strconv.Itoa(c.cfg.R)},
		{"ringcache_write_quorum", strconv.Itoa(c.cfg.W)},
		{"ringcache_members", strconv.Itoa(c.members())},
		{"ringcache_reads", i(s.Reads)},
		{"ringcache_writes", i(s.Writes)},
		{"ringcache_read_quorum_failures", i(s.ReadQuorumFailures)},
		{"ringcache_write_quorum_failures", i(s.WriteQuorumFailures)},
		{"ringcache_read_repairs_sync", i(s.ReadRepairsSync)},
		{"ringcache_read_repairs_background", i(s.ReadRepairsBackground)},
		{"ringcache_read_repair_failures", i(s.ReadRepairFailures)},
		{"ringcache_read_repairs_dropped", i(s.ReadRepairsDropped)},
		{"ringcache_sloppy_fallbacks", i(s.Fallbacks)},
		{"ringcache_hints_held_by_coordinator", i(s.HintsHeld)},
		{"ringcache_read_speculations", i(s.ReadSpeculations)},
		{"ringcache_write_restamps", i(s.Restamps)},
		{"ringcache_stale_epoch_retries", i(s.StaleRetries)},
		{"ringcache_write_restamps_exhausted", i(s.RestampsExhausted)},
		{"ringcache_read_answers_behind", i(s.ReadsBehind)},
	}
	return fields
}

// members counts the ring's members (0 before the first topology).
func (c *Coordinator) members() int {
	if t := c.cfg.Topology.Load(); t != nil {
		return len(t.IDs())
	}
	return 0
}
