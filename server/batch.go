package server

import (
	"bytes"
	"time"

	"github.com/tidwall/redcon"

	"github.com/ringcache/ringcache/server/store"
)

// Batch kinds: consecutive commands of one kind in a pipeline share one
// Store call.
const (
	batchNone  = iota
	batchRead  // GET key, MGET key...
	batchWrite // SET key value (no options), MSET key value...
	batchIncr  // INCR key, DECR key, INCRBY key n, DECRBY key n (incrbatch.go)
)

// Batch bounds keep one Store call, and the duplicate-key scan of a write
// batch, small.
const (
	maxBatchCmds      = 512
	maxBatchWriteKeys = 256
	linearDedupKeys   = 64
)

// batchKind classifies a command without a table lookup; arity-invalid
// forms are left to exec so they get the usual error.
func batchKind(args [][]byte) int {
	switch len(args[0]) {
	case 3:
		if len(args) == 2 && equalFold(args[0], "get") {
			return batchRead
		}
		if len(args) == 3 && equalFold(args[0], "set") {
			return batchWrite
		}
	case 4:
		if len(args) >= 2 && equalFold(args[0], "mget") {
			return batchRead
		}
		if len(args) == 2 && (equalFold(args[0], "incr") || equalFold(args[0], "decr")) {
			return batchIncr
		}
		if len(args) >= 3 && len(args)%2 == 1 && equalFold(args[0], "mset") {
			return batchWrite
		}
	case 6:
		if len(args) == 3 && (equalFold(args[0], "incrby") || equalFold(args[0], "decrby")) {
			return batchIncr
		}
	}
	return batchNone
}

// runBatch executes the run of batchable commands at the front of cmds and
// returns how many it consumed (0 when cmds[0] is not batchable).
func (s *Server) runBatch(c *client, conn *reply, cmds []redcon.Command) int {
	kind := batchKind(cmds[0].Args)
	if kind == batchNone {
		return 0
	}
	n, keys := 1, len(cmds[0].Args)/2
	for n < len(cmds) && n < maxBatchCmds && batchKind(cmds[n].Args) == kind {
		k := len(cmds[n].Args) / 2
		if kind != batchRead && keys+k > maxBatchWriteKeys {
			break
		}
		n, keys = n+1, keys+k
	}
	if kind == batchIncr && n == 1 {
		return 0 // one command: the usual path
	}
	if kind != batchRead && !s.memoryAdmits() {
		return 0 // refused one by one on the usual path
	}
	start := time.Now()
	if s.paused.paused(start) && c.pausable() {
		s.paused.wait(kind != batchRead, s.closingCh)
		start = time.Now()
	}
	var err error
	switch kind {
	case batchRead:
		err = s.readBatch(c, conn, cmds[:n])
	case batchWrite:
		err = s.writeBatch(c, conn, cmds[:n])
	default:
		err = s.incrBatch(c, conn, cmds[:n], start)
	}
	c.lastCmd.Store(lookup(cmds[n-1].Args[0]))
	d := time.Since(start)
	if s.metrics != nil {
		for _, cmd := range cmds[:n] {
			s.metrics.ObserveCommand(batchName(cmd.Args), d, err != nil)
		}
	}
	// Each command of the batch counts its share of the store call
	// (GET, SET, MGET, MSET and the INCR family are all fast commands to
	// the latency monitor, as in Redis).
	share := d / time.Duration(n)
	if kind != batchIncr && c.counted() {
		// (incrBatch counts its commands one by one: their replies differ.)
		// A run of one command is counted at once.
		for i := 0; i < n; {
			name, j := batchName(cmds[i].Args), i+1
			for j < n && batchName(cmds[j].Args) == name {
				j++
			}
			s.cmdStats.ranMany(name, j-i, share, err != nil)
			i = j
		}
	}
	s.latency.observe(true, share, start)
	if s.monitors.n.Load() > 0 {
		for _, cmd := range cmds[:n] {
			s.feed(c, lookup(cmd.Args[0]), cmd.Args, start)
		}
	}
	if s.slow.slow(share) {
		for _, cmd := range cmds[:n] {
			s.slow.add(c, cmd.Args, share, start)
		}
	}
	return n
}

// batchName returns the metric name of a batchable command without
// allocating.
func batchName(args [][]byte) string {
	if k := batchKind(args); k == batchIncr {
		return lookup(args[0]).name
	}
	switch {
	case len(args[0]) == 3 && (args[0][0]|0x20) == 'g':
		return "get"
	case len(args[0]) == 3:
		return "set"
	case (args[0][1] | 0x20) == 'g':
		return "mget"
	}
	return "mset"
}

