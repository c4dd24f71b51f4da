package server

import (
	"bytes"

	"github.com/ringcache/ringcache/server/store"
)

// Commands that move a value between two keys: RENAME, RENAMENX and COPY.
// The two keys may live on different replicas in a cluster, so a move is
// two writes under both key locks: the destination first, then the source's
// delete. A failure between them leaves the value under both names, never
// under neither; the pair is atomic on one node, not across coordinators.

var errNoSuchKey = newReplyError("ERR no such key")

func cmdRename(x *call) error   { return x.rename(false) }
func cmdRenameNX(x *call) error { return x.rename(true) }

func (x *call) rename(nx bool) error {
	src, dst := x.args[1], x.args[2]
	defer x.unlockKeys(x.lockKeys([][]byte{src, dst}))
	items, err := x.getManyLatest([][]byte{src, dst})
	if err != nil {
		return err
	}
	if !items[0].Found {
		return errNoSuchKey
	}
	switch {
	case bytes.Equal(src, dst) && nx:
		x.conn.WriteInt(0)
		return nil
	case bytes.Equal(src, dst):
		x.conn.WriteString("OK")
		return nil
	case nx && items[1].Found:
		x.conn.WriteInt(0)
		return nil
	}
	if err := x.put(store.Mutation{Key: dst, Value: items[0].Value, ExpireAt: items[0].ExpireAt}); err != nil {
		return err
	}
	if err := x.put(store.Mutation{Key: src, Delete: true}); err != nil {
		return err
	}
	if nx {
		x.conn.WriteInt(1)
	} else {
		x.conn.WriteString("OK")
	}
	return nil
}

// cmdCopy answers COPY source destination [DB destination-db] [REPLACE].
func cmdCopy(x *call) error {
	src, dst := x.args[1], x.args[2]
	replace := false
	for j := 3; j < len(x.args); j++ {
		switch a := x.args[j]; {
		case equalFold(a, "replace"):
			replace = true
		case equalFold(a, "db") && j+1 < len(x.args):
			db, ok := parseInt64(x.args[j+1])
			if !ok || db < math32Min || db > math32Max {
				return errNotInteger
			}
			if db != 0 {
				return errDBIndex
			}
			j++
		default:
			return errSyntax
		}
	}
	if bytes.Equal(src, dst) {
		return newReplyError("ERR source and destination objects are the same")
	}
	defer x.unlockKeys(x.lockKeys([][]byte{src, dst}))
	items, err := x.getManyLatest([][]byte{src, dst})
	if err != nil {
		return err
	}
	if !items[0].Found || (items[1].Found && !replace) {
		x.conn.WriteInt(0)
		return nil
	}
	if err := x.put(store.Mutation{Key: dst, Value: items[0].Value, ExpireAt: items[0].ExpireAt}); err != nil {
		return err
	}
	x.conn.WriteInt(1)
	return nil
}
