package nemesis

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
)

// ErrInvalidConfig reports a Config that fails Validate.
var ErrInvalidConfig = errors.New("nemesis: invalid config")

// Config configures Run. Start from DefaultConfig (the full form) or
// ShortConfig (the CI form).
type Config struct {
	// RingcacheBin is the node binary. Empty: Run builds ./cmd/ringcache
	// from SourceDir with go build. Either way the binary is copied into
	// the suite's directory, where every node can execute it.
	RingcacheBin string
	// SourceDir is the module root the binary is built from. Default ".".
	SourceDir string
	// Scenarios to run, in order. Default AllScenarios.
	Scenarios []string
	// Keep keeps every scenario's directory (data, logs, history); by
	// default only a failed scenario's is kept.
	Keep bool
	// TempDir is where the suite's directory is created; "" is the
	// system's temporary directory. The partitioned node runs as uid
	// 65534, which must be able to reach it.
	TempDir string
	// Nodes is the cluster size. Default 5.
	Nodes int
	// NodeArgs are passed to every node after the addresses, the node id,
	// the seed and the data directory. Default N=3, R=W=2, anti-entropy
	// every 10s.
	NodeArgs []string
	// Warmup is the workload alone before the fault; After the workload
	// after the heal. Defaults 20s and 20s.
	Warmup, After time.Duration
	// Outage is how long a killed node stays down, a paused node paused,
	// and how long the none scenario's (empty) fault phase lasts. Default
	// 15s.
	Outage time.Duration
	// Partition is how long the partition lasts. Default 20s.
	Partition time.Duration
	// OpTimeout bounds a topology operation (a join, a leave, a removal)
	// from its start until every member reports it done. Default 2m.
	OpTimeout time.Duration
	// SlowStreamRate is the --stream-rate of the joining node in the
	// scenarios that strike in the middle of its streaming: slow enough
	// that the streaming of the warm-up's keys lasts several seconds.
	// Default "64KB".
	SlowStreamRate string
	// Workload shapes the clients.
	Workload WorkloadConfig
	// StartTimeout bounds a node's start until it answers PING; JoinTimeout
	// the wait until every node lists every node alive; StopTimeout a
	// SIGTERM before SIGKILL; HintsTimeout the wait until no hint is
	// pending; RepairTimeout one RINGCACHE REPAIR. Defaults 30s, 60s, 20s,
	// 60s, 2m.
	StartTimeout, JoinTimeout, StopTimeout, HintsTimeout, RepairTimeout time.Duration
	// OwnerSample bounds the acknowledged keys whose owners are read with
	// RINGCACHE LOCALGET at the end, a third each from inserts, registers
	// and deleted keys. Default 3000. The evict scenario reads every
	// acknowledged key's owners.
	OwnerSample int
	// Out receives one line per scenario as it ends; Log progress lines
	// and the examples of a failed scenario. nil: nothing.
	Out, Log io.Writer
}

// WorkloadConfig shapes the recorded workload: 12 clients by default,
// about 1,700 operations per second in all.
type WorkloadConfig struct {
	// Clients per role. Defaults 4 inserters, 3 register writers, 2
	// deleters, 3 readers.
	Inserters, RegisterWriters, Deleters, Readers int
	// InsertRate is each inserter's SETs per second. Default 100.
	InsertRate float64
	// BurstRate is each register writer's registers per second; it writes
	// each one Burst times back to back, each SET through the next node,
	// then reads it back through a third. Defaults 20 and 4.
	BurstRate float64
	Burst     int
	// DeleteRate is each deleter's SET-DEL-GET cycles per second. Default
	// 40.
	DeleteRate float64
	// ReadRate is each reader's GETs per second. Default 250.
	ReadRate float64
	// ValueSize is the size of insert and delete values. Default 32.
	ValueSize int
	// DialTimeout and Timeout are the clients' connect and read/write
	// timeouts, a little above the nodes' 1s request timeout. Defaults 1s
	// and 2s.
	DialTimeout, Timeout time.Duration
	// Seed makes the clients' choices (keys read, commands sent) reproducible.
	// Default 1.
	Seed uint64
	// DB is the database the odd-numbered clients write in (0: they
	// write in database 0 as the others do). Default 3.
	DB int
	// FlushDB is the database of the last deleter, which works there
	// alone and deletes with FLUSHDB (0: none does). Default 9.
	FlushDB int

	// evict is set for the evict scenario: the register writers send no
	// INCRBYFLOAT, whose value builds on the previous one, which an
	// eviction may have taken (the increment of a missing key is 1, a
	// value older than the one acknowledged).
	evict bool
}

