package nemesis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/bench/await"
)

// finalKeys returns the keys the final state covers: every key the
// history wrote or tried to write (read with a quorum GET), and a sample
// of at most sample acknowledged keys (read on each owner), a third each
// from inserts, registers and deleted keys, spread evenly over the run.
func finalKeys(ops []Op, sample int) (all, owners []string) {
	seen := map[string]bool{}
	acked := map[string]bool{}
	var byClass [classDelete + 1][]string // acknowledged keys in order of first write
	for _, op := range ops {
		if !op.isWrite() {
			continue
		}
		if !seen[op.Key] {
			seen[op.Key] = true
			all = append(all, op.Key)
		}
		class := classOf(op.Key)
		counts := op.OK() && ((op.Kind == Set && class != classDelete) || (op.Kind == Del && class == classDelete))
		if counts && !acked[op.Key] {
			acked[op.Key] = true
			byClass[class] = append(byClass[class], op.Key)
		}
	}
	per := sample / 3
	for _, keys := range byClass[classInsert:] {
		owners = append(owners, spread(keys, per)...)
	}
	return all, owners
}

// spread returns at most n of keys, evenly spaced.
func spread(keys []string, n int) []string {
	if len(keys) <= n {
		return keys
	}
	out := make([]string, n)
	for i := range out {
		out[i] = keys[i*len(keys)/n]
	}
	return out
}

// pipelineChunk is how many commands one pipeline of the final reads
// carries.
const pipelineChunk = 500

// byDB returns keys ordered by database (KeyDB), stably, for queueInDBs.
func byDB(keys []string) []string {
	keys = slices.Clone(keys)
	slices.SortStableFunc(keys, func(a, b string) int { return cmp.Compare(KeyDB(a), KeyDB(b)) })
	return keys
}

// queueInDBs queues one command per key on pipe, each in its key's
// database: a SELECT before each run of keys of another database than the
// one before, and SELECT 0 after the last, so the connection goes back to
// its pool in database 0. keys are ordered by database (byDB).
func queueInDBs(ctx context.Context, pipe redis.Pipeliner, keys []string, queue func(j int, key string)) {
	db := 0
	for j, k := range keys {
		if d := KeyDB(k); d != db {
			pipe.Select(ctx, d)
			db = d
		}
		queue(j, k)
	}
	if db != 0 {
		pipe.Select(ctx, 0)
	}
}

// collectFinal waits for the cluster to settle (membership, hints), runs
// one repair round on every node, then reads the owners of the sampled
// keys and every key. Steps that do not complete are noted in
// Final.Incomplete; the reads are done regardless.
//
// With evict (the eviction mode, Final.Evict), once the membership is
// settled it stops the nodes' eviction (CONFIG SET maxmemory 0) and waits
// until no eviction is under way, so that the state the checks read is
// the one the last repair round left; it reads the owners of every
// acknowledged key, not a sample; and after the reads it writes some of
// the evicted keys again (Final.Rewrites).
func collectFinal(ctx context.Context, cfg *Config, cl *cluster, ops []Op, evict bool) Final {
	var f Final
	note := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		f.Incomplete = append(f.Incomplete, msg)
		logf(cfg.Log, "  incomplete: %s\n", msg)
	}
	logf(cfg.Log, "  final: membership, hints, repair\n")
	if err := cl.waitJoined(ctx, cfg.JoinTimeout); err != nil {
		note("membership after the heal: %v", err)
	}
	sample := cfg.OwnerSample
	var evicted int64 // INFO evicted_keys summed, once eviction stopped
	if evict {
		f.Evict, sample = true, math.MaxInt
		var err error
		if evicted, err = stopEvicting(ctx, cfg, cl); err != nil {
			note("stopping the eviction: %v", err)
		}
	}
	start := time.Now()
	var pending int64
	err := await.Poll(ctx, cfg.HintsTimeout, 200*time.Millisecond, func() error {
		var err error
		if pending, err = cl.hintsPending(ctx); err != nil {
			return err
		}
		if pending > 0 {
			return fmt.Errorf("%d hints pending", pending)
		}
		return nil
	})
	if err != nil {
		note("hints: %v", err)
	} else {
		logf(cfg.Log, "  no hint pending %.1fs after the workload\n", time.Since(start).Seconds())
	}
	all, sampled := finalKeys(ops, sample)
	var inserts []string
	for _, k := range sampled {
		if classOf(k) == classInsert {
			inserts = append(inserts, k)
		}
	}
	f.BeforeRepair, f.W = readOwners(ctx, cl, inserts), cfg.writeQuorum()
	for _, i := range cl.memberIndexes() {
		n := cl.nodes[i]
		sum, err := cl.repair(ctx, i, cfg.RepairTimeout)
		if err != nil {
			note("RINGCACHE REPAIR on %s: %v", n.id, err)
			continue
		}
		logf(cfg.Log, "  REPAIR %s: %s\n", n.id, sum)
	}
	logf(cfg.Log, "  final: LOCALGET of %d keys on their owners, quorum GET of %d keys\n", len(sampled), len(all))
	// The owners first: a quorum GET repairs the replicas it reads.
	f.Replicas = readOwners(ctx, cl, sampled)
	if evict {
		f.OwnersReadMs = time.Now().UnixMilli()
	}
	f.OwnerViews = map[string]map[string][]string{}
	for _, i := range cl.memberIndexes()[1:] {
		f.OwnerViews[cl.nodes[i].id], _ = ownersOn(ctx, cl, i, sampled)
	}
	f.Reads = readAll(ctx, cl, all)
	if !evict {
		return f
	}
	var gone []string // acknowledged inserts and registers absent at the end
	for _, k := range sampled {
		if r, ok := f.Reads[k]; ok && r.Nil && (classOf(k) == classInsert || classOf(k) == classRegister) {
			gone = append(gone, k)
		}
	}
	f.Rewrites = rewrite(ctx, cl, spread(gone, maxRewrites))
	logf(cfg.Log, "  %d acknowledged inserts and registers absent at the end; %d written again\n", len(gone), len(f.Rewrites))
	after, err := cl.evictedKeys(ctx)
	switch {
	case err != nil:
		note("INFO evicted_keys at the end: %v", err)
	case after != evicted:
		note("%d keys were evicted after the eviction was stopped: the final reads may not be one state", after-evicted)
	}
	f.EvictedKeys = after
	logf(cfg.Log, "  evicted_keys summed over the members: %d\n", after)
	return f
}

