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

var errSameObject = newReplyError("ERR source and destination objects are the same")

// cmdCopy answers COPY source destination [DB destination-db] [REPLACE].
func cmdCopy(x *call) error {
	src, dst := x.args[1], x.args[2]
	replace := false
	dstDB := x.c.db
	for j := 3; j < len(x.args); j++ {
		switch a := x.args[j]; {
		case equalFold(a, "replace"):
			replace = true
		case equalFold(a, "db") && j+1 < len(x.args):
			db, err := x.parseDB(x.args[j+1])
			if err != nil {
				return err
			}
			dstDB = db
			j++
		default:
			return errSyntax
		}
	}
	if bytes.Equal(src, dst) && dstDB == x.c.db {
		return errSameObject
	}
	defer x.unlockKeys(x.lockKeys([][]byte{src, dst}))
	from, to, err := x.readPair(src, dst, dstDB)
	if err != nil {
		return err
	}
	if !from.Found || (to.Found && !replace) {
		x.conn.WriteInt(0)
		return nil
	}
	if err := x.putManyIn(dstDB, []store.Mutation{{Key: dst, Value: from.Value, ExpireAt: from.ExpireAt}}); err != nil {
		return err
	}
	x.conn.WriteInt(1)
	return nil
}

// cmdMove answers MOVE key db: the key goes to database db unless it is
// there already, written there before it is deleted here.
func cmdMove(x *call) error {
	key := x.args[1]
	db, err := x.parseDB(x.args[2])
	if err != nil {
		return err
	}
	if db == x.c.db {
		return errSameObject
	}
	defer x.unlockKeys(x.lockKeys([][]byte{key}))
	from, to, err := x.readPair(key, key, db)
	if err != nil {
		return err
	}
	if !from.Found {
		// Nothing to move, as far as the read saw; a tombstone still goes
		// here, as DEL writes one whatever its read saw, so that a copy
		// the read missed (a failed write's) cannot surface after a MOVE
		// that answered that the key is not in this database.
		if err := x.put(store.Mutation{Key: key, Delete: true}); err != nil {
			return err
		}
	}
	if !from.Found || to.Found {
		x.conn.WriteInt(0)
		return nil
	}
	if err := x.putManyIn(db, []store.Mutation{{Key: key, Value: from.Value, ExpireAt: from.ExpireAt}}); err != nil {
		return err
	}
	if err := x.put(store.Mutation{Key: key, Delete: true}); err != nil {
		return err
	}
	x.conn.WriteInt(1)
	return nil
}

// cmdSwapDB answers SWAPDB with a refusal: in a cluster a database is
// part of every key's identity on its replicas, so swapping two would
// rewrite every key of both.
func cmdSwapDB(x *call) error {
	for i, which := range []string{"first", "second"} {
		if db, ok := parseInt64(x.args[1+i]); !ok || db < math32Min || db > math32Max {
			return newReplyError("ERR invalid " + which + " DB index")
		}
	}
	for _, a := range x.args[1:] {
		if _, err := x.parseDB(a); err != nil {
			return err
		}
	}
	return newReplyError("ERR SWAPDB is not supported: a database is part of each key's identity on its replicas, so swapping two would rewrite every key of both")
}

// parseDB parses a database index for COPY, MOVE and SWAPDB.
func (x *call) parseDB(arg []byte) (int, error) {
	db, ok := parseInt64(arg)
	if !ok || db < math32Min || db > math32Max {
		return 0, errNotInteger
	}
	if db < 0 || db >= int64(x.s.cfg.Databases) {
		return 0, errDBIndex
	}
	return int(db), nil
}

// readPair reads src in the connection's database and dst in database
// db, for a read-modify-write.
func (x *call) readPair(src, dst []byte, db int) (from, to store.Item, err error) {
	if db == x.c.db {
		items, err := x.getManyLatest([][]byte{src, dst})
		if err != nil {
			return store.Item{}, store.Item{}, err
		}
		return items[0], items[1], nil
	}
	if from, err = x.getLatest(src); err != nil {
		return store.Item{}, store.Item{}, err
	}
	items, err := x.readManyIn(db, [][]byte{dst}, true)
	if err != nil {
		return store.Item{}, store.Item{}, err
	}
	return from, items[0], nil
}
