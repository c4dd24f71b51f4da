package nemesis

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Result is what Check found in one scenario. Read counts are per read,
// key counts per key.
type Result struct {
	Ops         int `json:"ops"`
	AckedWrites int `json:"acked_writes"`
	// Lost counts acknowledged inserts whose final read found nothing or
	// another value.
	Lost int `json:"lost"`
	// Discarded counts registers whose final value is older than their
	// last acknowledged write, or nil. The value of a later write that
	// failed (indeterminate) is allowed.
	Discarded int `json:"discarded"`
	// StaleReads counts register reads that returned a value older than
	// a write acknowledged before the read was invoked: [0] reads invoked
	// during the fault phase, [1] outside it.
	StaleReads [2]int `json:"stale_reads"`
	// UndoneDeletes counts keys whose acknowledged DEL came undone: a
	// read invoked after the acknowledgement, or the final read, returned
	// a value (unless the key was written again after the DEL, which the
	// workload never does, or the DEL is a FLUSHDB and no SET of the key
	// was acknowledged: see deleted).
	UndoneDeletes int `json:"undone_deletes"`
	// NilReads counts reads of an insert or a register, invoked after a
	// SET of the key was acknowledged, that found nothing, per phase.
	NilReads [numPhases]int `json:"nil_reads"`
	// NotOnOwners counts the sampled acknowledged keys, of OwnersChecked,
	// that some owner does not hold after the repair round: an insert's
	// value, a register's final value, a deleted key's tombstone (or, on
	// every owner, nothing: a DEL that found nothing need not write).
	NotOnOwners   int `json:"not_on_owners"`
	OwnersChecked int `json:"owners_checked"`
	// UnderReplicated counts the sampled acknowledged inserts held by
	// fewer than W of their owners before the repair round
	// (Final.BeforeRepair).
	UnderReplicated int `json:"under_replicated,omitempty"`
	// SplitOwners counts the sampled keys for which some member lists
	// other owners than the first node does (Final.OwnerViews): the
	// members disagree on ownership after the heal.
	SplitOwners int `json:"split_owners,omitempty"`
	// BadValues counts reads, the final ones included, that returned a
	// value no client had started to write to the key by then.
	BadValues int `json:"bad_values"`
	// Evicted is set in the eviction mode (Final.Evict): what eviction
	// allows, reported and never a failure.
	Evicted *Evicted `json:"evicted,omitempty"`
	// FutureVersions counts, in the eviction mode, the sampled keys some
	// owner of which holds a record whose version is later than the wall
	// clock once the owners were read (Final.OwnersReadMs): the nodes
	// share the checker's clock, and an eviction's tombstone carries the
	// least version above the evicted one, no version of its own.
	FutureVersions int `json:"future_versions,omitempty"`
	// RewritesLost counts, in the eviction mode, the evicted keys written
	// again at the end whose read back did not find that write
	// (Final.Rewrites): an eviction that won over a later write.
	RewritesLost int `json:"rewrites_lost,omitempty"`
	// FinalErrors counts keys whose final read, or an owner's LOCALGET,
	// failed or is missing: keys the checks could not judge.
	FinalErrors int `json:"final_errors"`
	// Incomplete is Final.Incomplete, plus a note when no write was
	// acknowledged at all (nothing was checked).
	Incomplete []string `json:"incomplete,omitempty"`
	// Writes and Reads are the successful operations of each phase, by
	// invocation time.
	Writes [numPhases]Ratio `json:"writes"`
	Reads  [numPhases]Ratio `json:"reads"`
	// Examples describe the first violations of each kind.
	Examples []string `json:"examples,omitempty"`
}

// Evicted is what the eviction mode allows: in the other scenarios Reads
// would be NilReads, and Keys Lost, Discarded or NotOnOwners.
type Evicted struct {
	// Reads counts reads of an insert or a register, invoked after a SET
	// of the key was acknowledged, that found nothing, per phase.
	Reads [numPhases]int `json:"reads"`
	// Keys counts acknowledged inserts and registers absent at the end:
	// the final read found nothing, and no owner holds a value (owners
	// read for every acknowledged key in this mode).
	Keys int `json:"keys"`
	// ByNodes is Final.EvictedKeys: INFO evicted_keys summed over the
	// members at the end. 0 makes the scenario incomplete.
	ByNodes int64 `json:"by_nodes"`
}

