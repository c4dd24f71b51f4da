package server

import (
	"github.com/ringcache/ringcache/server/store"
)

// Substring commands: GETRANGE (SUBSTR), SETRANGE and LCS. The index
// arithmetic is pure (substr, overwrite, lcs) and follows Redis 7's
// t_string.c.

func cmdGetRange(x *call) error {
	start, ok1 := parseInt64(x.args[2])
	end, ok2 := parseInt64(x.args[3])
	if !ok1 || !ok2 {
		return errNotInteger
	}
	it, err := x.get(x.args[1])
	if err != nil {
		return err
	}
	x.conn.WriteBulk(substr(it.Value, start, end))
	return nil
}

// substr is GETRANGE's slice of s: start and end inclusive, negative ones
// counted from the end, clamped to s.
func substr(s []byte, start, end int64) []byte {
	n := int64(len(s))
	if start < 0 && end < 0 && start > end {
		return nil
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start, end = max(start, 0), max(end, 0)
	end = min(end, n-1)
	if n == 0 || start > end {
		return nil
	}
	return s[start : end+1]
}

func cmdSetRange(x *call) error {
	key, val := x.args[1], x.args[3]
	off, ok := parseInt64(x.args[2])
	if !ok {
		return errNotInteger
	}
	if off < 0 {
		return newReplyError("ERR offset is out of range")
	}
	defer x.lockKey(key).Unlock()
	old, err := x.getLatest(key)
	if err != nil {
		return err
	}
	if len(val) == 0 {
		// Nothing to write: Redis answers the length and creates nothing.
		x.conn.WriteInt(len(old.Value))
		return nil
	}
	if off > x.s.live.maxBulk()-int64(len(val)) { // off+len(val) may overflow
		return errStringSize
	}
	next := overwrite(old.Value, int(off), val)
	if err := x.put(store.Mutation{Key: key, Value: next, ExpireAt: old.ExpireAt}); err != nil {
		return err
	}
	x.conn.WriteInt(len(next))
	return nil
}

// overwrite returns a copy of s with val written at off, zero-padded when
// off is past the end.
func overwrite(s []byte, off int, val []byte) []byte {
	out := make([]byte, max(len(s), off+len(val)))
	copy(out, s)
	copy(out[off:], val)
	return out
}

// lcsRequest is LCS's options.
type lcsRequest struct {
	length, idx, withLen bool
	minLen               int64
}

func parseLCS(args [][]byte) (lcsRequest, error) {
	var req lcsRequest
	for j := 0; j < len(args); j++ {
		switch a := args[j]; {
		case equalFold(a, "len"):
			req.length = true
		case equalFold(a, "idx"):
			req.idx = true
		case equalFold(a, "withmatchlen"):
			req.withLen = true
		case equalFold(a, "minmatchlen") && j+1 < len(args):
			n, ok := parseInt64(args[j+1])
			if !ok {
				return req, errNotInteger
			}
			req.minLen = max(n, 0)
			j++
		default:
			return req, errSyntax
		}
	}
	if req.length && req.idx {
		return req, newReplyError("ERR If you want both the length and indexes, please just use IDX.")
	}
	return req, nil
}

func cmdLCS(x *call) error {
	req, err := parseLCS(x.args[3:])
	if err != nil {
		return err
	}
	items, err := x.getMany(x.args[1:3])
	if err != nil {
		return err
	}
	a, b := items[0].Value, items[1].Value
	if uint64(len(a)+1)*uint64(len(b)+1)*4 > uint64(x.s.live.maxBulk()) {
		return newReplyError("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
	}
	res := lcs(a, b)
	switch {
	case req.length:
		x.conn.WriteInt(len(res.common))
	case req.idx:
		var matches []lcsMatch
		for _, m := range res.matches {
			if int64(m.n) >= req.minLen {
				matches = append(matches, m)
			}
		}
		w := x.conn
		w.WriteMap(2)
		w.WriteBulkString("matches")
		w.WriteArray(len(matches))
		for _, m := range matches {
			if req.withLen {
				w.WriteArray(3)
			} else {
				w.WriteArray(2)
			}
			w.WriteArray(2)
			w.WriteInt(m.a)
			w.WriteInt(m.a + m.n - 1)
			w.WriteArray(2)
			w.WriteInt(m.b)
			w.WriteInt(m.b + m.n - 1)
			if req.withLen {
				w.WriteInt(m.n)
			}
		}
		w.WriteBulkString("len")
		w.WriteInt(len(res.common))
	default:
		x.conn.WriteBulk(res.common)
	}
	return nil
}

// lcsMatch is one run of the common subsequence: n bytes at a in the
// first string and at b in the second.
type lcsMatch struct{ a, b, n int }

type lcsResult struct {
	common  []byte
	matches []lcsMatch // from the end of the strings backwards, as Redis lists them
}

// lcs computes the longest common subsequence of a and b with Redis's
// dynamic programme and walk back, so ties resolve as Redis's do.
func lcs(a, b []byte) lcsResult {
	w := len(b) + 1
	dp := make([]uint32, (len(a)+1)*w)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			switch {
			case a[i-1] == b[j-1]:
				dp[i*w+j] = dp[(i-1)*w+j-1] + 1
			default:
				dp[i*w+j] = max(dp[(i-1)*w+j], dp[i*w+j-1])
			}
		}
	}
	n := int(dp[len(a)*w+len(b)])
	common := make([]byte, n)
	var res lcsResult
	i, j, k := len(a), len(b), n
	run := lcsMatch{n: 0}
	flush := func() {
		if run.n > 0 {
			res.matches = append(res.matches, run)
			run = lcsMatch{}
		}
	}
	for i > 0 && j > 0 {
		switch {
		case a[i-1] == b[j-1]:
			k--
			common[k] = a[i-1]
			// Extend the current run if it is contiguous in both strings.
			if run.n > 0 && run.a == i && run.b == j {
				run.a, run.b, run.n = i-1, j-1, run.n+1
			} else {
				flush()
				run = lcsMatch{a: i - 1, b: j - 1, n: 1}
			}
			i, j = i-1, j-1
		case dp[(i-1)*w+j] > dp[i*w+j-1]:
			i--
		default:
			j--
		}
	}
	flush()
	res.common = common
	return res
}