// The scenarios, in their default order.
const (
	ScenarioNone      = "none"
	ScenarioKillOne   = "kill9-one"
	ScenarioKillTwo   = "kill9-two"
	ScenarioPause     = "pause"
	ScenarioRolling   = "rolling"
	ScenarioDiskLoss  = "disk-loss"
	ScenarioPartition = "partition"
	// The membership scenarios: the fault is a topology operation, or
	// strikes in the middle of one (see lifecycle.go).
	ScenarioJoin        = "join"
	ScenarioJoinTwo     = "join-two"
	ScenarioJoinDown    = "join-down"
	ScenarioLeave       = "leave"
	ScenarioRemove      = "remove"
	ScenarioKillSource  = "kill-source"
	ScenarioKillDest    = "kill-dest"
	ScenarioKillDriver  = "kill-driver"
	ScenarioPartitionOp = "partition-op"
	// ScenarioEvict is kill9-one on a cluster whose nodes evict
	// (--maxmemory EvictBudget, allkeys-lru), checked in the eviction
	// mode (see Final.Evict).
	ScenarioEvict = "evict"
)

// AllScenarios lists every scenario in its default order.
var AllScenarios = []string{ScenarioNone, ScenarioKillOne, ScenarioKillTwo, ScenarioPause,
	ScenarioRolling, ScenarioDiskLoss, ScenarioPartition,
	ScenarioJoin, ScenarioJoinTwo, ScenarioJoinDown, ScenarioLeave, ScenarioRemove,
	ScenarioKillSource, ScenarioKillDest, ScenarioKillDriver, ScenarioPartitionOp, ScenarioEvict}

// DefaultConfig returns the full form: realistic durations, about 75 s of
// workload per scenario.
func DefaultConfig() Config {
	return Config{
		SourceDir: ".",
		Scenarios: slices.Clone(AllScenarios),
		Nodes:     5,
		NodeArgs: []string{"--replicas", "3", "--read-quorum", "2", "--write-quorum", "2",
			"--anti-entropy-interval", "10s"},
		Warmup:    20 * time.Second,
		After:     20 * time.Second,
		Outage:    15 * time.Second,
		Partition: 20 * time.Second,
		OpTimeout: 2 * time.Minute,
		// About 10 s for the share of the warm-up's keys a fifth node takes.
		SlowStreamRate: "64KB",
		Workload: WorkloadConfig{
			Inserters: 4, RegisterWriters: 3, Deleters: 2, Readers: 3,
			InsertRate: 100, BurstRate: 20, Burst: 4, DeleteRate: 40, ReadRate: 250,
			ValueSize:   32,
			DialTimeout: time.Second, Timeout: 2 * time.Second,
			Seed: 1, DB: 3, FlushDB: 9,
		},
		StartTimeout:  30 * time.Second,
		JoinTimeout:   60 * time.Second,
		StopTimeout:   20 * time.Second,
		HintsTimeout:  60 * time.Second,
		RepairTimeout: 2 * time.Minute,
		OwnerSample:   3000,
	}
}

// ShortConfig returns the CI form: every scenario with shorter phases.
func ShortConfig() Config {
	c := DefaultConfig()
	c.Warmup, c.After = 5*time.Second, 6*time.Second
	c.Outage, c.Partition = 8*time.Second, 10*time.Second
	// Above the nodes' 30s (+10% jitter) rejoin of their seed, which a
	// restarted seed waits for.
	c.JoinTimeout = 45 * time.Second
	c.OwnerSample = 1500
	return c
}

