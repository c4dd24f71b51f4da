package server

import (
	"math"

	"github.com/ringcache/ringcache/server/store"
)

// BITFIELD and BITFIELD_RO treat a string as an array of integers of 1 to
// 64 bits (i1..i64, u1..u63) at any bit offset, most significant bit
// first, as SETBIT numbers bits. The arithmetic (fieldGet, fieldSet,
// the overflow checks) is pure and follows Redis 7's bitops.c; the
// command is a read-modify-write of the key under its lock.

var (
	errFieldType    = newReplyError("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")
	errOverflowType = newReplyError("ERR Invalid OVERFLOW type specified")
	errFieldRO      = newReplyError("ERR BITFIELD_RO only supports the GET subcommand")
)

// Overflow behaviours.
const (
	overflowWrap = iota
	overflowSat
	overflowFail
)

// fieldOp is one GET, SET or INCRBY of a BITFIELD.
type fieldOp struct {
	op     byte // 'g', 's', 'i'
	signed bool
	bits   uint
	offset int64
	value  int64 // SET's value, INCRBY's increment
	ow     int
}

func cmdBitfield(x *call) error   { return x.bitfield(false) }
func cmdBitfieldRO(x *call) error { return x.bitfield(true) }

func (x *call) bitfield(readonly bool) error {
	ops, err := parseFieldOps(x.args[2:], x.s.live.maxBulk())
	if err != nil {
		return err
	}
	var highest int64 = -1 // the last bit a write reaches
	for _, o := range ops {
		if o.op != 'g' {
			highest = max(highest, o.offset+int64(o.bits)-1)
		}
	}
	if highest < 0 {
		it, err := x.get(x.args[1])
		if err != nil {
			return err
		}
		x.conn.WriteArray(len(ops))
		for _, o := range ops {
			x.conn.WriteInt64(fieldGet(it.Value, o.offset, o.bits, o.signed))
		}
		return nil
	}
	if readonly {
		return errFieldRO
	}
	key := x.args[1]
	defer x.lockKey(key).Unlock()
	old, err := x.getLatest(key)
	if err != nil {
		return err
	}
	v := old.Value
	grown := !old.Found || int64(len(v)) <= highest>>3
	if grown {
		v = make([]byte, max(int64(len(old.Value)), highest>>3+1))
		copy(v, old.Value)
	} else {
		v = append([]byte(nil), v...)
	}
	changed := grown
	type result struct {
		v   int64
		nil bool
	}
	res := make([]result, len(ops))
	for j, o := range ops {
		if o.op == 'g' {
			res[j] = result{v: fieldGet(v, o.offset, o.bits, o.signed)}
			continue
		}
		oldVal := fieldGet(v, o.offset, o.bits, o.signed)
		newVal, ret, fail := fieldUpdate(o, oldVal)
		if fail {
			res[j] = result{nil: true}
			continue
		}
		fieldSet(v, o.offset, o.bits, uint64(newVal))
		changed = changed || newVal != oldVal
		res[j] = result{v: ret}
	}
	if changed {
		if err := x.put(store.Mutation{Key: key, Value: v, ExpireAt: old.ExpireAt}); err != nil {
			return err
		}
	}
	x.conn.WriteArray(len(res))
	for _, r := range res {
		if r.nil {
			x.conn.WriteNull()
		} else {
			x.conn.WriteInt64(r.v)
		}
	}
	return nil
}

// parseFieldOps parses BITFIELD's operations, in Redis's order of checks:
// the subcommand, the type, the offset, then the value.
func parseFieldOps(args [][]byte, maxLen int64) ([]fieldOp, error) {
	var ops []fieldOp
	ow := overflowWrap
	for j := 0; j < len(args); j++ {
		rem := len(args) - j - 1
		var op byte
		switch a := args[j]; {
		case equalFold(a, "get") && rem >= 2:
			op = 'g'
		case equalFold(a, "set") && rem >= 3:
			op = 's'
		case equalFold(a, "incrby") && rem >= 3:
			op = 'i'
		case equalFold(a, "overflow") && rem >= 1:
			j++
			switch t := args[j]; {
			case equalFold(t, "wrap"):
				ow = overflowWrap
			case equalFold(t, "sat"):
				ow = overflowSat
			case equalFold(t, "fail"):
				ow = overflowFail
			default:
				return nil, errOverflowType
			}
			continue
		default:
			return nil, errSyntax
		}
		o := fieldOp{op: op, ow: ow}
		t := args[j+1]
		if len(t) < 2 || (t[0] != 'i' && t[0] != 'u') { // lower case only, as in Redis
			return nil, errFieldType
		}
		o.signed = t[0] == 'i'
		n, ok := parseInt64(t[1:])
		if !ok || n < 1 || (o.signed && n > 64) || (!o.signed && n > 63) {
			return nil, errFieldType
		}
		o.bits = uint(n)
		off := args[j+2]
		hash := len(off) > 0 && off[0] == '#'
		if hash {
			off = off[1:]
		}
		o.offset, ok = parseInt64(off)
		if hash {
			if o.offset < 0 || o.offset > math.MaxInt64/int64(o.bits) {
				return nil, errBitOffset // negative, or the product would wrap
			}
			o.offset *= int64(o.bits)
		}
		if !ok || o.offset < 0 || o.offset>>3 >= maxLen {
			return nil, errBitOffset
		}
		if op != 'g' {
			if o.value, ok = parseInt64(args[j+3]); !ok {
				return nil, errNotInteger
			}
			j++
		}
		j += 2
		ops = append(ops, o)
	}
	return ops, nil
}

