package server

import (
	"math/big"
	"strings"

	"github.com/ringcache/ringcache/server/store"
)

// INCRBYFLOAT computes in Redis's long double: an x87 80-bit float with a
// 64-bit mantissa, emulated with math/big at that precision, so sums such
// as 0.1 + 0.2 print as Redis prints them ("0.3", where float64 would give
// 0.30000000000000004).

const longDoublePrec = 64

var (
	errNotFloat     = newReplyError("ERR value is not a valid float")
	errFloatNaNInfs = newReplyError("ERR increment would produce NaN or Infinity")
)

// parseLongDouble parses s as Redis's string2ld does: no leading space, the
// whole string a number, no NaN.
func parseLongDouble(s []byte) (*big.Float, bool) {
	if len(s) == 0 || len(s) > 5*1024 || isSpace(s[0]) {
		return nil, false
	}
	text := string(s)
	if strings.ContainsAny(text, "_") || strings.EqualFold(strings.TrimLeft(text, "+-"), "nan") {
		return nil, false
	}
	// strtold's infinities, in any case and with one sign; math/big
	// knows only "inf" and "Inf".
	if unsigned := strings.TrimLeft(text, "+-"); len(text)-len(unsigned) <= 1 &&
		(strings.EqualFold(unsigned, "inf") || strings.EqualFold(unsigned, "infinity")) {
		return new(big.Float).SetPrec(longDoublePrec).SetInf(text[0] == '-'), true
	}
	f, _, err := big.ParseFloat(text, 0, longDoublePrec, big.ToNearestEven)
	if err != nil {
		return nil, false
	}
	return f, true
}

// formatLongDouble is Redis's ld2string in human mode: "%.17Lf" with the
// trailing zeros (and a bare point) removed, and "-0" written "0".
func formatLongDouble(f *big.Float) string {
	s := f.Text('f', 17)
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// incrFloat adds by to cur (0 if the key is not found; as Redis reads
// it: an empty string is no number) and returns the text Redis stores
// and replies, or its error.
func incrFloat(cur []byte, found bool, by *big.Float) (string, error) {
	sum := new(big.Float).SetPrec(longDoublePrec)
	if found {
		v, ok := parseLongDouble(cur)
		if !ok {
			return "", errNotFloat
		}
		sum.Set(v)
	}
	if sum.IsInf() || by.IsInf() {
		return "", errFloatNaNInfs
	}
	sum.Add(sum, by)
	// Past the x87 range the result is an infinity.
	if exp := sum.MantExp(nil); exp > 16384 {
		return "", errFloatNaNInfs
	}
	return formatLongDouble(sum), nil
}

func cmdIncrByFloat(x *call) error {
	key := x.args[1]
	by, ok := parseLongDouble(x.args[2])
	if !ok {
		return errNotFloat
	}
	defer x.lockKey(key).Unlock()
	old, err := x.getLatest(key)
	if err != nil {
		return err
	}
	next, err := incrFloat(old.Value, old.Found, by)
	if err != nil {
		return err
	}
	if err := x.put(store.Mutation{Key: key, Value: []byte(next), ExpireAt: old.ExpireAt}); err != nil {
		return err
	}
	x.conn.WriteBulkString(next)
	return nil
}
