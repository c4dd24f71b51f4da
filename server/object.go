package server

import (
	"strconv"
	"time"

	"github.com/ringcache/ringcache/server/store"
)

// Introspection of one key: TYPE, OBJECT and MEMORY USAGE (TOUCH is
// EXISTS: no access time is kept). Every
// value is a string, so TYPE answers "string" or "none".

func cmdType(x *call) error {
	it, err := x.get(x.args[1])
	if err != nil {
		return err
	}
	if it.Found {
		x.conn.WriteString("string")
	} else {
		x.conn.WriteString("none")
	}
	return nil
}

// encoding is the encoding Redis would report for a string value written
// by SET: "int" for an integer it can hold as a long, "embstr" up to 44
// bytes, "raw" beyond. (Redis also reports "raw" for short strings grown by
// APPEND or SETRANGE; ringcache keeps no such history.)
func encoding(v []byte) string {
	if len(v) <= 20 {
		if n, ok := parseInt64(v); ok && strconv.FormatInt(n, 10) == string(v) {
			return "int"
		}
	}
	if len(v) <= 44 {
		return "embstr"
	}
	return "raw"
}

// objectKey reads the key of OBJECT and MEMORY USAGE; a missing key
// answers a null.
func (x *call) objectKey() (store.Item, bool, error) {
	it, err := x.get(x.args[2])
	if err != nil || !it.Found {
		if err == nil {
			x.conn.WriteNull()
		}
		return it, false, err
	}
	return it, true, nil
}

func cmdObjectEncoding(x *call) error {
	it, ok, err := x.objectKey()
	if ok {
		x.conn.WriteBulkString(encoding(it.Value))
	}
	return err
}

// Redis shares the integers 0..9999 and reports them with this reference
// count.
const sharedRefcount = 2147483647

func cmdObjectRefcount(x *call) error {
	it, ok, err := x.objectKey()
	if ok {
		if n, isInt := parseInt64(it.Value); isInt && encoding(it.Value) == "int" && n >= 0 && n < 10000 {
			x.conn.WriteInt(sharedRefcount)
		} else {
			x.conn.WriteInt(1)
		}
	}
	return err
}

// cmdObjectIdletime answers the key's idle time in seconds: since its
// last read or write, as the node's access sketch knows it (engine/evict),
// looked at before this command's own read. Without a budget no reads are
// tracked, and the idle time is the time since the key was written.
func cmdObjectIdletime(x *call) error {
	acc := x.peekAccess()
	it, ok, err := x.objectKey()
	if !ok {
		return err
	}
	ms := max(time.Now().UnixMilli()-it.Version.Wall, 0)
	if m := x.s.cfg.Memory; m != nil {
		var tracked bool
		if ms, tracked = m.Idle(x.objectStoreKey(), acc, it.Version.Wall); !tracked {
			return newReplyError("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
		}
	}
	x.conn.WriteInt(int(ms / 1000))
	return nil
}

// cmdObjectFreq answers the key's logarithmic access frequency under an
// LFU policy, as Redis does.
func cmdObjectFreq(x *call) error {
	acc := x.peekAccess()
	it, ok, err := x.objectKey()
	if !ok {
		return err
	}
	if m := x.s.cfg.Memory; m != nil {
		if f, tracked := m.Freq(x.objectStoreKey(), acc, it.Version.Wall); tracked {
			x.conn.WriteInt(f)
			return nil
		}
	}
	return newReplyError("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
}

// peekAccess returns what the node knows of the reads of OBJECT's key
// before reading it, so that OBJECT does not count as an access (Redis's
// LOOKUP_NOTOUCH).
func (x *call) peekAccess() KeyAccess {
	if m := x.s.cfg.Memory; m != nil {
		return m.Peek(x.objectStoreKey())
	}
	return KeyAccess{}
}

// objectStoreKey is the store key of OBJECT's key.
func (x *call) objectStoreKey() []byte { return storeKeys(x.c.db, x.args[2:3])[0] }

func cmdObjectHelp(x *call) error {
	return writeHelp(x, "OBJECT", []string{
		"ENCODING <key>", "    Return the kind of internal representation used in order to store the value",
		"    associated with a <key>.",
		"FREQ <key>", "    Return the access frequency index of the <key>. The returned integer is",
		"    proportional to the logarithm of the recent access frequency of the key.",
		"IDLETIME <key>", "    Return the idle time of the <key>, that is the approximated number of",
		"    seconds elapsed since the last access to the key.",
		"REFCOUNT <key>", "    Return the number of references of the value associated with the specified",
		"    <key>.",
	})
}

// recordBytes is what the engine counts for a record in used_memory,
// its dataset size: key, value and a fixed overhead, plus the expiry index
// entry of a record with a TTL. It is engine.RecordBytes, which this
// package does not import; TestMemoryUsageIsTheEngineCount keeps the two
// equal.
func recordBytes(keyLen, valueLen int, expires bool) int64 {
	n := int64(keyLen + valueLen + 64)
	if expires {
		n += int64(keyLen + 48)
	}
	return n
}

// cmdMemoryUsage answers MEMORY USAGE key [SAMPLES count] with the bytes
// the record counts in used_memory (recordBytes).
func cmdMemoryUsage(x *call) error {
	if len(x.args) != 3 {
		if len(x.args) != 5 || !equalFold(x.args[3], "samples") {
			return errSyntax
		}
		if _, ok := parseInt64(x.args[4]); !ok {
			return errNotInteger
		}
	}
	it, ok, err := x.objectKey()
	if ok {
		x.conn.WriteInt(int(recordBytes(len(storeKeys(x.c.db, x.args[2:3])[0]), len(it.Value), it.ExpireAt != 0)))
	}
	return err
}

func cmdMemoryHelp(x *call) error {
	return writeHelp(x, "MEMORY", []string{
		"USAGE <key> [SAMPLES <count>]", "    Return memory in bytes used by <key> and its value. Nested values are",
		"    sampled up to <count> times (default: 5, 0 means sample all).",
	})
}
