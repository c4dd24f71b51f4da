package nemesis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/ringcache/ringcache/server/rdb"
)

// workload runs the recorded clients. It owns their goroutines: stop ends
// them and returns what they recorded.
type workload struct {
	cfg     WorkloadConfig
	serving *servingSet
	pool    keyPool
	clients []*client
	halt    context.CancelFunc // ends the clients' pacing waits
	wg      sync.WaitGroup
}

// client is one recorded client with a connection to every node in each
// database it uses. Its fields are used by its goroutine only; ops is read
// once it ended.
type client struct {
	id    int
	db    int // the database of the keys it writes
	base  time.Time
	cfg   *WorkloadConfig
	addrs []string
	conns map[int][]*redis.Client // per database, one per node, of one connection each
	rng   *rand.Rand
	ops   []Op
}

// conn returns the client's connection to node in database db, opened on
// first use.
func (c *client) conn(node, db int) *redis.Client {
	nodes := c.conns[db]
	if nodes == nil {
		nodes = make([]*redis.Client, len(c.addrs))
		c.conns[db] = nodes
	}
	if nodes[node] == nil {
		nodes[node] = redis.NewClient(&redis.Options{Addr: c.addrs[node], DB: db, Protocol: 2, DisableIdentity: true,
			MaxRetries: -1, DialerRetries: 1, DialTimeout: c.cfg.DialTimeout,
			ReadTimeout: c.cfg.Timeout, WriteTimeout: c.cfg.Timeout, PoolSize: 1})
	}
	return nodes[node]
}

// key names the client's seq-th key of class prefix, in its database.
func (c *client) key(prefix string, seq int) string {
	key := prefix + strconv.Itoa(c.id) + ":" + strconv.Itoa(seq)
	if c.db != 0 {
		key += "@" + strconv.Itoa(c.db)
	}
	return key
}

// startWorkload starts cfg's clients against addrs, sending to the nodes
// in serving. ctx cancels the operations themselves (an interrupt); stop
// ends the workload between operations, so no operation is cut short.
// Times are measured from base.
func startWorkload(ctx context.Context, cfg WorkloadConfig, addrs []string, serving *servingSet, base time.Time) *workload {
	w := &workload{cfg: cfg, serving: serving}
	paced, halt := context.WithCancel(ctx)
	w.halt = halt
	roles := []struct {
		count   int
		rate    float64
		run     func(ctx, paced context.Context, c *client, lim *rate.Limiter)
		deletes bool
	}{
		{cfg.Inserters, cfg.InsertRate, w.insert, false},
		{cfg.RegisterWriters, cfg.BurstRate, w.writeRegisters, false},
		{cfg.Deleters, cfg.DeleteRate, w.deleteKeys, true},
		{cfg.Readers, cfg.ReadRate, w.read, false},
	}
	for _, role := range roles {
		for i := range role.count {
			c := &client{id: len(w.clients), base: base, cfg: &w.cfg, addrs: addrs, conns: map[int][]*redis.Client{},
				rng: rand.New(rand.NewPCG(cfg.Seed, uint64(len(w.clients))))}
			switch {
			case role.count > 1 && i == role.count-1 && cfg.FlushDB != 0 && role.deletes:
				c.db = cfg.FlushDB
			case c.id%2 == 1:
				c.db = cfg.DB
			}
			w.clients = append(w.clients, c)
			lim := rate.NewLimiter(rate.Limit(role.rate), 1)
			run := role.run
			w.wg.Go(func() {
				defer c.close()
				run(ctx, paced, c, lim)
			})
		}
	}
	return w
}

// stop ends the clients after their current operation and returns every
// operation, ordered by invocation.
func (w *workload) stop() []Op {
	w.halt()
	w.wg.Wait()
	var ops []Op
	for _, c := range w.clients {
		ops = append(ops, c.ops...)
	}
	slices.SortStableFunc(ops, func(a, b Op) int { return cmp.Compare(a.Start, b.Start) })
	return ops
}

