package nemesis

import (
	"strconv"
	"strings"
	"time"
)

// Kind is the command an operation sent.
type Kind string

// The commands the workload sends.
const (
	Set Kind = "SET"
	Del Kind = "DEL"
	Get Kind = "GET"
)

// Variants are the commands sent for a Kind, in turn, each with the
// Kind's effect on the key in the way the workload uses it: GETSET writes
// the value (and answers the old one); RESTORE ... REPLACE writes it from
// its DUMP payload; COPY ... REPLACE, and BITOP OR of that one key, write
// it from another key (cp:<key>) the client SET to it just before;
// INCRBYFLOAT by 1 writes a register's next value once its writer's
// previous write was acknowledged; SETRANGE at offset 0, and BITFIELD
// setting each byte from offset 0, write it over a register's previous
// value, never longer than it (a register's values grow: "9", "10", ...);
// MSETNX writes an insert's value, never written before; UNLINK and
// GETDEL delete; RENAME and RENAMENX to another key (gone:<key>) and MOVE
// to another database (MoveDB) take the key away. So the checker's model
// of SET and DEL checks them all.
// FLUSHDB deletes too: one deleter works alone in a database of its own
// (WorkloadConfig.FlushDB), its key the only one there, and flushes it.
var Variants = map[Kind][]string{
	Set: {"SET", "GETSET", "SETRANGE", "MSETNX", "RESTORE", "BITFIELD", "COPY", "BITOP", "INCRBYFLOAT"},
	Del: {"DEL", "UNLINK", "GETDEL", "RENAME", "RENAMENX", "MOVE"},
}

// MoveDB is the database MOVE takes deleted keys to.
const MoveDB = 15

// KeyDB returns the database of a workload key: the number after its
// last '@', 0 for a key without one. A client writing in database n > 0
// names its keys <prefix><client>:<seq>@n.
func KeyDB(key string) int {
	i := strings.LastIndexByte(key, '@')
	if i < 0 {
		return 0
	}
	db, err := strconv.Atoi(key[i+1:])
	if err != nil {
		return 0
	}
	return db
}

// Key classes. The workload names every key with one of these prefixes and
// the checker reads a key's role from its name, so a history is
// self-describing.
const (
	// InsertPrefix keys are SET once, never deleted, and read.
	InsertPrefix = "ins:"
	// RegisterPrefix keys have one writer client that SETs "1", "2", ...
	// in order, one write at a time.
	RegisterPrefix = "reg:"
	// DeletePrefix keys are SET once, then DELed, and never written again.
	DeletePrefix = "del:"
)

type keyClass int

const (
	classOther keyClass = iota
	classInsert
	classRegister
	classDelete
)

func classOf(key string) keyClass {
	switch {
	case strings.HasPrefix(key, InsertPrefix):
		return classInsert
	case strings.HasPrefix(key, RegisterPrefix):
		return classRegister
	case strings.HasPrefix(key, DeletePrefix):
		return classDelete
	}
	return classOther
}

// Op is one client operation as the client saw it.
type Op struct {
	// Client and Node are the indexes of the client that sent it and of
	// the node it was sent to.
	Client int  `json:"client"`
	Node   int  `json:"node"`
	Kind   Kind `json:"kind"`
	// Cmd is the command sent when it is not Kind itself but has Kind's
	// effect on the key (a Cmd of the Kind's Variants).
	Cmd string `json:"cmd,omitempty"`
	Key string `json:"key"`
	// Value is what a SET wrote or a successful GET returned; Nil is set
	// for a GET that found nothing.
	Value string `json:"value,omitempty"`
	Nil   bool   `json:"nil,omitempty"`
	// Start and End are the invocation and the completion, as offsets
	// from the start of the scenario on the checker's monotonic clock.
	Start time.Duration `json:"start_ns"`
	End   time.Duration `json:"end_ns"`
	// Err is what went wrong ("" on success): an error reply, "timeout",
	// a refused connection. A write with an error is indeterminate.
	Err string `json:"err,omitempty"`
}

// OK reports whether the operation succeeded (a GET that found nothing
// succeeded).
func (o Op) OK() bool { return o.Err == "" }

func (o Op) isWrite() bool { return o.Kind == Set || o.Kind == Del }

