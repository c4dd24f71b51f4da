package server

import (
	"math"
	"strconv"

	"github.com/tidwall/redcon"

	"github.com/ringcache/ringcache/server/store"
)

// String commands. Each parses its arguments, calls the Store, and writes
// one reply; errors go back to exec.

func cmdGet(x *call) error {
	return x.s.readBatch(x.c, x.conn, []redcon.Command{{Args: x.args}})
}

func cmdMGet(x *call) error {
	return x.s.readBatch(x.c, x.conn, []redcon.Command{{Args: x.args}})
}

func cmdMSet(x *call) error {
	if len(x.args)%2 == 0 {
		return wrongArity(x.cmd.name)
	}
	return x.putPairs()
}

// putPairs writes the pairs of a plain SET or MSET and answers OK; an
// error is left to exec to answer.
func (x *call) putPairs() error {
	if err := x.s.putPairs(x.c, []redcon.Command{{Args: x.args}}); err != nil {
		return err
	}
	x.conn.WriteString("OK")
	return nil
}

func cmdSet(x *call) error {
	if len(x.args) == 3 {
		return x.putPairs()
	}
	req, err := parseSet(x.args, x.nowMs())
	if err != nil {
		return err
	}
	if !req.needsRead() {
		m := x.shareKey(req.Key)
		err := x.put(x.setMutation(req.Key, req.Value, req.ExpireAt))
		m.Unlock()
		if err != nil {
			return err
		}
		x.conn.WriteString("OK")
		return nil
	}
	return x.setRMW(&req)
}

// setRMW runs SET with NX, XX, GET or KEEPTTL: read, decide, write.
func (x *call) setRMW(req *SetRequest) error {
	defer x.lockKey(req.Key).Unlock()
	old, err := x.getLatest(req.Key)
	if err != nil {
		return err
	}
	if (req.Cond == condNX && old.Found) || (req.Cond == condXX && !old.Found) {
		if req.Get {
			writeItem(x.conn, old)
		} else {
			x.conn.WriteNull()
		}
		return nil
	}
	at := req.ExpireAt
	if req.Expiry == expKeepTTL {
		at = old.ExpireAt
	}
	if err := x.put(x.setMutation(req.Key, req.Value, at)); err != nil {
		return err
	}
	if req.Get {
		writeItem(x.conn, old)
	} else {
		x.conn.WriteString("OK")
	}
	return nil
}

func cmdSetNX(x *call) error {
	key := x.args[1]
	defer x.lockKey(key).Unlock()
	old, err := x.getLatest(key)
	if err != nil {
		return err
	}
	if old.Found {
		x.conn.WriteInt(0)
		return nil
	}
	if err := x.put(store.Mutation{Key: key, Value: x.args[2]}); err != nil {
		return err
	}
	x.conn.WriteInt(1)
	return nil
}

func cmdSetEX(x *call) error  { return x.setWithTTL(expEX, "setex") }
func cmdPSetEX(x *call) error { return x.setWithTTL(expPX, "psetex") }

// setWithTTL runs SETEX/PSETEX key ttl value.
func (x *call) setWithTTL(kind int, name string) error {
	at, err := expireAt(x.args[2], kind, x.nowMs(), name)
	if err != nil {
		return err
	}
	key := x.args[1]
	m := x.shareKey(key)
	err = x.put(store.Mutation{Key: key, Value: x.args[3], ExpireAt: at})
	m.Unlock()
	if err != nil {
		return err
	}
	x.conn.WriteString("OK")
	return nil
}

func cmdGetDel(x *call) error {
	key := x.args[1]
	defer x.lockKey(key).Unlock()
	old, err := x.getLatest(key)
	if err != nil {
		return err
	}
	// Deleted whatever the read saw, as DEL does.
	if err := x.put(store.Mutation{Key: key, Delete: true}); err != nil {
		return err
	}
	writeItem(x.conn, old)
	return nil
}

