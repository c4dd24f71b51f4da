package server

import "bytes"

// Validator verdicts: what the connection should do with the front of its
// unreleased input.
const (
	actMore = iota // need more input before deciding
	actPass        // release n bytes unchanged
	actDrop        // discard n bytes (Redis ignores them)
	actEmit        // discard n bytes and release emit instead
	actFail        // protocol violation: reply (if non-empty) and close
)

// verdict is one step of the validator.
type verdict struct {
	act   int
	n     int    // input bytes covered
	emit  []byte // actEmit: replacement bytes (valid until the next step)
	reply string // actFail: error line without '-' and CRLF; "" closes silently
	end   bool   // the released bytes complete a command
}

// Validator states.
const (
	stCommand    = iota // at the start of a command
	stBulkHeader        // expecting "$<len>\r\n"
	stBulkData          // inside bulk data
	stBulkEnd           // expecting the CRLF after bulk data
)

// validator checks a client's RESP byte stream before redcon parses it, so
// redcon never buffers more than the limits allow and never sees input it
// would reject differently from Redis. It only looks at headers; bulk data
// passes through untouched. It is pure: no I/O, fed by the connection.
//
// Invariant: bytes released for a command never exceed what the limits in
// force at its header allowed.
type validator struct {
	lim limits

	state    int
	args     int64 // bulks still expected in the current multibulk
	bulkLeft int64 // bulk data bytes still expected
	cmdBytes int64 // bytes released for the current command
	emitBuf  []byte
}

// limits are the input bounds the validator enforces.
type limits struct {
	maxBulk          int64
	maxMultibulk     int64
	maxInline        int
	queryBuffer      int64
	preAuthBulk      int64
	preAuthMultibulk int64
}

func limitsOf(c Config) limits {
	return limits{
		maxBulk:          c.MaxBulkLen,
		maxMultibulk:     c.MaxMultibulk,
		maxInline:        c.MaxInlineLen,
		queryBuffer:      c.QueryBufferLimit,
		preAuthBulk:      c.PreAuthMaxBytes,
		preAuthMultibulk: c.PreAuthMaxMultibulk,
	}
}

// Redis's protocol error replies.
const (
	msgInvalidMultibulk = "ERR Protocol error: invalid multibulk length"
	msgInvalidBulk      = "ERR Protocol error: invalid bulk length"
	msgBigInline        = "ERR Protocol error: too big inline request"
	msgBigMultibulk     = "ERR Protocol error: too big mbulk count string"
	msgBigBulk          = "ERR Protocol error: too big bulk count string"
	msgUnbalanced       = "ERR Protocol error: unbalanced quotes in request"
	msgUnauthMultibulk  = "ERR Protocol error: unauthenticated multibulk length"
	msgUnauthBulk       = "ERR Protocol error: unauthenticated bulk length"
)

func fail(reply string) verdict { return verdict{act: actFail, reply: reply} }

// step examines buf, the front of the unreleased input, and returns what to
// do with it. preAuth selects the unauthenticated limits.
func (v *validator) step(buf []byte, preAuth bool) verdict {
	if len(buf) == 0 {
		return verdict{act: actMore}
	}
	switch v.state {
	case stCommand:
		if buf[0] == '*' {
			return v.multibulkHeader(buf, preAuth)
		}
		return v.inline(buf, preAuth)
	case stBulkHeader:
		return v.bulkHeader(buf, preAuth)
	case stBulkData:
		n := int64(len(buf))
		if n > v.bulkLeft {
			n = v.bulkLeft
		}
		v.bulkLeft -= n
		if v.bulkLeft == 0 {
			v.state = stBulkEnd
		}
		return verdict{act: actPass, n: int(n)}
	default: // stBulkEnd
		if buf[0] != '\r' || (len(buf) > 1 && buf[1] != '\n') {
			return fail(msgInvalidBulk)
		}
		if len(buf) < 2 {
			return verdict{act: actMore}
		}
		v.args--
		if v.args == 0 {
			v.state = stCommand
			return verdict{act: actPass, n: 2, end: true}
		}
		v.state = stBulkHeader
		return verdict{act: actPass, n: 2}
	}
}

