package server

import "errors"

// Per-connection consistency (RINGCACHE CONSISTENCY). The server does not
// know what a level means; it validates the names, asks Config.Consistency
// for a context carrying them and uses that context for the connection's
// later Store calls. The levels themselves are the store's business (the
// cluster coordinator reads them back from the context).

// Canonical level names, the strings Config.Consistency receives.
const (
	levelOne     = "ONE"
	levelQuorum  = "QUORUM"
	levelAll     = "ALL"
	levelDefault = "DEFAULT" // reported when the connection has no override
)

var (
	errNeedsCluster  = newReplyError("ERR RINGCACHE CONSISTENCY needs cluster mode")
	errConsistencyCx = errors.New("server: Consistency hook returned a nil context")
)

// consistencyOp is what a RINGCACHE CONSISTENCY command asks for.
type consistencyOp int

const (
	consistencyShow  consistencyOp = iota // no arguments: report the levels
	consistencySet                        // <read> <write>
	consistencyReset                      // RESET
)

// consistencyReq is a parsed RINGCACHE CONSISTENCY command.
type consistencyReq struct {
	op          consistencyOp
	read, write string // canonical names, for consistencySet
}

// parseConsistency parses the arguments after "RINGCACHE CONSISTENCY".
func parseConsistency(args [][]byte) (consistencyReq, error) {
	switch len(args) {
	case 0:
		return consistencyReq{op: consistencyShow}, nil
	case 1:
		if equalFold(args[0], "reset") {
			return consistencyReq{op: consistencyReset}, nil
		}
	case 2:
		r, err := parseLevel(args[0])
		if err != nil {
			return consistencyReq{}, err
		}
		w, err := parseLevel(args[1])
		if err != nil {
			return consistencyReq{}, err
		}
		return consistencyReq{op: consistencySet, read: r, write: w}, nil
	}
	return consistencyReq{}, wrongArity("ringcache|consistency")
}

// parseLevel returns the canonical name of a level, any case.
func parseLevel(b []byte) (string, error) {
	for _, l := range [...]struct{ lower, name string }{
		{"one", levelOne}, {"quorum", levelQuorum}, {"all", levelAll},
	} {
		if equalFold(b, l.lower) {
			return l.name, nil
		}
	}
	return "", newReplyError("ERR invalid consistency level '" + clip(b, 128) + "' (ONE, QUORUM or ALL)")
}

// cmdRingcacheConsistency answers RINGCACHE CONSISTENCY [<read> <write> |
// RESET]. The override lasts until RESET (of either kind) or the end of the
// connection; the hook runs once per override, not per command.
func cmdRingcacheConsistency(x *call) error {
	hook := x.s.cfg.Consistency
	if hook == nil {
		return errNeedsCluster
	}
	req, err := parseConsistency(x.args[2:])
	if err != nil {
		return err
	}
	switch req.op {
	case consistencyShow:
		r, w := x.c.readLevel, x.c.writeLevel
		if x.c.ctx == nil {
			r, w = levelDefault, levelDefault
		}
		x.conn.WriteArray(2)
		x.conn.WriteBulkString(r)
		x.conn.WriteBulkString(w)
		return nil
	case consistencyReset:
		x.c.clearConsistency()
	default:
		ctx, err := hook(x.c.baseCtx(x.s), req.read, req.write)
		if err != nil {
			return err
		}
		if ctx == nil {
			return errConsistencyCx
		}
		x.c.setConsistency(ctx, req.read, req.write)
	}
	x.conn.WriteString("OK")
	return nil
}