func cmdGetEx(x *call) error {
	req, err := parseGetEx(x.args, x.nowMs())
	if err != nil {
		return err
	}
	defer x.lockKey(req.Key).Unlock()
	old, err := x.getLatest(req.Key)
	if err != nil {
		return err
	}
	if old.Found {
		var m *store.Mutation
		switch {
		case req.Expiry == expPersist && old.ExpireAt != 0:
			m = &store.Mutation{Key: req.Key, Value: old.Value}
		case req.Expiry != expNone && req.Expiry != expPersist:
			mm := x.setMutation(req.Key, old.Value, req.ExpireAt)
			m = &mm
		}
		if m != nil {
			if err := x.put(*m); err != nil {
				return err
			}
		}
	}
	writeItem(x.conn, old)
	return nil
}

// cmdGetSet sets a value, dropping any expiry, and answers the old one.
func cmdGetSet(x *call) error {
	key := x.args[1]
	defer x.lockKey(key).Unlock()
	old, err := x.getLatest(key)
	if err != nil {
		return err
	}
	if err := x.put(store.Mutation{Key: key, Value: x.args[2]}); err != nil {
		return err
	}
	writeItem(x.conn, old)
	return nil
}

// cmdMSetNX sets every pair only when none of the keys exists, under all
// their key locks: atomic on a node.
func cmdMSetNX(x *call) error {
	if len(x.args)%2 != 1 {
		return wrongArity(x.cmd.name)
	}
	keys := make([][]byte, 0, len(x.args)/2)
	for i := 1; i < len(x.args); i += 2 {
		keys = append(keys, x.args[i])
	}
	defer x.unlockKeys(x.lockKeys(keys))
	items, err := x.getManyLatest(keys)
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.Found {
			x.conn.WriteInt(0)
			return nil
		}
	}
	muts, _ := pairMutations(nil, nil, []redcon.Command{{Args: x.args}})
	if err := x.putMany(muts); err != nil {
		return err
	}
	x.conn.WriteInt(1)
	return nil
}

func cmdIncr(x *call) error { return x.incrBy(1) }
func cmdDecr(x *call) error { return x.incrBy(-1) }

func cmdIncrBy(x *call) error {
	n, ok := parseInt64(x.args[2])
	if !ok {
		return errNotInteger
	}
	return x.incrBy(n)
}

func cmdDecrBy(x *call) error {
	n, ok := parseInt64(x.args[2])
	if !ok {
		return errNotInteger
	}
	if n == math.MinInt64 {
		return errDecrOverflow
	}
	return x.incrBy(-n)
}

// incrBy adds delta to the integer at key (0 when missing), keeping its
// expiry, and replies with the result.
func (x *call) incrBy(delta int64) error {
	key := x.args[1]
	defer x.lockKey(key).Unlock()
	old, err := x.getLatest(key)
	if err != nil {
		return err
	}
	cur := int64(0)
	if old.Found {
		v, ok := parseInt64(old.Value)
		if !ok {
			return errNotInteger
		}
		cur = v
	}
	next, ok := addInt64(cur, delta)
	if !ok {
		return errOverflow
	}
	var buf [20]byte
	val := strconv.AppendInt(buf[:0], next, 10)
	if err := x.put(store.Mutation{Key: key, Value: val, ExpireAt: old.ExpireAt}); err != nil {
		return err
	}
	x.conn.WriteInt64(next)
	return nil
}

// addInt64 returns a+b and whether it did not overflow.
func addInt64(a, b int64) (int64, bool) {
	if (b > 0 && a > math.MaxInt64-b) || (b < 0 && a < math.MinInt64-b) {
		return 0, false
	}
	return a + b, true
}

func cmdAppend(x *call) error {
	key, tail := x.args[1], x.args[2]
	defer x.lockKey(key).Unlock()
	old, err := x.getLatest(key)
	if err != nil {
		return err
	}
	if int64(len(old.Value))+int64(len(tail)) > x.s.live.maxBulk() {
		return errStringSize
	}
	val := make([]byte, 0, len(old.Value)+len(tail))
	val = append(append(val, old.Value...), tail...)
	if err := x.put(store.Mutation{Key: key, Value: val, ExpireAt: old.ExpireAt}); err != nil {
		return err
	}
	x.conn.WriteInt(len(val))
	return nil
}

func cmdStrlen(x *call) error {
	it, err := x.get(x.args[1])
	if err != nil {
		return err
	}
	x.conn.WriteInt(len(it.Value))
	return nil
}
