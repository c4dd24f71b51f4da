package server

import (
	"bytes"

	"github.com/ringcache/ringcache/server/store"
)

// Generic key commands.

// cmdDel deletes every named key and answers how many existed. The read
// only counts: a tombstone is written for every distinct key whatever it
// saw, so that a key the read missed (a replica behind, a copy the quorum
// did not include) is deleted all the same.
func cmdDel(x *call) error {
	keys := x.args[1:]
	stripes := x.lockKeys(keys)
	defer x.unlockKeys(stripes)
	items, err := x.getMany(keys)
	if err != nil {
		return err
	}
	muts := make([]store.Mutation, 0, len(keys))
	var seen map[string]struct{} // large DELs: dedupe in O(n)
	if len(keys) > 32 {
		seen = make(map[string]struct{}, len(keys))
	}
	found := 0
	for i, it := range items {
		if seen != nil {
			if _, dup := seen[string(keys[i])]; dup {
				continue
			}
			seen[string(keys[i])] = struct{}{}
		} else if seenBefore(keys, i) {
			continue
		}
		if it.Found {
			found++
		}
		muts = append(muts, store.Mutation{Key: keys[i], Delete: true})
	}
	if err := x.putMany(muts); err != nil {
		return err
	}
	x.conn.WriteInt(found)
	return nil
}

// seenBefore reports whether keys[i] also appears earlier in keys, so DEL a a
// counts a once like Redis.
func seenBefore(keys [][]byte, i int) bool {
	for j := 0; j < i; j++ {
		if bytes.Equal(keys[j], keys[i]) {
			return true
		}
	}
	return false
}

// cmdExists counts existing keys; a key named twice counts twice.
func cmdExists(x *call) error {
	items, err := x.getMany(x.args[1:])
	if err != nil {
		return err
	}
	n := 0
	for _, it := range items {
		if it.Found {
			n++
		}
	}
	x.conn.WriteInt(n)
	return nil
}

func cmdExpire(x *call) error    { return x.expire("expire", 1000, false) }
func cmdPExpire(x *call) error   { return x.expire("pexpire", 1, false) }
func cmdExpireAt(x *call) error  { return x.expire("expireat", 1000, true) }
func cmdPExpireAt(x *call) error { return x.expire("pexpireat", 1, true) }

// expire runs the EXPIRE family: 0 when the key is missing or a condition
// fails, 1 when the expiry is set or, being in the past, the key deleted.
func (x *call) expire(name string, unitMs int64, absolute bool) error {
	req, err := parseExpire(x.args, name, unitMs, absolute, x.nowMs())
	if err != nil {
		return err
	}
	defer x.lockKey(req.Key).Unlock()
	old, err := x.getLatest(req.Key)
	if err != nil {
		return err
	}
	if !old.Found || !req.expireAllowed(old.ExpireAt) {
		x.conn.WriteInt(0)
		return nil
	}
	if err := x.put(x.setMutation(req.Key, old.Value, req.At)); err != nil {
		return err
	}
	x.conn.WriteInt(1)
	return nil
}

func cmdTTL(x *call) error         { return x.ttl(false, false) }
func cmdPTTL(x *call) error        { return x.ttl(true, false) }
func cmdExpireTime(x *call) error  { return x.ttl(false, true) }
func cmdPExpireTime(x *call) error { return x.ttl(true, true) }

// ttl answers TTL, PTTL, EXPIRETIME and PEXPIRETIME: -2 for a missing key,
// -1 for no expiry, otherwise the remaining or absolute time, with seconds
// rounded like Redis.
func (x *call) ttl(ms, absolute bool) error {
	it, err := x.get(x.args[1])
	if err != nil {
		return err
	}
	switch {
	case !it.Found:
		x.conn.WriteInt(-2)
	case it.ExpireAt == 0:
		x.conn.WriteInt(-1)
	default:
		v := it.ExpireAt
		if !absolute {
			v = max(v-x.nowMs(), 0)
		}
		if !ms {
			v = (v + 500) / 1000
		}
		x.conn.WriteInt64(v)
	}
	return nil
}

func cmdPersist(x *call) error {
	key := x.args[1]
	defer x.lockKey(key).Unlock()
	old, err := x.getLatest(key)
	if err != nil {
		return err
	}
	if !old.Found || old.ExpireAt == 0 {
		x.conn.WriteInt(0)
		return nil
	}
	if err := x.put(store.Mutation{Key: key, Value: old.Value}); err != nil {
		return err
	}
	x.conn.WriteInt(1)
	return nil
}