// maxRewrites bounds Final.Rewrites.
const maxRewrites = 300

// stopEvicting logs each member's dataset against its budget, sets its
// budget to none (CONFIG SET maxmemory 0), and waits until INFO
// evicted_keys summed over the members holds still for a second (an
// eviction under way when the budget went finishes), bounded by 15 s.
// It returns that sum.
func stopEvicting(ctx context.Context, cfg *Config, cl *cluster) (int64, error) {
	var errs []error
	for _, i := range cl.memberIndexes() {
		n := cl.nodes[i]
		m, err := cl.memory(ctx, i)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.id, err))
			continue
		}
		logf(cfg.Log, "  %s: used_memory %d of maxmemory %d, evicted_keys %d (since its last start)\n", n.id, m.used, m.max, m.evicted)
		if err := cl.admin[i].ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
			errs = append(errs, fmt.Errorf("CONFIG SET maxmemory 0 on %s: %w", n.id, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	last, err := cl.evictedKeys(ctx)
	if err != nil {
		return 0, err
	}
	stableSince := time.Now()
	err = await.Poll(ctx, 15*time.Second, 250*time.Millisecond, func() error {
		n, err := cl.evictedKeys(ctx)
		if err != nil {
			return err
		}
		if n != last {
			last, stableSince = n, time.Now()
		}
		if time.Since(stableSince) < time.Second {
			return fmt.Errorf("evicted_keys moved to %d within the last second", n)
		}
		return nil
	})
	return last, err
}

// rewrite SETs each key to "rewritten:<key>" and reads it back through
// another node, a hundred keys per pair of pipelines.
func rewrite(ctx context.Context, cl *cluster, keys []string) map[string]Rewrite {
	const chunk = 100
	out := make(map[string]Rewrite, len(keys))
	members := cl.memberIndexes()
	keys = byDB(keys)
	for c, start := 0, 0; start < len(keys); c, start = c+1, start+chunk {
		batch := keys[start:min(start+chunk, len(keys))]
		pipe := cl.admin[members[c%len(members)]].Pipeline()
		sets := make([]*redis.StatusCmd, len(batch))
		queueInDBs(ctx, pipe, batch, func(j int, k string) {
			sets[j] = pipe.Set(ctx, k, "rewritten:"+k, 0)
		})
		_, _ = pipe.Exec(ctx)
		pipe = cl.admin[members[(c+1)%len(members)]].Pipeline()
		gets := make([]*redis.StringCmd, len(batch))
		queueInDBs(ctx, pipe, batch, func(j int, k string) {
			gets[j] = pipe.Get(ctx, k)
		})
		_, _ = pipe.Exec(ctx)
		for j, k := range batch {
			r := Rewrite{Value: "rewritten:" + k}
			if err := sets[j].Err(); err != nil {
				r.Err = "SET: " + errText(err)
			} else if v, err := gets[j].Result(); errors.Is(err, redis.Nil) {
				r.Nil = true
			} else if err != nil {
				r.Err = "GET: " + errText(err)
			} else {
				r.Read = v
			}
			out[k] = r
		}
	}
	return out
}

// ownersOn returns the owners node i lists for each key (RINGCACHE
// OWNERS), and the errors of the keys whose command failed.
func ownersOn(ctx context.Context, cl *cluster, i int, keys []string) (map[string][]string, map[string]error) {
	owners := make(map[string][]string, len(keys))
	errs := map[string]error{}
	keys = byDB(keys)
	for start := 0; start < len(keys); start += pipelineChunk {
		batch := keys[start:min(start+pipelineChunk, len(keys))]
		pipe := cl.admin[i].Pipeline()
		cmds := make([]*redis.StringSliceCmd, len(batch))
		queueInDBs(ctx, pipe, batch, func(j int, k string) {
			cmds[j] = redis.NewStringSliceCmd(ctx, "RINGCACHE", "OWNERS", k)
			_ = pipe.Process(ctx, cmds[j])
		})
		_, _ = pipe.Exec(ctx) // errors are per command, below
		for j, cmd := range cmds {
			ids, err := cmd.Result()
			if err != nil {
				errs[batch[j]] = err
				continue
			}
			owners[batch[j]] = ids
		}
	}
	return owners, errs
}

// readOwners returns each key's owners' own records, the owners as the
// first node lists them.
func readOwners(ctx context.Context, cl *cluster, keys []string) map[string][]Replica {
	out := make(map[string][]Replica, len(keys))
	owners, errs := ownersOn(ctx, cl, 0, keys)
	for k, err := range errs {
		out[k] = []Replica{{Node: "?", Err: "RINGCACHE OWNERS: " + errText(err)}}
	}
	// One pipeline per owner node.
	perNode := map[string][]string{}
	for _, k := range keys {
		for _, id := range owners[k] {
			perNode[id] = append(perNode[id], k)
		}
	}
	records := map[[2]string]Replica{}
	for id, ks := range perNode {
		for k, r := range localGets(ctx, cl, id, ks) {
			records[[2]string{k, id}] = r
		}
	}
	for _, k := range keys {
		ids, ok := owners[k]
		if !ok {
			continue
		}
		reps := make([]Replica, 0, len(ids))
		for _, id := range ids {
			reps = append(reps, records[[2]string{k, id}])
		}
		out[k] = reps
	}
	return out
}

// localGets reads keys with RINGCACHE LOCALGET on node id.
func localGets(ctx context.Context, cl *cluster, id string, keys []string) map[string]Replica {
	out := make(map[string]Replica, len(keys))
	i := cl.index(id)
	if i < 0 || !cl.isMember(i) {
		for _, k := range keys {
			out[k] = Replica{Node: id, Err: "listed as an owner, but not a member of the cluster (never was, left or removed)"}
		}
		return out
	}
	keys = byDB(keys)
	for start := 0; start < len(keys); start += pipelineChunk {
		batch := keys[start:min(start+pipelineChunk, len(keys))]
		pipe := cl.admin[i].Pipeline()
		cmds := make([]*redis.Cmd, len(batch))
		queueInDBs(ctx, pipe, batch, func(j int, k string) {
			cmds[j] = pipe.Do(ctx, "RINGCACHE", "LOCALGET", k)
		})
		_, _ = pipe.Exec(ctx)
		for j, cmd := range cmds {
			out[batch[j]] = parseLocalGet(id, cmd)
		}
	}
	return out
}

// parseLocalGet reads a RINGCACHE LOCALGET reply: nil, or [value (nil
// for a tombstone), version, expiry-unix-ms, tombstone 0|1].
func parseLocalGet(id string, cmd *redis.Cmd) Replica {
	r := Replica{Node: id}
	res, err := cmd.Slice()
	switch {
	case errors.Is(err, redis.Nil):
		return r
	case err != nil:
		r.Err = errText(err)
		return r
	case len(res) != 4:
		r.Err = fmt.Sprintf("LOCALGET reply %v: want 4 fields", res)
		return r
	}
	r.Held = true
	r.Tombstone = res[3] == int64(1)
	r.Version, _ = res[1].(string)
	if v, ok := res[0].(string); ok {
		r.Value = v
	}
	return r
}

func (c *cluster) index(id string) int {
	for i, n := range c.nodes {
		if n.id == id {
			return i
		}
	}
	return -1
}

// readAll reads every key with a quorum GET, the chunks spread over the
// members; a key whose GET failed is tried again through the next node, up
// to three times.
func readAll(ctx context.Context, cl *cluster, keys []string) map[string]FinalRead {
	out := make(map[string]FinalRead, len(keys))
	members := cl.memberIndexes()
	todo := byDB(keys)
	for try := range 3 {
		var failed []string
		for c, start := 0, 0; start < len(todo); c, start = c+1, start+pipelineChunk {
			batch := todo[start:min(start+pipelineChunk, len(todo))]
			pipe := cl.admin[members[(c+try)%len(members)]].Pipeline()
			cmds := make([]*redis.StringCmd, len(batch))
			queueInDBs(ctx, pipe, batch, func(j int, k string) {
				cmds[j] = pipe.Get(ctx, k)
			})
			_, _ = pipe.Exec(ctx)
			for j, cmd := range cmds {
				v, err := cmd.Result()
				switch {
				case errors.Is(err, redis.Nil):
					out[batch[j]] = FinalRead{Nil: true}
				case err != nil:
					out[batch[j]] = FinalRead{Err: errText(err)}
					failed = append(failed, batch[j])
				default:
					out[batch[j]] = FinalRead{Value: v}
				}
			}
		}
		if todo = failed; len(todo) == 0 || ctx.Err() != nil {
			break
		}
	}
	return out
}