func (c *client) close() {
	for _, nodes := range c.conns {
		for _, cc := range nodes {
			if cc != nil {
				cc.Close()
			}
		}
	}
}

// do sends one command to node and records it.
func (c *client) do(ctx context.Context, node int, kind Kind, key, value string) Op {
	return c.send(ctx, node, kind, "", key, value)
}

// send sends kind through cmd, one of its Variants ("" is kind itself),
// to node and records it.
func (c *client) send(ctx context.Context, node int, kind Kind, cmd, key, value string) Op {
	op := Op{Client: c.id, Node: node, Kind: kind, Key: key, Value: value}
	if cmd != string(kind) {
		op.Cmd = cmd
	}
	db := KeyDB(key)
	conn := c.conn(node, db)
	op.Start = time.Since(c.base)
	var err error
	switch {
	case cmd == "RESTORE":
		err = conn.RestoreReplace(ctx, key, 0, string(rdb.Encode([]byte(value)))).Err()
	case cmd == "BITFIELD":
		args := []any{"BITFIELD", key}
		for i, b := range []byte(value) {
			args = append(args, "SET", "u8", "#"+strconv.Itoa(i), int(b))
		}
		err = conn.Do(ctx, args...).Err()
	case cmd == "COPY":
		// The source is written first, with its own (unrecorded) SET: a
		// failure there makes the COPY's outcome an error, indeterminate
		// like any failed write.
		var copied int64
		if err = conn.Set(ctx, "cp:"+key, value, 0).Err(); err == nil {
			copied, err = conn.Copy(ctx, "cp:"+key, key, db, true).Result()
		}
		if err == nil && copied != 1 {
			err = fmt.Errorf("COPY answered %d: the source was not found", copied)
		}
	case cmd == "BITOP":
		var n int64
		if err = conn.Set(ctx, "cp:"+key, value, 0).Err(); err == nil {
			n, err = conn.BitOpOr(ctx, key, "cp:"+key).Result()
		}
		if err == nil && n != int64(len(value)) {
			// The source went (evicted) before BITOP read it: an empty
			// result, which deletes the key (for an insert, missing
			// until then: nothing is written).
			err = fmt.Errorf("BITOP answered %d: the source was not found", n)
		}
	case cmd == "INCRBYFLOAT":
		// Sent only after the previous value was acknowledged: an answer
		// other than value is a read-modify-write that missed it, which
		// the reads of the register then show; the op records value.
		err = conn.IncrByFloat(ctx, key, 1).Err()
	case cmd == "RENAME":
		err = conn.Rename(ctx, key, "gone:"+key).Err()
	case cmd == "RENAMENX":
		var renamed bool
		renamed, err = conn.RenameNX(ctx, key, "gone:"+key).Result()
		op.Value = strconv.FormatBool(renamed)
	case cmd == "MOVE":
		var moved bool
		moved, err = conn.Move(ctx, key, MoveDB).Result()
		op.Value = strconv.FormatBool(moved)
	case cmd == "FLUSHDB":
		err = conn.FlushDB(ctx).Err()
	case cmd == "GETSET":
		err = conn.Do(ctx, "GETSET", key, value).Err()
		if errors.Is(err, redis.Nil) {
			err = nil
		}
	case cmd == "SETRANGE":
		err = conn.SetRange(ctx, key, 0, value).Err()
	case cmd == "MSETNX":
		var set bool
		if set, err = conn.MSetNX(ctx, key, value).Result(); err == nil && !set {
			err = errors.New("MSETNX answered 0: the key existed")
		}
	case kind == Set:
		err = conn.Set(ctx, key, value, 0).Err()
	case cmd == "UNLINK":
		var n int64
		n, err = conn.Unlink(ctx, key).Result()
		op.Value = strconv.FormatInt(n, 10)
	case cmd == "GETDEL":
		var old string
		if old, err = conn.GetDel(ctx, key).Result(); errors.Is(err, redis.Nil) {
			op.Value, err = "0", nil
		} else if err == nil {
			op.Value = "1:" + old
		}
	case kind == Del:
		var n int64
		n, err = conn.Del(ctx, key).Result()
		op.Value = strconv.FormatInt(n, 10) // keys removed, for the record only
	case kind == Get:
		op.Value, err = conn.Get(ctx, key).Result()
		if errors.Is(err, redis.Nil) {
			op.Nil, err = true, nil
		}
	}
	op.End = time.Since(c.base)
	if err != nil {
		op.Err = errText(err)
	}
	c.ops = append(c.ops, op)
	// After a failed dial, go-redis answers from its last dial error
	// without dialing until a background probe (once a second) gets
	// through. A fresh client dials on the next operation, so a node is
	// counted available as soon as it accepts connections.
	if oe := (*net.OpError)(nil); errors.As(err, &oe) && oe.Op == "dial" {
		conn.Close()
		c.conns[db][node] = nil
	}
	return op
}