// writeQuorum returns the nodes' write quorum: NodeArgs' --write-quorum,
// or the nodes' default, 2.
func (c Config) writeQuorum() int { return c.nodeArg("--write-quorum", 2) }

// nodeArg returns the integer value of NodeArgs' flag name, or def.
func (c Config) nodeArg(name string, def int) int {
	n := def
	for k := 0; k+1 < len(c.NodeArgs); k++ {
		if c.NodeArgs[k] == name {
			if v, err := strconv.Atoi(c.NodeArgs[k+1]); err == nil {
				n = v
			}
		}
	}
	return n
}

// Eviction budget: the bytes a record counts in a node's dataset on top
// of its key and value (engine.RecordOverhead), the length of a workload
// key ("ins:3:1234@3"), and the least budget given.
const (
	recordOverhead = 64
	keyLen         = 12
	minEvictBudget = 16 << 10
)

// EvictBudget returns the evict scenario's --maxmemory, per node: a third
// of what the inserts and the registers add to one node's dataset during
// the warm-up (each record on N of the nodes), so that the dataset
// outgrows it about three times before the fault, and about ten times in
// the whole scenario. The keys the workload writes besides (the COPY and
// BITOP sources, the renamed deleted keys) only make it sooner. Short
// form: about 48 KB; full form: about 190 KB.
func (c Config) EvictBudget() int64 {
	w := c.Workload
	insert := float64(keyLen + max(w.ValueSize, keyLen) + recordOverhead)
	register := float64(keyLen + 2 + recordOverhead)
	perSec := float64(w.Inserters)*w.InsertRate*insert + float64(w.RegisterWriters)*w.BurstRate*register
	perNode := perSec * float64(c.nodeArg("--replicas", 3)) / float64(max(c.Nodes, 1))
	return max(int64(perNode*c.Warmup.Seconds()/3), minEvictBudget)
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	w := c.Workload
	switch {
	case c.Nodes < 4:
		return bad("%d nodes, need at least 4 (N=3 and a substitute)", c.Nodes)
	case len(c.Scenarios) == 0:
		return bad("no scenario")
	case c.Warmup <= 0 || c.After <= 0 || c.Outage <= 0 || c.Partition <= 0:
		return bad("warm-up %v, after %v, outage %v and partition %v must be positive", c.Warmup, c.After, c.Outage, c.Partition)
	case c.StartTimeout <= 0 || c.JoinTimeout <= 0 || c.StopTimeout <= 0 || c.HintsTimeout <= 0 || c.RepairTimeout <= 0 || c.OpTimeout <= 0:
		return bad("every timeout must be positive")
	case c.OwnerSample < 0:
		return bad("owner sample %d < 0", c.OwnerSample)
	case w.Inserters < 1 || w.RegisterWriters < 1 || w.Deleters < 1 || w.Readers < 1:
		return bad("every role needs a client: %d inserters, %d register writers, %d deleters, %d readers",
			w.Inserters, w.RegisterWriters, w.Deleters, w.Readers)
	case w.InsertRate <= 0 || w.BurstRate <= 0 || w.DeleteRate <= 0 || w.ReadRate <= 0:
		return bad("every rate must be positive")
	case w.Burst < 2:
		return bad("burst %d < 2: a register needs two writes in a row", w.Burst)
	case w.ValueSize < 1 || w.DialTimeout <= 0 || w.Timeout <= 0:
		return bad("value size, dial timeout and timeout must be positive")
	case w.DB < 0 || w.DB >= MoveDB || w.FlushDB < 0 || w.FlushDB >= MoveDB:
		return bad("databases %d and %d must be in [0, %d): %d is MOVE's", w.DB, w.FlushDB, MoveDB, MoveDB)
	case w.FlushDB != 0 && (w.FlushDB == w.DB || w.Deleters < 2):
		return bad("the FLUSHDB database %d must be another than %d, and needs a second deleter (%d)", w.FlushDB, w.DB, w.Deleters)
	}
	for _, s := range c.Scenarios {
		if !slices.Contains(AllScenarios, s) {
			return bad("unknown scenario %q (known: %v)", s, AllScenarios)
		}
	}
	return nil
}
