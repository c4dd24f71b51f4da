package server

import (
	"context"
	"sync"

	"github.com/ringcache/ringcache/server/store"
)

// Helpers shared by the keyspace handlers: single-key reads and writes
// through the client's scratch slices, and the key locks.

func (x *call) nowMs() int64 { return x.s.now().UnixMilli() }

// ctx is the context of the call's Store operations: the command's own
// (a read-modify-write's deadline), or the connection's.
func (x *call) ctx() context.Context {
	if x.opCtx != nil {
		return x.opCtx
	}
	return x.c.storeCtx(x.s)
}

// get reads one key; an expired key reads as missing.
func (x *call) get(key []byte) (store.Item, error) { return x.read(key, false) }

// getLatest reads one key for a read-modify-write: from every copy the
// store can reach (LatestReader), else like get.
func (x *call) getLatest(key []byte) (store.Item, error) { return x.read(key, true) }

func (x *call) read(key []byte, latest bool) (store.Item, error) {
	keys := append(x.c.keys[:0], key)
	items, err := x.readMany(keys, latest)
	keys[0] = nil
	x.c.keys = keys[:0]
	if err != nil {
		return store.Item{}, err
	}
	if !items[0].Found {
		x.s.stats.misses.Add(1)
		return store.Item{}, nil
	}
	x.s.stats.hits.Add(1)
	return items[0], nil
}

// getMany reads keys in order; expired keys read as missing.
func (x *call) getMany(keys [][]byte) ([]store.Item, error) { return x.readMany(keys, false) }

// getManyLatest reads keys for a read-modify-write, from every copy the
// store can reach (LatestReader), else like getMany.
func (x *call) getManyLatest(keys [][]byte) ([]store.Item, error) { return x.readMany(keys, true) }

func (x *call) readMany(keys [][]byte, latest bool) ([]store.Item, error) {
	return x.readManyIn(x.c.db, keys, latest)
}

// readManyIn is readMany in database db.
func (x *call) readManyIn(db int, keys [][]byte, latest bool) ([]store.Item, error) {
	// A client between WATCH and EXEC reads from every copy, as WATCH
	// did (readBatch says why).
	items, err := x.s.storeRead(x.ctx(), storeKeys(db, keys), latest || len(x.c.watching) > 0)
	if err != nil {
		return nil, err
	}
	hideInvisible(items, x.nowMs())
	return items, nil
}

// storeRead reads store keys: from every copy the store reaches when
// latest (LatestReader; a store without one reads as Get does), else by
// Get; it checks the store answered one item per key.
func (s *Server) storeRead(ctx context.Context, keys [][]byte, latest bool) ([]store.Item, error) {
	var items []store.Item
	var err error
	if latest && s.latest != nil {
		items, err = s.latest.GetLatest(ctx, keys)
	} else {
		items, err = s.store.Get(ctx, keys)
	}
	if err != nil {
		return nil, err
	}
	if len(items) != len(keys) {
		return nil, errStoreReply
	}
	return items, nil
}

// hideInvisible turns the items expired at nowMs into missing ones
// (keeping their versions) and returns how many are visible.
func hideInvisible(items []store.Item, nowMs int64) (hits int64) {
	for i := range items {
		if visible(items[i], nowMs) {
			hits++
		} else {
			items[i] = store.Item{Version: items[i].Version}
		}
	}
	return hits
}

// put writes one mutation.
func (x *call) put(m store.Mutation) error {
	muts := append(x.c.muts[:0], m)
	err := x.putMany(muts)
	muts[0] = store.Mutation{}
	x.c.muts = muts[:0]
	return err
}

// putMany writes muts, unless a stall of the process held the command up
// too long since it began (Server.stalledWrite).
func (x *call) putMany(muts []store.Mutation) error { return x.putManyIn(x.c.db, muts) }

// putManyIn is putMany in database db.
func (x *call) putManyIn(db int, muts []store.Mutation) error {
	if err := x.s.stalledWrite(x.start); err != nil {
		return err
	}
	return x.s.store.Put(x.ctx(), storeMuts(db, muts))
}

// setMutation writes value with an absolute expiry; an expiry already in
// the past deletes the key instead, as Redis does.
func (x *call) setMutation(key, value []byte, expireAt int64) store.Mutation {
	if expireAt != 0 && expireAt <= x.nowMs() {
		x.s.stats.expired.Add(1)
		return store.Mutation{Key: key, Delete: true}
	}
	return store.Mutation{Key: key, Value: value, ExpireAt: expireAt}
}

// lockKey takes key's stripe exclusively for a read-modify-write and
// returns it for Unlock. Inside EXEC, which holds the stripes of all its
// keys, it takes nothing.
func (x *call) lockKey(key []byte) sync.Locker {
	if x.c.inExec {
		return noLock{}
	}
	return x.s.locks.lockKey(key)
}

// shareKey takes key's stripe shared for a blind write and returns it
// for Unlock; inside EXEC it takes nothing.
func (x *call) shareKey(key []byte) sync.Locker {
	if x.c.inExec {
		return noLock{}
	}
	l := x.s.locks.stripes[stripeOf(keyHash(key))].RLocker()
	l.Lock()
	return l
}

// noLock is the lock of a command that runs inside EXEC.
type noLock struct{}

func (noLock) Lock()   {}
func (noLock) Unlock() {}

// lockKeys takes the stripes of keys exclusively, in order, and returns
// them for unlockKeys.
func (x *call) lockKeys(keys [][]byte) []int {
	if x.c.inExec {
		return nil
	}
	stripes := stripesOf(x.c.stripes, keys)
	x.s.locks.lock(stripes)
	return stripes
}

func (x *call) unlockKeys(stripes []int) {
	x.s.locks.unlock(stripes)
	x.c.stripes = stripes[:0]
}

// writeItem replies with an item's value or a null.
func writeItem(conn *reply, it store.Item) {
	if it.Found {
		conn.WriteBulk(it.Value)
	} else {
		conn.WriteNull()
	}
}
