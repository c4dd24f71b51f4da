package script

import (
	"bytes"
	"errors"
	"strconv"
)

// reply is one parsed RESP2/RESP3 reply. kind is its type byte; which
// other fields are set depends on it.
type reply struct {
	kind   byte    // '+' '-' ':' '$' '*' '%' '~' '_' '#' ',' '(' '='
	str    []byte  // '+' '-' '$' '(' '=' (without the format)
	num    int64   // ':'
	dbl    float64 // ','
	flag   bool    // '#'
	null   bool    // '$' or '*' with length -1
	format string  // '=': the three-byte format
	elems  []reply // '*' '~'; '%' holds key, value, key, value...
}

// maxReplyDepth bounds the nesting of a parsed reply, so that a hostile
// or broken reply cannot exhaust the goroutine stack.
const maxReplyDepth = 1000

var errBadReply = errors.New("script: malformed RESP reply")

// parseReply parses the first reply in b and returns it and the bytes after
// it. Attributes ('|') are skipped as Redis skips them for scripts.
func parseReply(b []byte) (reply, []byte, error) {
	return parseDepth(b, 0)
}

func parseDepth(b []byte, depth int) (reply, []byte, error) {
	if depth > maxReplyDepth {
		return reply{}, nil, errBadReply
	}
	line, rest, ok := cutLine(b)
	if !ok || len(line) == 0 {
		return reply{}, nil, errBadReply
	}
	r := reply{kind: line[0]}
	body := line[1:]
	switch r.kind {
	case '+', '-', '(':
		r.str = body
		return r, rest, nil
	case ':':
		n, err := strconv.ParseInt(string(body), 10, 64)
		r.num = n
		return r, rest, err
	case ',':
		f, err := strconv.ParseFloat(string(body), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return r, nil, err
		}
		r.dbl = f
		return r, rest, nil
	case '#':
		if len(body) != 1 || (body[0] != 't' && body[0] != 'f') {
			return r, nil, errBadReply
		}
		r.flag = body[0] == 't'
		return r, rest, nil
	case '_':
		return r, rest, nil
	case '$', '=':
		return parseBulk(r, body, rest)
	case '*', '~', '%', '|':
		return parseAggregate(r, body, rest, depth)
	}
	return r, nil, errBadReply
}

func parseBulk(r reply, body, rest []byte) (reply, []byte, error) {
	n, err := strconv.Atoi(string(body))
	if err != nil || n < -1 || (n == -1 && r.kind == '=') {
		return r, nil, errBadReply
	}
	if n == -1 {
		r.null = true
		return r, rest, nil
	}
	if len(rest) < n+2 || rest[n] != '\r' || rest[n+1] != '\n' {
		return r, nil, errBadReply
	}
	r.str = rest[:n]
	if r.kind == '=' {
		if n < 4 || r.str[3] != ':' {
			return r, nil, errBadReply
		}
		r.format, r.str = string(r.str[:3]), r.str[4:]
	}
	return r, rest[n+2:], nil
}

func parseAggregate(r reply, body, rest []byte, depth int) (reply, []byte, error) {
	n, err := strconv.Atoi(string(body))
	if err != nil || n < -1 || (n == -1 && r.kind != '*') {
		return r, nil, errBadReply
	}
	if n == -1 {
		r.null = true
		return r, rest, nil
	}
	count := n
	if r.kind == '%' || r.kind == '|' {
		count = 2 * n
	}
	// Each element takes at least 3 bytes: do not trust n for the capacity.
	r.elems = make([]reply, 0, min(count, len(rest)/3))
	for range count {
		var e reply
		e, rest, err = parseDepth(rest, depth+1)
		if err != nil {
			return r, nil, err
		}
		r.elems = append(r.elems, e)
	}
	if r.kind == '|' {
		// An attribute annotates the reply that follows it; scripts only
		// see that reply.
		return parseDepth(rest, depth)
	}
	return r, rest, nil
}

// cutLine splits b after its first CRLF.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		return nil, nil, false
	}
	return b[:i], b[i+2:], true
}
