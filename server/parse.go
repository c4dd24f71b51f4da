package server

import "math"

// parseInt64 parses b with the rules of Redis's string2ll: an optional '-',
// decimal digits, no '+', no spaces, no leading zeros, and the value must fit
// an int64.
func parseInt64(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	if b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return int64(-v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// ParseMemory parses a memory value as Redis's memtoull does: decimal
// digits (leading zeros allowed, none read as 0) and an optional unit, b,
// k (1000), kb (1024), m, mb, g or gb, in any case. A value too large for
// a uint64 is math.MaxUint64.
func ParseMemory(b []byte) (uint64, bool) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	var mul uint64
	switch unit := b[i:]; {
	case len(unit) == 0 || equalFold(unit, "b"):
		mul = 1
	case equalFold(unit, "k"):
		mul = 1000
	case equalFold(unit, "kb"):
		mul = 1 << 10
	case equalFold(unit, "m"):
		mul = 1000 * 1000
	case equalFold(unit, "mb"):
		mul = 1 << 20
	case equalFold(unit, "g"):
		mul = 1000 * 1000 * 1000
	case equalFold(unit, "gb"):
		mul = 1 << 30
	default:
		return 0, false
	}
	var v uint64
	for _, c := range b[:i] {
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return math.MaxUint64, true
		}
		v = v*10 + d
	}
	if v > math.MaxUint64/mul {
		return math.MaxUint64, true
	}
	return v * mul, true
}

// parseYesNo parses Redis's boolean settings: yes or no, in any case.
func parseYesNo(b []byte) (on, ok bool) {
	switch {
	case equalFold(b, "yes"):
		return true, true
	case equalFold(b, "no"):
		return false, true
	}
	return false, false
}

// equalFold reports whether b equals the lowercase ASCII word lower,
// ignoring case.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// Set conditions.
const (
	condNone = iota
	condNX   // only if the key does not exist
	condXX   // only if the key exists
)

// Expiry option kinds shared by SET and GETEX.
const (
	expNone = iota
	expEX
	expPX
	expEXAT
	expPXAT
	expKeepTTL // SET: keep the current expiry
	expPersist // GETEX: remove the expiry
)

// SetRequest is a parsed SET command.
type SetRequest struct {
	Key, Value []byte
	Cond       int   // condNone, condNX or condXX
	Get        bool  // reply with the old value
	Expiry     int   // expNone, expEX, expPX, expEXAT, expPXAT or expKeepTTL
	ExpireAt   int64 // absolute Unix ms when Expiry is EX/PX/EXAT/PXAT
}

// needsRead reports whether the request must read the key first.
func (r *SetRequest) needsRead() bool {
	return r.Cond != condNone || r.Get || r.Expiry == expKeepTTL
}

// GetExRequest is a parsed GETEX command.
type GetExRequest struct {
	Key      []byte
	Expiry   int   // expNone, expEX, expPX, expEXAT, expPXAT or expPersist
	ExpireAt int64 // absolute Unix ms for EX/PX/EXAT/PXAT
}

// parseSet parses SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]
// following Redis's parseExtendedStringArgumentsOrReply: every option is
// checked for syntax before the expire value is parsed. nowMs is the
// current time for relative expiries.
func parseSet(args [][]byte, nowMs int64) (SetRequest, error) {
	req := SetRequest{Key: args[1], Value: args[2]}
	var expArg []byte
	for j := 3; j < len(args); j++ {
		opt := args[j]
		hasNext := j+1 < len(args)
		timed := req.Expiry != expNone && req.Expiry != expKeepTTL
		switch {
		case equalFold(opt, "nx") && req.Cond != condXX:
			req.Cond = condNX
		case equalFold(opt, "xx") && req.Cond != condNX:
			req.Cond = condXX
		case equalFold(opt, "get"):
			req.Get = true
		case equalFold(opt, "keepttl") && !timed:
			req.Expiry = expKeepTTL
		default:
			kind := expiryKind(opt)
			if kind == expNone || !hasNext || req.Expiry == expKeepTTL ||
				(timed && req.Expiry != kind) {
				return SetRequest{}, errSyntax
			}
			req.Expiry, expArg = kind, args[j+1]
			j++
		}
	}
	if expArg != nil {
		at, err := expireAt(expArg, req.Expiry, nowMs, "set")
		if err != nil {
			return SetRequest{}, err
		}
		req.ExpireAt = at
	}
	return req, nil
}

