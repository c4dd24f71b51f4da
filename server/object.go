package server

import (
	"strconv"

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

// cmdObjectIdletime answers 0: no access time is kept per key.
func cmdObjectIdletime(x *call) error {
	_, ok, err := x.objectKey()
	if ok {
		x.conn.WriteInt(0)
	}
	return err
}

func cmdObjectFreq(x *call) error {
	_, ok, err := x.objectKey()
	if ok {
		return newReplyError("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
	}
	return err
}

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

// recordOverhead approximates what the engine stores per record beside
// the key and the value: its version, expiry, flags and the LSM's key
// framing.
const recordOverhead = 32

// cmdMemoryUsage answers MEMORY USAGE key [SAMPLES count] with the bytes
// the record takes in the engine: key, value and per-record overhead.
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
		x.conn.WriteInt(len(x.args[2]) + len(it.Value) + recordOverhead)
	}
	return err
}

func cmdMemoryHelp(x *call) error {
	return writeHelp(x, "MEMORY", []string{
		"USAGE <key> [SAMPLES <count>]", "    Return memory in bytes used by <key> and its value. Nested values are",
		"    sampled up to <count> times (default: 5, 0 means sample all).",
	})
}
