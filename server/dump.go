package server

import (
	"errors"

	"github.com/ringcache/ringcache/server/rdb"
	"github.com/ringcache/ringcache/server/store"
)

// DUMP and RESTORE use Redis's serialization format for strings (package
// rdb), so values move between redis-server and ringcache with standard
// tools.

// RESTORE's errors for a payload rdb.Decode refuses, in Redis's words.
var (
	errDumpPayload = newReplyError("ERR DUMP payload version or checksum are wrong")
	errBadData     = newReplyError("ERR Bad data format")
	errNotString   = newReplyError("ERR the payload holds a value of another type than string; ringcache stores strings only")
)

func cmdDump(x *call) error {
	it, err := x.get(x.args[1])
	if err != nil {
		return err
	}
	if !it.Found {
		x.conn.WriteNull()
		return nil
	}
	x.conn.WriteBulk(rdb.Encode(it.Value))
	return nil
}

// restoreOptions is RESTORE's options after the payload.
type restoreOptions struct {
	replace, absTTL  bool
	idletime, freq   int64
	haveIdle, hasLFU bool
}

func parseRestore(args [][]byte) (restoreOptions, error) {
	req := restoreOptions{}
	for j := 4; j < len(args); j++ {
		more := j+1 < len(args)
		switch a := args[j]; {
		case equalFold(a, "replace"):
			req.replace = true
		case equalFold(a, "absttl"):
			req.absTTL = true
		case equalFold(a, "idletime") && more && !req.hasLFU:
			v, ok := parseInt64(args[j+1])
			if !ok {
				return req, errNotInteger
			}
			if v < 0 {
				return req, newReplyError("ERR Invalid IDLETIME value, must be >= 0")
			}
			req.idletime, req.haveIdle = v, true
			j++
		case equalFold(a, "freq") && more && !req.haveIdle:
			v, ok := parseInt64(args[j+1])
			if !ok {
				return req, errNotInteger
			}
			if v < 0 || v > 255 {
				return req, newReplyError("ERR Invalid FREQ value, must be >= 0 and <= 255")
			}
			req.freq, req.hasLFU = v, true
			j++
		default:
			return req, errSyntax
		}
	}
	return req, nil
}

// cmdRestore answers RESTORE key ttl payload [REPLACE] [ABSTTL]
// [IDLETIME s] [FREQ f], checking in Redis's order: options, an existing
// key, the TTL, the payload. IDLETIME and FREQ are checked and ignored: no
// access data is kept per key.
func cmdRestore(x *call) error {
	req, err := parseRestore(x.args)
	if err != nil {
		return err
	}
	key := x.args[1]
	defer x.lockKey(key).Unlock()
	old, err := x.getLatest(key)
	if err != nil {
		return err
	}
	if old.Found && !req.replace {
		return newReplyError("BUSYKEY Target key name already exists.")
	}
	ttl, ok := parseInt64(x.args[2])
	switch {
	case !ok:
		return errNotInteger
	case ttl < 0:
		return newReplyError("ERR Invalid TTL value, must be >= 0")
	}
	v, err := rdb.Decode(x.args[3], x.s.live.maxBulk())
	switch {
	case errors.Is(err, rdb.ErrChecksum):
		return errDumpPayload
	case errors.Is(err, rdb.ErrNotString):
		return errNotString
	case err != nil:
		return errBadData
	}
	at := ttl
	if at != 0 && !req.absTTL {
		at += x.nowMs()
	}
	if at != 0 && at <= x.nowMs() {
		// Already expired: nothing is created, and a replaced key goes.
		if old.Found {
			if err := x.put(store.Mutation{Key: key, Delete: true}); err != nil {
				return err
			}
		}
		x.conn.WriteString("OK")
		return nil
	}
	if err := x.put(store.Mutation{Key: key, Value: v, ExpireAt: at}); err != nil {
		return err
	}
	x.conn.WriteString("OK")
	return nil
}