// parseGetEx parses GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST].
func parseGetEx(args [][]byte, nowMs int64) (GetExRequest, error) {
	req := GetExRequest{Key: args[1]}
	var expArg []byte
	for j := 2; j < len(args); j++ {
		opt := args[j]
		timed := req.Expiry != expNone && req.Expiry != expPersist
		switch {
		case equalFold(opt, "persist") && !timed:
			req.Expiry = expPersist
		default:
			kind := expiryKind(opt)
			if kind == expNone || j+1 >= len(args) || req.Expiry == expPersist ||
				(timed && req.Expiry != kind) {
				return GetExRequest{}, errSyntax
			}
			req.Expiry, expArg = kind, args[j+1]
			j++
		}
	}
	if expArg != nil {
		at, err := expireAt(expArg, req.Expiry, nowMs, "getex")
		if err != nil {
			return GetExRequest{}, err
		}
		req.ExpireAt = at
	}
	return req, nil
}

func expiryKind(opt []byte) int {
	switch {
	case equalFold(opt, "ex"):
		return expEX
	case equalFold(opt, "px"):
		return expPX
	case equalFold(opt, "exat"):
		return expEXAT
	case equalFold(opt, "pxat"):
		return expPXAT
	}
	return expNone
}

// expireAt converts an EX/PX/EXAT/PXAT argument to absolute Unix ms like
// Redis's getExpireMillisecondsOrReply: the value must be a positive
// integer and the result must not overflow.
func expireAt(arg []byte, kind int, nowMs int64, cmd string) (int64, error) {
	v, ok := parseInt64(arg)
	if !ok {
		return 0, errNotInteger
	}
	seconds := kind == expEX || kind == expEXAT
	if v <= 0 || (seconds && v > math.MaxInt64/1000) {
		return 0, errInvalidExpire(cmd)
	}
	if seconds {
		v *= 1000
	}
	if kind == expEX || kind == expPX {
		if v > math.MaxInt64-nowMs {
			return 0, errInvalidExpire(cmd)
		}
		v += nowMs
	}
	return v, nil
}

// ExpireRequest is a parsed EXPIRE, PEXPIRE, EXPIREAT or PEXPIREAT.
type ExpireRequest struct {
	Key            []byte
	At             int64 // absolute Unix ms
	NX, XX, GT, LT bool
}

// parseExpire parses the EXPIRE family like Redis's expireGenericCommand:
// options first (Unsupported option, incompatible combinations), then the
// time, which may be negative but must not overflow. unitMs is 1000 for
// seconds, 1; absolute selects the *AT variants.
func parseExpire(args [][]byte, cmd string, unitMs int64, absolute bool, nowMs int64) (ExpireRequest, error) {
	req := ExpireRequest{Key: args[1]}
	for _, opt := range args[3:] {
		switch {
		case equalFold(opt, "nx"):
			req.NX = true
		case equalFold(opt, "xx"):
			req.XX = true
		case equalFold(opt, "gt"):
			req.GT = true
		case equalFold(opt, "lt"):
			req.LT = true
		default:
			return ExpireRequest{}, newReplyError("ERR Unsupported option " + clip(opt, 128))
		}
	}
	if req.NX && (req.XX || req.GT || req.LT) {
		return ExpireRequest{}, errExpireCompat
	}
	if req.GT && req.LT {
		return ExpireRequest{}, errGTLTCompat
	}
	when, ok := parseInt64(args[2])
	if !ok {
		return ExpireRequest{}, errNotInteger
	}
	if unitMs == 1000 {
		if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
			return ExpireRequest{}, errInvalidExpire(cmd)
		}
		when *= 1000
	}
	if !absolute {
		if when > math.MaxInt64-nowMs {
			return ExpireRequest{}, errInvalidExpire(cmd)
		}
		when += nowMs
	}
	req.At = when
	return req, nil
}

// expireAllowed applies the NX/XX/GT/LT conditions to a key whose current
// expiry is cur (0 = none), as Redis does: no expiry counts as infinite.
func (r *ExpireRequest) expireAllowed(cur int64) bool {
	switch {
	case r.NX && cur != 0:
		return false
	case r.XX && cur == 0:
		return false
	case r.GT && (cur == 0 || r.At <= cur):
		return false
	case r.LT && cur != 0 && r.At >= cur:
		return false
	}
	return true
}