// Pass reports whether the scenario found no violation and every step
// completed.
func (r Result) Pass() bool {
	return r.Lost == 0 && r.Discarded == 0 && r.StaleReads == [2]int{} && r.UndoneDeletes == 0 &&
		r.NilReads == [numPhases]int{} && r.NotOnOwners == 0 && r.UnderReplicated == 0 && r.SplitOwners == 0 && r.BadValues == 0 &&
		r.FutureVersions == 0 && r.RewritesLost == 0 && r.FinalErrors == 0 && len(r.Incomplete) == 0
}

// Ratio is OK successes out of All.
type Ratio struct {
	OK  int `json:"ok"`
	All int `json:"all"`
}

func (r *Ratio) add(ok bool) {
	r.All++
	if ok {
		r.OK++
	}
}

// String is the success percentage rounded down to one decimal, so that
// "100.0" means no failure at all; "-" for no operation.
func (r Ratio) String() string {
	if r.All == 0 {
		return "-"
	}
	return strconv.FormatFloat(math.Floor(1000*float64(r.OK)/float64(r.All))/10, 'f', 1, 64)
}

// examplesPerKind bounds the examples of one kind of violation.
const examplesPerKind = 3

// Check compares a history with the final state. It does no I/O.
func Check(h History, f Final) Result {
	c := &checker{h: &h, f: &f, shown: map[string]int{}, evict: f.Evict}
	c.res.Ops = len(h.Ops)
	c.res.Incomplete = slices.Clone(f.Incomplete)
	if c.evict {
		c.res.Evicted = &Evicted{ByNodes: f.EvictedKeys}
		if f.EvictedKeys == 0 {
			c.res.Incomplete = append(c.res.Incomplete, "no key was evicted (INFO evicted_keys summed over the members is 0): the eviction was not tested")
		}
	}
	byKey := map[string][]Op{}
	for _, op := range h.Ops {
		p := h.phaseOf(op.Start)
		if op.isWrite() {
			c.res.Writes[p].add(op.OK())
			if op.OK() {
				c.res.AckedWrites++
			}
		} else {
			c.res.Reads[p].add(op.OK())
		}
		byKey[op.Key] = append(byKey[op.Key], op)
	}
	if c.res.AckedWrites == 0 {
		c.res.Incomplete = append(c.res.Incomplete, "no write was acknowledged: nothing was checked")
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys) // examples in a stable order
	for _, k := range keys {
		ops := byKey[k]
		slices.SortStableFunc(ops, func(a, b Op) int { return cmp.Compare(a.Start, b.Start) })
		switch classOf(k) {
		case classInsert:
			c.insert(k, ops)
		case classRegister:
			c.register(k, ops)
		case classDelete:
			c.deleted(k, ops)
		}
	}
	c.ownerViews()
	if c.evict {
		c.versions()
		c.rewrites()
	}
	return c.res
}

// futureSlack is how far a record's version may be past the wall clock
// when it was read: the nodes stamp with the checker's own clock.
const futureSlack = time.Second

// versions counts the sampled keys some owner of which holds a record
// stamped after the owners were read.
func (c *checker) versions() {
	if c.f.OwnersReadMs == 0 {
		return
	}
	limit := c.f.OwnersReadMs + futureSlack.Milliseconds()
	for _, k := range slices.Sorted(maps.Keys(c.f.Replicas)) {
		for _, r := range c.f.Replicas[k] {
			if !r.Held || r.Err != "" || r.Version == "" { // "": not read
				continue
			}
			wall, err := strconv.ParseInt(strings.SplitN(r.Version, ".", 2)[0], 10, 64)
			if err != nil {
				c.res.FinalErrors++
				c.example("final error", "LOCALGET %s on %s: version %q", k, r.Node, r.Version)
				break
			}
			if wall > limit {
				c.res.FutureVersions++
				c.example("future version", "%s on %s holds %s of version %s, %.1fs after the owners were read",
					k, r.Node, describeReplica(r), r.Version, float64(wall-c.f.OwnersReadMs)/1000)
				break
			}
		}
	}
}