// fieldGet reads the bits-wide integer at bit offset off of s (zeros past
// its end), sign-extended when signed.
func fieldGet(s []byte, off int64, bits uint, signed bool) int64 {
	var v uint64
	for j := int64(0); j < int64(bits); j++ {
		v = v<<1 | uint64(bitAt(s, off+j))
	}
	if signed && bits < 64 && v&(1<<(bits-1)) != 0 {
		v |= ^uint64(0) << bits
	}
	return int64(v)
}

// fieldSet writes the low bits of v at bit offset off of s, which must
// hold them.
func fieldSet(s []byte, off int64, bits uint, v uint64) {
	for j := uint(0); j < bits; j++ {
		b := (off + int64(j))
		mask := byte(1) << (7 - uint(b&7))
		if v&(1<<(bits-1-j)) != 0 {
			s[b>>3] |= mask
		} else {
			s[b>>3] &^= mask
		}
	}
}

// fieldUpdate applies a SET or INCRBY to the field's current value: the
// value to store, the value to reply (SET: the old one, INCRBY: the new
// one), and whether the operation fails (overflow with FAIL).
func fieldUpdate(o fieldOp, old int64) (next, reply int64, fail bool) {
	value, incr := old, o.value
	if o.op == 's' {
		value, incr = o.value, 0
	}
	var over bool
	if o.signed {
		next, over = signedOverflow(value, incr, o.bits, o.ow)
	} else {
		var u uint64
		u, over = unsignedOverflow(uint64(value), incr, o.bits, o.ow)
		next = int64(u)
	}
	if over && o.ow == overflowFail {
		return 0, 0, true
	}
	if o.op == 's' {
		return next, old, false
	}
	return next, next, false
}

// unsignedOverflow adds incr to value as a bits-wide unsigned field and
// returns the result and whether it overflowed, wrapped or saturated as
// ow says.
func unsignedOverflow(value uint64, incr int64, bits uint, ow int) (uint64, bool) {
	maxV := uint64(1)<<bits - 1
	maxIncr := int64(maxV - value)
	minIncr := -int64(value)
	switch {
	case value > maxV || (incr > 0 && incr > maxIncr):
		if ow == overflowSat {
			return maxV, true
		}
	case incr < 0 && incr < minIncr:
		if ow == overflowSat {
			return 0, true
		}
	default:
		return value + uint64(incr), false
	}
	return (value + uint64(incr)) & maxV, true
}

// signedOverflow is unsignedOverflow for a bits-wide two's complement
// field.
func signedOverflow(value, incr int64, bits uint, ow int) (int64, bool) {
	maxV := int64(1)<<(bits-1) - 1
	if bits == 64 {
		maxV = 1<<63 - 1
	}
	minV := -maxV - 1
	maxIncr := int64(uint64(maxV) - uint64(value))
	minIncr := minV - value
	switch {
	case value > maxV || (bits != 64 && incr > maxIncr) || (value >= 0 && incr > 0 && incr > maxIncr):
		if ow == overflowSat {
			return maxV, true
		}
	case value < minV || (bits != 64 && incr < minIncr) || (value < 0 && incr < 0 && incr < minIncr):
		if ow == overflowSat {
			return minV, true
		}
	default:
		return value + incr, false
	}
	c := uint64(value) + uint64(incr)
	if bits < 64 {
		if c&(1<<(bits-1)) != 0 {
			c |= ^uint64(0) << bits
		} else {
			c &^= ^uint64(0) << bits
		}
	}
	return int64(c), true
}