// History is what the clients saw during one scenario.
type History struct {
	Ops []Op `json:"ops"`
	// FaultStart and FaultEnd bound the fault phase, from the fault's
	// injection to its heal. An operation belongs to the phase its Start
	// falls in: before, during, after.
	FaultStart time.Duration `json:"fault_start_ns"`
	FaultEnd   time.Duration `json:"fault_end_ns"`
}

// Phase is a part of a scenario.
type Phase int

// The phases, in order.
const (
	Before Phase = iota
	During
	After
	numPhases
)

func (p Phase) String() string {
	return [...]string{"before", "during", "after"}[p]
}

// phaseOf returns the phase of an invocation at t.
func (h *History) phaseOf(t time.Duration) Phase {
	switch {
	case t < h.FaultStart:
		return Before
	case t < h.FaultEnd:
		return During
	}
	return After
}

// Final is the cluster's state once the fault is healed, the hints are
// delivered and one repair round ran on every node.
type Final struct {
	// Reads is a quorum GET of every key the history wrote.
	Reads map[string]FinalRead `json:"reads"`
	// Replicas holds, for a sample of the acknowledged keys, what each of
	// the key's owners holds itself (RINGCACHE LOCALGET), in preference
	// order.
	Replicas map[string][]Replica `json:"replicas"`
	// BeforeRepair holds, for the sampled inserts, what each owner held
	// before the repair round (once no hint was pending), and W the write
	// quorum: every acknowledged insert must be on W of its owners by
	// then, by the writes, the hints and the streaming alone.
	BeforeRepair map[string][]Replica `json:"before_repair,omitempty"`
	W            int                  `json:"w,omitempty"`
	// OwnerViews holds, for every other member, the owners it lists for
	// each key of Replicas (RINGCACHE OWNERS): after the heal, every
	// member must list the same ones.
	OwnerViews map[string]map[string][]string `json:"owner_views,omitempty"`
	// Evict selects the eviction mode of the checks (the evict scenario):
	// a read of an insert or a register may find nothing, and such a key
	// may be absent at the end, if absent on every owner; a value read
	// must still be no older than the last write acknowledged before the
	// read, and a value present at the end the last acknowledged one (or
	// a later indeterminate one) on every owner. EvictedKeys sums INFO
	// evicted_keys over the members at the end (a restarted node counts
	// since its restart): 0 fails the scenario, which then tested
	// nothing. OwnersReadMs is the wall clock (Unix ms) once the owners
	// were read: no record may carry a version from after it. Rewrites
	// are the evicted keys written again at the end (Rewrite).
	Evict        bool               `json:"evict,omitempty"`
	EvictedKeys  int64              `json:"evicted_keys,omitempty"`
	OwnersReadMs int64              `json:"owners_read_ms,omitempty"`
	Rewrites     map[string]Rewrite `json:"rewrites,omitempty"`
	// Incomplete names every step that did not complete (hints still
	// pending, a repair that failed, a fault that had no effect): the
	// checks ran on a state that is not the one they are meant for.
	Incomplete []string `json:"incomplete,omitempty"`
}

// FinalRead is one key's final quorum GET.
type FinalRead struct {
	Value string `json:"value,omitempty"`
	Nil   bool   `json:"nil,omitempty"`
	Err   string `json:"err,omitempty"`
}

// Replica is one owner's own record of a key.
type Replica struct {
	Node      string `json:"node"`
	Held      bool   `json:"held"` // false: no record at all
	Value     string `json:"value,omitempty"`
	Tombstone bool   `json:"tombstone,omitempty"`
	// Version is the record's version, "wall-ms.logical.node-hex".
	Version string `json:"version,omitempty"`
	Err     string `json:"err,omitempty"`
}

// Rewrite is, in the eviction mode, an acknowledged insert or register
// absent at the end (evicted), SET again to Value once the nodes stopped
// evicting and then read back through another node: a write after an
// eviction must win over it, so the read must find Value.
type Rewrite struct {
	Value string `json:"value"`
	// Read is what the GET found; Nil that it found nothing.
	Read string `json:"read,omitempty"`
	Nil  bool   `json:"nil,omitempty"`
	// Err is the SET's or the GET's error.
	Err string `json:"err,omitempty"`
}