// variant picks one of kind's Variants at random, leaving out those that
// do not fit the key's use. At random, not in turn: the writes go through
// the nodes in turn, and a variant picked in turn too would, with as many
// variants as nodes, always go through the same node.
func (c *client) variant(kind Kind, except ...string) string {
	vs := slices.DeleteFunc(slices.Clone(Variants[kind]), func(v string) bool { return slices.Contains(except, v) })
	return vs[c.rng.IntN(len(vs))]
}

// errText shortens an error for the history: "timeout" for every timeout.
func errText(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// value is the unique value written to key: the key itself, padded.
func (w *workload) value(key string) string {
	if len(key)+1 >= w.cfg.ValueSize {
		return key
	}
	return key + "=" + strings.Repeat("v", w.cfg.ValueSize-len(key)-1)
}

// insert SETs unique keys, each through the next node.
func (w *workload) insert(ctx, paced context.Context, c *client, lim *rate.Limiter) {
	for seq := 1; lim.Wait(paced) == nil; seq++ {
		key := c.key(InsertPrefix, seq)
		cmd := c.variant(Set, "SETRANGE", "BITFIELD", "INCRBYFLOAT") // an insert has no previous value to write over
		if op := c.send(ctx, w.serving.at(c.id+seq), Set, cmd, key, w.value(key)); op.OK() {
			w.pool.addInsert(key)
		}
	}
}

// writeRegisters writes one new register per pacing token: Burst SETs of
// 1, 2, ... back to back, each through the node after the previous one's,
// then a GET through a third node (neither the last write's nor the one
// after). Back to back, two coordinators often stamp consecutive writes
// within the same millisecond.
func (w *workload) writeRegisters(ctx, paced context.Context, c *client, lim *rate.Limiter) {
	for gen := 1; lim.Wait(paced) == nil; gen++ {
		key := c.key(RegisterPrefix, gen)
		w.pool.addRegister(key)
		pos := c.id + gen
		acked := false // the previous write of the register
		for i := 1; i <= w.cfg.Burst && paced.Err() == nil; i++ {
			pos++
			except := []string{"MSETNX"}
			if !acked || w.cfg.evict {
				except = append(except, "INCRBYFLOAT") // it builds on the previous value, which may be evicted
			}
			acked = c.send(ctx, w.serving.at(pos), Set, c.variant(Set, except...), key, strconv.Itoa(i)).OK()
		}
		c.do(ctx, w.serving.at(pos+2), Get, key, "")
	}
}

// deleteKeys SETs a key, DELs it through the next node and GETs it
// through the one after; the key is never written again. The deleter of
// the FLUSHDB database deletes with FLUSHDB.
func (w *workload) deleteKeys(ctx, paced context.Context, c *client, lim *rate.Limiter) {
	for seq := 1; lim.Wait(paced) == nil; seq++ {
		key := c.key(DeletePrefix, seq)
		pos := c.id + seq
		cmd := c.variant(Del)
		if c.db == w.cfg.FlushDB && c.db != 0 {
			cmd = "FLUSHDB"
		}
		c.do(ctx, w.serving.at(pos), Set, key, w.value(key))
		c.send(ctx, w.serving.at(pos+1), Del, cmd, key, "")
		w.pool.addDeleted(key)
		c.do(ctx, w.serving.at(pos+2), Get, key, "")
	}
}

// read GETs, through a random node, an acknowledged insert (half the
// time), a recent register (a third) or a deleted key.
func (w *workload) read(ctx, paced context.Context, c *client, lim *rate.Limiter) {
	for lim.Wait(paced) == nil {
		var key string
		switch r := c.rng.Float64(); {
		case r < 0.5:
			key = w.pool.pickInsert(c.rng)
		case r < 0.83:
			key = w.pool.pickRegister(c.rng)
		default:
			key = w.pool.pickDeleted(c.rng)
		}
		if key != "" {
			c.do(ctx, w.serving.at(c.rng.IntN(1<<20)), Get, key, "")
		}
	}
}

// servingSet is the nodes the clients send to, by index: every node of
// the cluster, but for a node that has not joined yet or has left. A
// membership scenario changes it while the clients run.
type servingSet struct {
	p atomic.Pointer[[]int]
}

func newServingSet(nodes []int) *servingSet {
	s := &servingSet{}
	s.set(nodes)
	return s
}

func (s *servingSet) set(nodes []int) {
	nodes = slices.Clone(nodes)
	slices.Sort(nodes)
	s.p.Store(&nodes)
}

// add puts node i in the set; remove takes it out.
func (s *servingSet) add(i int) {
	if nodes := *s.p.Load(); !slices.Contains(nodes, i) {
		s.set(append(slices.Clone(nodes), i))
	}
}

func (s *servingSet) remove(i int) {
	s.set(slices.DeleteFunc(slices.Clone(*s.p.Load()), func(n int) bool { return n == i }))
}

// nodes returns the set, sorted; the caller must not change it.
func (s *servingSet) nodes() []int { return *s.p.Load() }

// at returns the node at position pos, counted round the set: pos+1 is
// the next node after pos's.
func (s *servingSet) at(pos int) int {
	nodes := *s.p.Load()
	return nodes[pos%len(nodes)]
}

// keyPool is what the readers choose from.
type keyPool struct {
	mu struct {
		sync.Mutex
		inserts   []string // every acknowledged insert
		registers ring     // recently started registers
		deleted   ring     // recently deleted keys
	}
}

// Sizes of the recent-key rings, and of the recent inserts half the
// insert reads choose from.
const (
	recentRegisters = 32
	recentDeleted   = 256
	recentInserts   = 1000
)

// ring keeps the last keys added to it, up to its size.
type ring struct {
	keys []string
	next int
}

func (r *ring) add(key string, size int) {
	if len(r.keys) < size {
		r.keys = append(r.keys, key)
		return
	}
	r.keys[r.next] = key
	r.next = (r.next + 1) % size
}

func (r *ring) pick(rng *rand.Rand) string {
	if len(r.keys) == 0 {
		return ""
	}
	return r.keys[rng.IntN(len(r.keys))]
}

func (p *keyPool) addInsert(key string) {
	p.mu.Lock()
	p.mu.inserts = append(p.mu.inserts, key)
	p.mu.Unlock()
}

func (p *keyPool) addRegister(key string) {
	p.mu.Lock()
	p.mu.registers.add(key, recentRegisters)
	p.mu.Unlock()
}

func (p *keyPool) addDeleted(key string) {
	p.mu.Lock()
	p.mu.deleted.add(key, recentDeleted)
	p.mu.Unlock()
}

// pickInsert returns a recent acknowledged insert half the time, any
// acknowledged insert otherwise; "" when there is none yet.
func (p *keyPool) pickInsert(rng *rand.Rand) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.mu.inserts)
	if n == 0 {
		return ""
	}
	if rng.IntN(2) == 0 {
		return p.mu.inserts[n-1-rng.IntN(min(n, recentInserts))]
	}
	return p.mu.inserts[rng.IntN(n)]
}

func (p *keyPool) pickRegister(rng *rand.Rand) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.registers.pick(rng)
}

func (p *keyPool) pickDeleted(rng *rand.Rand) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.deleted.pick(rng)
}