// rewrites checks the evicted keys written again at the end.
func (c *checker) rewrites() {
	for _, k := range slices.Sorted(maps.Keys(c.f.Rewrites)) {
		w := c.f.Rewrites[k]
		switch {
		case w.Err != "":
			c.res.FinalErrors++
			c.example("final error", "writing evicted %s again: %s", k, w.Err)
		case w.Nil || w.Read != w.Value:
			c.res.RewritesLost++
			got := strconv.Quote(w.Read)
			if w.Nil {
				got = "nil"
			}
			c.example("rewrite lost", "evicted %s was SET to %q at the end, and then read %s", k, w.Value, got)
		}
	}
}

// ownerViews compares every member's owners of each sampled key with
// the first node's.
func (c *checker) ownerViews() {
	keys := make([]string, 0, len(c.f.Replicas))
	for k := range c.f.Replicas {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	ids := make([]string, 0, len(c.f.OwnerViews))
	for id := range c.f.OwnerViews {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, k := range keys {
		reps := c.f.Replicas[k]
		if slices.ContainsFunc(reps, func(r Replica) bool { return r.Node == "?" }) {
			continue // no owners read: counted as a final error already
		}
		want := make([]string, len(reps))
		for i, r := range reps {
			want[i] = r.Node
		}
	views: // one count per key
		for _, id := range ids {
			got, ok := c.f.OwnerViews[id][k]
			switch {
			case !ok:
				c.res.FinalErrors++
				c.example("final error", "RINGCACHE OWNERS %s on %s failed", k, id)
				break views
			case !slices.Equal(got, want):
				c.res.SplitOwners++
				c.example("split owners", "%s lists %v as the owners of %s, the first node %v", id, got, k, want)
				break views
			}
		}
	}
}

// checker is one Check in progress.
type checker struct {
	h     *History
	f     *Final
	res   Result
	shown map[string]int // examples given per kind
	evict bool           // the eviction mode: Final.Evict
}

// nilRead counts a read of an insert or a register, invoked after a SET
// of the key was acknowledged, that found nothing: a violation, but in
// the eviction mode. It reports whether it is one.
func (c *checker) nilRead(g Op) bool {
	p := c.h.phaseOf(g.Start)
	if c.evict {
		c.res.Evicted.Reads[p]++
		return false
	}
	c.res.NilReads[p]++
	return true
}

// absent checks, in the eviction mode, an acknowledged insert or
// register whose final read found nothing: no owner may hold a value
// (then it counts as evicted).
func (c *checker) absent(key string) {
	if c.owners(key, func(r Replica) bool { return !r.Held || r.Tombstone }, "absent (evicted), as its final read found nothing,") {
		c.res.Evicted.Keys++
	}
}

func (c *checker) example(kind, format string, args ...any) {
	if c.shown[kind] >= examplesPerKind {
		return
	}
	c.shown[kind]++
	c.res.Examples = append(c.res.Examples, kind+": "+fmt.Sprintf(format, args...))
}

// finalRead returns the key's final read, or false (counted, with an
// example) when it is missing or failed.
func (c *checker) finalRead(key string) (FinalRead, bool) {
	fr, ok := c.f.Reads[key]
	switch {
	case !ok:
		c.res.FinalErrors++
		c.example("final error", "%s was not read at the end", key)
		return fr, false
	case fr.Err != "":
		c.res.FinalErrors++
		c.example("final error", "final GET %s: %s", key, fr.Err)
		return fr, false
	}
	return fr, true
}

// owners checks the sampled key's owners with want, which reports
// whether a replica holds exactly what it must. It reports whether every
// owner does, or the key is not sampled.
func (c *checker) owners(key string, want func(Replica) bool, what string) bool {
	reps, ok := c.f.Replicas[key]
	if !ok {
		return true
	}
	c.res.OwnersChecked++
	if len(reps) == 0 {
		c.res.FinalErrors++
		c.example("final error", "RINGCACHE OWNERS %s listed no owner", key)
		return false
	}
	var missing []string
	for _, r := range reps {
		if r.Err != "" {
			c.res.FinalErrors++
			c.example("final error", "LOCALGET %s on %s: %s", key, r.Node, r.Err)
			return false
		}
		if !want(r) {
			missing = append(missing, fmt.Sprintf("%s has %s", r.Node, describeReplica(r)))
		}
	}
	if len(missing) > 0 {
		c.res.NotOnOwners++
		c.example("not on owners", "%s should be %s on every owner, but %v", key, what, missing)
		return false
	}
	return true
}

func describeReplica(r Replica) string {
	switch {
	case !r.Held:
		return "nothing"
	case r.Tombstone:
		return "a tombstone"
	}
	return strconv.Quote(r.Value)
}

// firstAcked returns the earliest acknowledged operation of kind among ops.
func firstAcked(ops []Op, kind Kind) (Op, bool) {
	var best Op
	found := false
	for _, op := range ops {
		if op.Kind == kind && op.OK() && (!found || op.End < best.End) {
			best, found = op, true
		}
	}
	return best, found
}

// written reports whether some SET among ops wrote v.
func written(ops []Op, v string) bool {
	for _, op := range ops {
		if op.Kind == Set && op.Value == v {
			return true
		}
	}
	return false
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

// insert checks a key SET once and never deleted.
func (c *checker) insert(key string, ops []Op) {
	set, acked := firstAcked(ops, Set)
	for _, g := range ops {
		if g.Kind != Get || !g.OK() {
			continue
		}
		switch {
		case !g.Nil && !written(ops, g.Value):
			c.res.BadValues++
			c.example("bad value", "GET %s via node %d at %s returned %q, never written", key, g.Node+1, secs(g.Start), g.Value)
		case g.Nil && acked && g.Start > set.End:
			if c.nilRead(g) {
				c.example("nil read", "GET %s via node %d at %s found nothing; its SET was acknowledged at %s",
					key, g.Node+1, secs(g.Start), secs(set.End))
			}
		}
	}
	if !acked {
		return
	}
	fr, ok := c.finalRead(key)
	switch {
	case !ok && c.evict:
		// Counted; whether the owners must hold the value or nothing
		// depends on the final read.
	case ok && fr.Nil && c.evict:
		c.absent(key)
	case ok && (fr.Nil || fr.Value != set.Value):
		c.res.Lost++
		c.example("lost", "%s (acknowledged at %s) reads %s at the end", key, secs(set.End), describeFinal(fr))
		c.owners(key, func(r Replica) bool { return r.Held && !r.Tombstone && r.Value == set.Value },
			strconv.Quote(set.Value))
	default:
		c.owners(key, func(r Replica) bool { return r.Held && !r.Tombstone && r.Value == set.Value },
			strconv.Quote(set.Value))
	}
	if reps, ok := c.f.BeforeRepair[key]; ok {
		held := 0
		for _, r := range reps {
			// In the eviction mode a tombstone of an insert, which no
			// client deletes, is its eviction, which replaced its value.
			if r.Held && ((!r.Tombstone && r.Value == set.Value) || (r.Tombstone && c.evict)) {
				held++
			}
		}
		if held < c.f.W && !slices.ContainsFunc(reps, func(r Replica) bool { return r.Err != "" }) {
			c.res.UnderReplicated++
			c.example("under-replicated", "%s (acknowledged at %s) was on %d of its owners before the repair, fewer than W=%d: %v",
				key, secs(set.End), held, c.f.W, reps)
		}
	}
}

func describeFinal(fr FinalRead) string {
	if fr.Nil {
		return "nil"
	}
	return strconv.Quote(fr.Value)
}

// register checks a single-writer register: its SETs write "1", "2", ...
// in order.
func (c *checker) register(key string, ops []Op) {
	// ackedBefore is the highest value acknowledged before t; startedBefore
	// the highest value whose SET was invoked before t.
	ackedBefore := func(t time.Duration) (n int, at time.Duration) {
		for _, op := range ops {
			if v, err := strconv.Atoi(op.Value); op.Kind == Set && op.OK() && op.End < t && err == nil && v > n {
				n, at = v, op.End
			}
		}
		return n, at
	}
	startedBefore := func(t time.Duration) int {
		n := 0
		for _, op := range ops {
			if v, err := strconv.Atoi(op.Value); op.Kind == Set && op.Start < t && err == nil {
				n = max(n, v)
			}
		}
		return n
	}
	for _, g := range ops {
		if g.Kind != Get || !g.OK() {
			continue
		}
		floor, at := ackedBefore(g.Start)
		if g.Nil {
			if floor > 0 && c.nilRead(g) {
				c.example("nil read", "GET %s via node %d at %s found nothing; %d was acknowledged at %s",
					key, g.Node+1, secs(g.Start), floor, secs(at))
			}
			continue
		}
		v, err := strconv.Atoi(g.Value)
		switch {
		case err != nil || v > startedBefore(g.End):
			c.res.BadValues++
			c.example("bad value", "GET %s via node %d at %s returned %q, not written by then", key, g.Node+1, secs(g.Start), g.Value)
		case v < floor:
			i := 1
			if c.h.phaseOf(g.Start) == During {
				i = 0
			}
			c.res.StaleReads[i]++
			c.example("stale read", "GET %s via node %d at %s returned %d; %d was acknowledged at %s",
				key, g.Node+1, secs(g.Start), v, floor, secs(at))
		}
	}
	last, at := ackedBefore(math.MaxInt64)
	if last == 0 {
		return
	}
	fr, ok := c.finalRead(key)
	if !ok {
		return
	}
	v, err := strconv.Atoi(fr.Value)
	switch {
	case fr.Nil && c.evict:
		c.absent(key)
		return
	case fr.Nil || (err == nil && v < last):
		c.res.Discarded++
		c.example("discarded", "%s reads %s at the end; %d was acknowledged at %s", key, describeFinal(fr), last, secs(at))
		return
	case err != nil || v > startedBefore(math.MaxInt64):
		c.res.BadValues++
		c.example("bad value", "%s reads %q at the end, never written", key, fr.Value)
		return
	}
	c.owners(key, func(r Replica) bool { return r.Held && !r.Tombstone && r.Value == fr.Value },
		strconv.Quote(fr.Value))
}

// deleted checks a key SET, then DELed, and not written after the DEL.
func (c *checker) deleted(key string, ops []Op) {
	del, acked := firstAcked(ops, Del)
	if acked {
		for _, op := range ops {
			if op.Kind == Set && op.Start > del.Start {
				acked = false // written again: nothing to hold the DEL to
			}
		}
	}
	if _, setAcked := firstAcked(ops, Set); acked && del.Cmd == "FLUSHDB" && !setAcked {
		// FLUSHDB deletes the keys its scan finds, which holds every
		// acknowledged write; the copy a failed SET left on a replica the
		// scan did not read may surface after it, as it may after any
		// read. A DEL's tombstone, written whatever its read saw, is
		// newer than such a copy: a DEL is held to more.
		acked = false
	}
	undone := false
	for _, g := range ops {
		if g.Kind != Get || !g.OK() || g.Nil {
			continue
		}
		switch {
		case !written(ops, g.Value):
			c.res.BadValues++
			c.example("bad value", "GET %s via node %d at %s returned %q, never written", key, g.Node+1, secs(g.Start), g.Value)
		case acked && g.Start > del.End:
			undone = true
			c.example("undone delete", "GET %s via node %d at %s returned %q; its DEL was acknowledged at %s",
				key, g.Node+1, secs(g.Start), g.Value, secs(del.End))
		}
	}
	if !acked {
		return
	}
	if fr, ok := c.finalRead(key); ok && !fr.Nil {
		undone = true
		c.example("undone delete", "%s reads %q at the end; its DEL was acknowledged at %s", key, fr.Value, secs(del.End))
	}
	if undone {
		c.res.UndoneDeletes++
	}
	// A DEL that found nothing may write nothing: then no owner holds
	// anything, and that is as good as a tombstone on every owner.
	reps, sampled := c.f.Replicas[key]
	if sampled && len(reps) > 0 && !slices.ContainsFunc(reps, func(r Replica) bool { return r.Held || r.Err != "" }) {
		c.res.OwnersChecked++
		return
	}
	c.owners(key, func(r Replica) bool { return r.Held && r.Tombstone }, "a tombstone")
}
