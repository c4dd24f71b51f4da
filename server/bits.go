package server

import (
	"math/bits"

	"github.com/ringcache/ringcache/server/store"
)

// Bit commands: GETBIT, SETBIT, BITCOUNT, BITPOS, BITOP. Bit 0 is the most
// significant bit of the first byte, as in Redis. The range arithmetic is
// pure (bitRange, countBits, findBit, bitop) and follows Redis 7's
// bitops.c.

var (
	errBitOffset = newReplyError("ERR bit offset is not an integer or out of range")
	errBitValue  = newReplyError("ERR bit is not an integer or out of range")
)

// parseBitOffset parses a bit offset within a string of at most maxLen
// bytes.
func parseBitOffset(b []byte, maxLen int64) (int64, error) {
	off, ok := parseInt64(b)
	if !ok || off < 0 || off>>3 >= maxLen {
		return 0, errBitOffset
	}
	return off, nil
}

func bitAt(s []byte, off int64) int {
	i := off >> 3
	if i >= int64(len(s)) {
		return 0
	}
	return int(s[i]>>(7-uint(off&7))) & 1
}

func cmdGetBit(x *call) error {
	off, err := parseBitOffset(x.args[2], x.s.live.maxBulk())
	if err != nil {
		return err
	}
	it, err := x.get(x.args[1])
	if err != nil {
		return err
	}
	x.conn.WriteInt(bitAt(it.Value, off))
	return nil
}

func cmdSetBit(x *call) error {
	key := x.args[1]
	off, err := parseBitOffset(x.args[2], x.s.live.maxBulk())
	if err != nil {
		return err
	}
	on, ok := parseInt64(x.args[3])
	if !ok || on&^1 != 0 {
		return errBitValue
	}
	defer x.lockKey(key).Unlock()
	old, err := x.getLatest(key)
	if err != nil {
		return err
	}
	prev := bitAt(old.Value, off)
	if old.Found && off>>3 < int64(len(old.Value)) && int64(prev) == on {
		// Nothing changes: as in Redis, no write (and no WATCH sees one).
		x.conn.WriteInt(prev)
		return nil
	}
	next := make([]byte, max(int64(len(old.Value)), off>>3+1))
	copy(next, old.Value)
	mask := byte(1) << (7 - uint(off&7))
	if on == 1 {
		next[off>>3] |= mask
	} else {
		next[off>>3] &^= mask
	}
	if err := x.put(store.Mutation{Key: key, Value: next, ExpireAt: old.ExpireAt}); err != nil {
		return err
	}
	x.conn.WriteInt(prev)
	return nil
}

// bitRange turns BITCOUNT/BITPOS start and end (negative from the end) in
// bytes or bits into an inclusive range of bits of a string of n bytes;
// empty reports an empty range.
func bitRange(n, start, end int64, isBit bool) (lo, hi int64, empty bool) {
	total := n
	if isBit {
		total = n << 3
	}
	if start < 0 {
		start += total
	}
	if end < 0 {
		end += total
	}
	start, end = max(start, 0), max(end, 0)
	end = min(end, total-1)
	if start > end {
		return 0, 0, true
	}
	if isBit {
		return start, end, false
	}
	return start << 3, end<<3 + 7, false
}

// countBits counts the set bits of s in the inclusive bit range.
func countBits(s []byte, lo, hi int64) int64 {
	var n int64
	for lo <= hi && lo&7 != 0 {
		n += int64(bitAt(s, lo))
		lo++
	}
	for ; lo+7 <= hi; lo += 8 {
		n += int64(bits.OnesCount8(s[lo>>3]))
	}
	for ; lo <= hi; lo++ {
		n += int64(bitAt(s, lo))
	}
	return n
}

// findBit returns the first bit equal to bit in the inclusive bit range,
// or -1.
func findBit(s []byte, lo, hi int64, bit int) int64 {
	skip := byte(0)
	if bit == 0 {
		skip = 0xff
	}
	for i := lo; i <= hi; {
		if i&7 == 0 && i+7 <= hi && s[i>>3] == skip {
			i += 8
			continue
		}
		if bitAt(s, i) == bit {
			return i
		}
		i++
	}
	return -1
}

// parseBitUnit reads BITCOUNT/BITPOS's BYTE or BIT.
func parseBitUnit(b []byte) (isBit bool, err error) {
	switch {
	case equalFold(b, "bit"):
		return true, nil
	case equalFold(b, "byte"):
		return false, nil
	}
	return false, errSyntax
}