// readBatch answers a run of GET/MGET with one Store.Get.
func (s *Server) readBatch(c *client, conn *reply, cmds []redcon.Command) error {
	keys := c.keys[:0]
	for _, cmd := range cmds {
		keys = append(keys, cmd.Args[1:]...)
	}
	// The keys' stripes are taken shared, so a read sees all of a
	// transaction that writes them or none of it (EXEC holds them).
	stripes := c.stripes[:0]
	if !c.inExec {
		stripes = stripesOf(stripes, keys)
	}
	s.locks.rlock(stripes)
	// A client between WATCH and EXEC reads what it will write from
	// every copy, as WATCH did: a quorum could answer older than the
	// version WATCH saw, and EXEC would then commit a value built on it.
	items, err := s.storeRead(c.storeCtx(s), storeKeys(c.db, keys), len(c.watching) > 0)
	s.locks.runlock(stripes)
	c.stripes = stripes[:0]
	clear(keys)
	c.keys = keys[:0]
	if err != nil {
		for range cmds {
			conn.WriteError(replyText(err))
		}
		return err
	}
	nowMs := s.now().UnixMilli()
	var hits int64
	k := 0
	for _, cmd := range cmds {
		multi := len(cmd.Args[0]) == 4
		if multi {
			conn.WriteArray(len(cmd.Args) - 1)
		}
		for range cmd.Args[1:] {
			if it := items[k]; visible(it, nowMs) {
				conn.WriteBulk(it.Value)
				hits++
			} else {
				conn.WriteNull()
			}
			k++
		}
	}
	s.stats.hits.Add(hits)
	s.stats.misses.Add(int64(len(items)) - hits)
	return nil
}

// writeBatch applies a run of plain SET/MSET with one Store.Put and
// answers each command. A key written twice in the run is written once,
// with its last value: the replies are the same and the store never sees
// one key twice in a batch.
func (s *Server) writeBatch(c *client, conn *reply, cmds []redcon.Command) error {
	err := s.putPairs(c, cmds)
	for range cmds {
		if err != nil {
			conn.WriteError(replyText(err))
		} else {
			conn.WriteString("OK")
		}
	}
	return err
}

// putPairs is writeBatch's write, without the replies.
func (s *Server) putPairs(c *client, cmds []redcon.Command) error {
	// A blind write is harmless whenever it lands, but one a script
	// makes may rest on what the script read: stalledWrite, as for the
	// script's other writes.
	if err := s.stalledWrite(c.scriptStart); err != nil {
		return err
	}
	muts, hashes := pairMutations(c.muts[:0], c.hashes[:0], cmds)
	stripes := sortedStripes(c.stripes, hashes)
	if c.inExec {
		stripes = stripes[:0] // EXEC holds them
	}
	s.locks.rlock(stripes)
	err := s.store.Put(c.storeCtx(s), storeMuts(c.db, muts))
	s.locks.runlock(stripes)
	clear(muts)
	c.muts, c.hashes, c.stripes = muts[:0], hashes[:0], stripes[:0]
	return err
}

// pairMutations appends to muts a write of each key/value pair in cmds'
// arguments (after the name), a key given twice once with its last value,
// and each key's hash to hashes.
func pairMutations(muts []store.Mutation, hashes []uint64, cmds []redcon.Command) ([]store.Mutation, []uint64) {
	var index map[uint64]int
	for _, cmd := range cmds {
		for i := 1; i+1 < len(cmd.Args); i += 2 {
			key, val := cmd.Args[i], cmd.Args[i+1]
			h := keyHash(key)
			if j := findKey(muts, hashes, index, h, key); j >= 0 {
				muts[j].Value = val
				continue
			}
			muts = append(muts, store.Mutation{Key: key, Value: val})
			hashes = append(hashes, h)
			if len(muts) == linearDedupKeys {
				index = make(map[uint64]int, 2*linearDedupKeys)
				for j, h := range hashes {
					index[h] = j
				}
			} else if index != nil {
				index[h] = len(muts) - 1
			}
		}
	}
	return muts, hashes
}

// findKey returns the index of key among muts, or -1. index, when not
// nil, maps a hash to the last mutation with that hash; hash collisions
// between different keys fall back to a scan.
func findKey(muts []store.Mutation, hashes []uint64, index map[uint64]int, h uint64, key []byte) int {
	if index != nil {
		j, ok := index[h]
		if !ok {
			return -1
		}
		if bytes.Equal(muts[j].Key, key) {
			return j
		}
	}
	for j := range hashes {
		if hashes[j] == h && bytes.Equal(muts[j].Key, key) {
			return j
		}
	}
	return -1
}

// visible reports whether an item read from the store is live at nowMs.
// Stores already hide expired keys; checking again keeps replies right when
// the store's clock and the server's disagree by a little.
func visible(it store.Item, nowMs int64) bool {
	return it.Found && (it.ExpireAt == 0 || it.ExpireAt > nowMs)
}
