package server

import (
	"math/rand/v2"
	"strconv"
)

// SCAN, KEYS and RANDOMKEY list keys through the store's Scanner, which
// walks the keyspace in token order: a cursor is a position in that
// order, so keys that come and go do not move the others, and a key
// present for a whole iteration is returned at least once, as Redis
// promises. MATCH and TYPE filter what a step found; COUNT is how many
// keys a step reads, as Redis's is a hint of how much work a step does.

// scanDefaultCount is Redis's COUNT default.
const scanDefaultCount = 10

// errNoScan answers SCAN, KEYS and RANDOMKEY on a store that cannot list
// its keys.
var errNoScan = newReplyError("ERR this store cannot list its keys")

// keysCount is how many keys one step of KEYS and RANDOMKEY reads.
const keysCount = 1000

func (x *call) scanner() (Scanner, error) {
	sc, ok := x.s.store.(Scanner)
	if !ok {
		return nil, errNoScan
	}
	return sc, nil
}

// parseCursor reads a SCAN cursor as Redis does, with C's strtoul: an
// optional sign and decimal digits (a negative value wraps around, so -1
// is the largest cursor), nothing before or after them; an empty cursor
// is 0.
func parseCursor(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, true
	}
	neg := b[0] == '-'
	if b[0] == '-' || b[0] == '+' {
		b = b[1:]
	}
	if len(b) == 0 || b[0] < '0' || b[0] > '9' {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// cmdScan answers SCAN cursor [MATCH pattern] [COUNT count] [TYPE type].
func cmdScan(x *call) error {
	cursor, ok := parseCursor(x.args[1])
	if !ok {
		return newReplyError("ERR invalid cursor")
	}
	count := scanDefaultCount
	var pattern []byte
	typed := false
	for i := 2; i < len(x.args); i += 2 {
		if i+1 >= len(x.args) {
			return errSyntax
		}
		v := x.args[i+1]
		switch {
		case equalFold(x.args[i], "match"):
			pattern = v
		case equalFold(x.args[i], "count"):
			n, ok := parseInt64(v)
			if !ok {
				return errNotInteger
			}
			if n < 1 {
				return errSyntax
			}
			count = int(min(n, 1<<20))
		case equalFold(x.args[i], "type"):
			typed = !equalFold(v, "string")
		default:
			return errSyntax
		}
	}
	sc, err := x.scanner()
	if err != nil {
		return err
	}
	keys, next, err := sc.Scan(x.ctx(), cursor, count)
	if err != nil {
		return err
	}
	keys = x.inDB(keys)
	if typed {
		keys = keys[:0] // every key is a string
	}
	if pattern != nil && !matchAll(pattern) {
		kept := keys[:0]
		for _, k := range keys {
			if globMatch(pattern, k) {
				kept = append(kept, k)
			}
		}
		keys = kept
	}
	x.conn.WriteArray(2)
	x.conn.WriteBulkString(strconv.FormatUint(next, 10))
	x.conn.WriteArray(len(keys))
	for _, k := range keys {
		x.conn.WriteBulk(k)
	}
	return nil
}

// cmdKeys answers KEYS pattern: a whole scan, keys deduplicated (a ring
// that changes during the scan can return a key twice).
func cmdKeys(x *call) error {
	pattern := x.args[1]
	all := matchAll(pattern)
	var out [][]byte
	err := x.distinctKeys(func(k []byte) {
		if all || globMatch(pattern, k) {
			out = append(out, k)
		}
	})
	if err != nil {
		return err
	}
	x.conn.WriteArray(len(out))
	for _, k := range out {
		x.conn.WriteBulk(k)
	}
	return nil
}

// eachKeys scans the whole keyspace count keys a step and calls fn with
// each step's keys of the connection's database.
func (x *call) eachKeys(count int, fn func(keys [][]byte) error) error {
	sc, err := x.scanner()
	if err != nil {
		return err
	}
	for cursor := uint64(0); ; {
		keys, next, err := sc.Scan(x.ctx(), cursor, count)
		if err != nil {
			return err
		}
		if err := fn(x.inDB(keys)); err != nil {
			return err
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// distinctKeys calls fn once with each key of the connection's database,
// a whole scan's worth (KEYS, an exact DBSIZE).
func (x *call) distinctKeys(fn func(key []byte)) error {
	seen := map[string]struct{}{}
	return x.eachKeys(keysCount, func(keys [][]byte) error {
		for _, k := range keys {
			if _, dup := seen[string(k)]; !dup {
				seen[string(k)] = struct{}{}
				fn(k)
			}
		}
		return nil
	})
}

// cmdRandomKey answers RANDOMKEY: the first key at or after a random
// position in the scan order, wrapping to the start; nil when there is
// none. Keys are not equally likely: a key after a wide gap in the token
// order is picked more often.
func cmdRandomKey(x *call) error {
	sc, err := x.scanner()
	if err != nil {
		return err
	}
	start := rand.Uint64N(1 << 53)
	for cursor, wrapped := start, false; ; {
		keys, next, err := sc.Scan(x.ctx(), cursor, 1)
		if err != nil {
			return err
		}
		if keys = x.inDB(keys); len(keys) > 0 {
			x.conn.WriteBulk(keys[0])
			return nil
		}
		if next == 0 {
			if wrapped || start == 0 {
				x.conn.WriteNull()
				return nil
			}
			wrapped = true
		}
		if wrapped && next >= start {
			x.conn.WriteNull()
			return nil
		}
		cursor = next
	}
}

// inDB keeps, of the store keys sks, the keys of the connection's
// database, as its keys (in place).
func (x *call) inDB(sks [][]byte) [][]byte {
	out := sks[:0]
	for _, sk := range sks {
		if db, k, ok := splitDBKey(sk); ok && db == x.c.db {
			out = append(out, k)
		}
	}
	return out
}

// matchAll reports whether pattern is "*", which matches every key.
func matchAll(pattern []byte) bool { return len(pattern) == 1 && pattern[0] == '*' }

// globMatch reports whether s matches pattern, Redis's glob-style
// patterns: '*' any run of bytes, '?' one byte, '[...]' one byte of a
// set ('^' first negates it, 'a-z' is a range either way round, '\'
// escapes), '\' escapes the next byte; anything else matches itself. An
// unterminated set ends with the pattern. A '*' that cannot match
// backtracks to the last '*' only, which for these patterns finds a match
// whenever one exists.
func globMatch(pattern, s []byte) bool {
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pattern) {
			if pattern[p] == '*' {
				for p < len(pattern) && pattern[p] == '*' {
					p++
				}
				if p == len(pattern) {
					return true
				}
				starP, starI = p, i
				continue
			}
			if n, ok := matchByte(pattern[p:], s[i]); ok {
				p += n
				i++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		starI++
		p, i = starP, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchByte matches byte c against the single-byte element pattern
// starts with ('?', a set, an escape or a literal): how many pattern
// bytes the element takes, and whether c matched it.
func matchByte(pattern []byte, c byte) (int, bool) {
	switch pattern[0] {
	case '?':
		return 1, true
	case '\\':
		if len(pattern) >= 2 {
			return 2, pattern[1] == c
		}
		return 1, c == '\\'
	case '[':
		p := 1
		not := p < len(pattern) && pattern[p] == '^'
		if not {
			p++
		}
		match := false
		for ; ; p++ {
			switch {
			case p >= len(pattern):
				return len(pattern), match != not // unterminated: the set ends with the pattern
			case pattern[p] == '\\' && p+1 < len(pattern):
				p++
				match = match || pattern[p] == c
			case pattern[p] == ']':
				return p + 1, match != not
			case p+2 < len(pattern) && pattern[p+1] == '-':
				lo, hi := pattern[p], pattern[p+2]
				if lo > hi {
					lo, hi = hi, lo
				}
				match = match || (c >= lo && c <= hi)
				p += 2
			default:
				match = match || pattern[p] == c
			}
		}
	}
	return 1, pattern[0] == c
}