// line finds a CRLF-terminated header line. It returns the line body (after
// the type byte), the bytes it spans, and whether it is complete; bad is set
// when the line ends in a bare LF.
func (v *validator) line(buf []byte) (body []byte, n int, complete, bad bool) {
	limit := len(buf)
	if limit > v.lim.maxInline+2 {
		limit = v.lim.maxInline + 2
	}
	i := bytes.IndexByte(buf[:limit], '\n')
	if i < 0 {
		return nil, 0, false, false
	}
	if i < 2 || buf[i-1] != '\r' {
		return nil, 0, true, true
	}
	return buf[1 : i-1], i + 1, true, false
}

func (v *validator) multibulkHeader(buf []byte, preAuth bool) verdict {
	body, n, complete, bad := v.line(buf)
	switch {
	case !complete && len(buf) > v.lim.maxInline:
		return fail(msgBigMultibulk)
	case !complete:
		return verdict{act: actMore}
	case bad:
		return fail(msgInvalidMultibulk)
	}
	count, ok := parseInt64(body)
	switch {
	case !ok || count > v.lim.maxMultibulk:
		return fail(msgInvalidMultibulk)
	case count <= 0:
		// Redis ignores "*0" and "*-1"; redcon would reject them.
		return verdict{act: actDrop, n: n}
	case preAuth && count > v.lim.preAuthMultibulk:
		return fail(msgUnauthMultibulk)
	}
	v.state, v.args, v.cmdBytes = stBulkHeader, count, int64(n)
	return verdict{act: actPass, n: n}
}

func (v *validator) bulkHeader(buf []byte, preAuth bool) verdict {
	if buf[0] != '$' {
		return fail("ERR Protocol error: expected '$', got '" + printable(buf[0]) + "'")
	}
	body, n, complete, bad := v.line(buf)
	switch {
	case !complete && len(buf) > v.lim.maxInline:
		return fail(msgBigBulk)
	case !complete:
		return verdict{act: actMore}
	case bad:
		return fail(msgInvalidBulk)
	}
	size, ok := parseInt64(body)
	switch {
	case !ok || size < 0 || size > v.lim.maxBulk:
		return fail(msgInvalidBulk)
	case preAuth && size > v.lim.preAuthBulk:
		return fail(msgUnauthBulk)
	}
	v.cmdBytes += int64(n) + size + 2
	if v.cmdBytes > v.lim.queryBuffer {
		// Redis closes such clients without a reply.
		return fail("")
	}
	v.bulkLeft = size
	v.state = stBulkData
	if size == 0 {
		v.state = stBulkEnd
	}
	return verdict{act: actPass, n: n}
}

// inline converts one inline command to multibulk form. The converted
// command must fit the same limits as a multibulk one, so a client cannot
// use the inline form to slip past them (notably before AUTH).
func (v *validator) inline(buf []byte, preAuth bool) verdict {
	limit := len(buf)
	if limit > v.lim.maxInline+1 {
		limit = v.lim.maxInline + 1
	}
	i := bytes.IndexByte(buf[:limit], '\n')
	if i < 0 {
		if len(buf) > v.lim.maxInline {
			return fail(msgBigInline)
		}
		return verdict{act: actMore}
	}
	line := buf[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	args, ok := splitInline(line)
	switch {
	case !ok:
		return fail(msgUnbalanced)
	case len(args) == 0:
		return verdict{act: actDrop, n: i + 1}
	case int64(len(args)) > v.lim.maxMultibulk:
		return fail(msgInvalidMultibulk)
	case preAuth && int64(len(args)) > v.lim.preAuthMultibulk:
		return fail(msgUnauthMultibulk)
	}
	for _, a := range args {
		switch {
		case int64(len(a)) > v.lim.maxBulk:
			return fail(msgInvalidBulk)
		case preAuth && int64(len(a)) > v.lim.preAuthBulk:
			return fail(msgUnauthBulk)
		}
	}
	v.emitBuf = appendMultibulk(v.emitBuf[:0], args)
	return verdict{act: actEmit, n: i + 1, emit: v.emitBuf, end: true}
}

// printable renders an unexpected byte for an error line; CR and LF would
// break the reply, so they become spaces as in Redis.
func printable(c byte) string {
	if c == '\r' || c == '\n' {
		return " "
	}
	return string([]byte{c})
}