func cmdBitCount(x *call) error {
	it, err := x.get(x.args[1])
	if err != nil {
		return err
	}
	if !it.Found {
		x.conn.WriteInt(0)
		return nil
	}
	s := it.Value
	lo, hi, empty := int64(0), int64(len(s))<<3-1, len(s) == 0
	switch len(x.args) {
	case 2:
	case 4, 5:
		start, ok1 := parseInt64(x.args[2])
		end, ok2 := parseInt64(x.args[3])
		if !ok1 || !ok2 {
			return errNotInteger
		}
		if start < 0 && end < 0 && start > end {
			x.conn.WriteInt(0)
			return nil
		}
		isBit := false
		if len(x.args) == 5 {
			if isBit, err = parseBitUnit(x.args[4]); err != nil {
				return err
			}
		}
		lo, hi, empty = bitRange(int64(len(s)), start, end, isBit)
	default:
		return errSyntax
	}
	if empty {
		x.conn.WriteInt(0)
		return nil
	}
	x.conn.WriteInt64(countBits(s, lo, hi))
	return nil
}

func cmdBitPos(x *call) error {
	bit, ok := parseInt64(x.args[2])
	if !ok {
		return errNotInteger
	}
	if bit != 0 && bit != 1 {
		return newReplyError("ERR The bit argument must be 1 or 0.")
	}
	it, err := x.get(x.args[1])
	if err != nil {
		return err
	}
	if !it.Found {
		// A missing key is an endless run of clear bits.
		if bit == 1 {
			x.conn.WriteInt(-1)
		} else {
			x.conn.WriteInt(0)
		}
		return nil
	}
	s := it.Value
	n := int64(len(s))
	lo, hi, empty := int64(0), n<<3-1, n == 0
	endGiven := false
	switch len(x.args) {
	case 3:
	case 4, 5, 6:
		start, ok := parseInt64(x.args[3])
		if !ok {
			return errNotInteger
		}
		isBit := false
		if len(x.args) == 6 {
			if isBit, err = parseBitUnit(x.args[5]); err != nil {
				return err
			}
		}
		end := n - 1
		if isBit {
			end = n<<3 + 7
		}
		if len(x.args) >= 5 {
			if end, ok = parseInt64(x.args[4]); !ok {
				return errNotInteger
			}
			endGiven = true
		}
		lo, hi, empty = bitRange(n, start, end, isBit)
	default:
		return errSyntax
	}
	if empty {
		x.conn.WriteInt(-1)
		return nil
	}
	pos := findBit(s, lo, hi, int(bit))
	if pos < 0 && bit == 0 && !endGiven {
		// Without an end the string counts as padded with clear bits:
		// the first one past the range's last byte.
		pos = (hi>>3 + 1) << 3
	}
	x.conn.WriteInt64(pos)
	return nil
}

// bitop computes BITOP op over srcs; missing keys are empty strings and
// shorter strings are padded with zero bytes.
func bitop(op string, srcs [][]byte) []byte {
	n := 0
	for _, s := range srcs {
		n = max(n, len(s))
	}
	out := make([]byte, n)
	if op == "not" {
		for i, b := range srcs[0] {
			out[i] = ^b
		}
		return out
	}
	for i := range out {
		var acc byte
		for j, s := range srcs {
			var b byte
			if i < len(s) {
				b = s[i]
			}
			switch {
			case j == 0:
				acc = b
			case op == "and":
				acc &= b
			case op == "or":
				acc |= b
			default:
				acc ^= b
			}
		}
		out[i] = acc
	}
	return out
}

func cmdBitOp(x *call) error {
	var op string
	for _, name := range []string{"and", "or", "xor", "not"} {
		if equalFold(x.args[1], name) {
			op = name
		}
	}
	if op == "" {
		return errSyntax
	}
	dest, srcKeys := x.args[2], x.args[3:]
	if op == "not" && len(srcKeys) != 1 {
		return newReplyError("ERR BITOP NOT must be called with a single source key.")
	}
	keys := append([][]byte{dest}, srcKeys...)
	defer x.unlockKeys(x.lockKeys(keys))
	items, err := x.getManyLatest(keys)
	if err != nil {
		return err
	}
	srcs := make([][]byte, len(srcKeys))
	for i, it := range items[1:] {
		srcs[i] = it.Value
	}
	out := bitop(op, srcs)
	m := store.Mutation{Key: dest, Value: out}
	if len(out) == 0 {
		if !items[0].Found {
			// Nothing to delete: as in Redis, no write.
			x.conn.WriteInt(0)
			return nil
		}
		m = store.Mutation{Key: dest, Delete: true}
	}
	if err := x.put(m); err != nil {
		return err
	}
	x.conn.WriteInt(len(out))
	return nil
}
