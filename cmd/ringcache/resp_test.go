package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// respConn is a plain socket that sends commands and reads whole replies,
// byte for byte, in RESP2 or RESP3: what the compatibility suite compares.
type respConn struct {
	c  net.Conn
	rd *bufio.Reader
}

func dialRESP(addr string) (*respConn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &respConn{c: c, rd: bufio.NewReader(c)}, nil
}

func (r *respConn) Close() error { return r.c.Close() }

// do sends one command and returns its reply's bytes.
func (r *respConn) do(args ...string) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if err := r.c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return nil, err
	}
	if _, err := r.c.Write(b.Bytes()); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	_, err := readReply(r.rd, &out)
	return out.Bytes(), err
}

// reply is a parsed RESP value: its type byte, and its text (simple
// types, strings), or its elements (aggregates; a map's keys and values
// alternate). null marks "_", "$-1" and "*-1".
type reply struct {
	kind  byte
	text  string
	elems []*reply
	null  bool
}

var errBadReply = errors.New("malformed reply")

// readReply reads one reply, copying its bytes to raw.
func readReply(rd *bufio.Reader, raw *bytes.Buffer) (*reply, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return nil, err
	}
	raw.WriteString(line)
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return nil, fmt.Errorf("%w: line %q", errBadReply, line)
	}
	r := &reply{kind: line[0], text: line[1 : len(line)-2]}
	switch r.kind {
	case '+', '-', ':', ',', '#', '(':
		return r, nil
	case '_':
		r.null = true
		return r, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(r.text)
		if err != nil {
			return nil, fmt.Errorf("%w: length %q", errBadReply, line)
		}
		if n < 0 {
			r.null = true
			return r, nil
		}
		data := make([]byte, n+2)
		if _, err := io.ReadFull(rd, data); err != nil {
			return nil, err
		}
		raw.Write(data)
		r.text = string(data[:n])
		return r, nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(r.text)
		if err != nil {
			return nil, fmt.Errorf("%w: count %q", errBadReply, line)
		}
		if n < 0 {
			r.null = true
			return r, nil
		}
		if r.kind == '%' || r.kind == '|' {
			n *= 2
		}
		for range n {
			e, err := readReply(rd, raw)
			if err != nil {
				return nil, err
			}
			r.elems = append(r.elems, e)
		}
		return r, nil
	}
	return nil, fmt.Errorf("%w: type %q", errBadReply, line[0])
}

func parseReply(b []byte) (*reply, error) {
	var raw bytes.Buffer
	return readReply(bufio.NewReader(bytes.NewReader(b)), &raw)
}

// shape renders a reply's structure without its volatile content: the
// types, every map's keys, and the "txt:" of verbatim strings. Maps are
// rendered with their keys sorted, so the order of fields does not count.
func shape(r *reply) string {
	switch {
	case r.null:
		return string(r.kind) + "null"
	case r.kind == '=':
		format, _, _ := strings.Cut(r.text, ":")
		return "=" + format
	case r.kind == '%':
		var fields []string
		for i := 0; i+1 < len(r.elems); i += 2 {
			fields = append(fields, r.elems[i].text+":"+shape(r.elems[i+1]))
		}
		sort.Strings(fields)
		return "%{" + strings.Join(fields, ",") + "}"
	case len(r.elems) > 0 || r.kind == '*' || r.kind == '~' || r.kind == '>':
		var parts []string
		for _, e := range r.elems {
			parts = append(parts, shape(e))
		}
		return string(r.kind) + "[" + strings.Join(parts, ",") + "]"
	}
	return string(r.kind)
}

// scanAll runs SCAN cursor opts... from cursor 0 until the cursor is 0
// again, and returns the keys it returned, sorted and deduplicated, as
// the bytes of a RESP array (an error reply as it came).
func (r *respConn) scanAll(opts []string) ([]byte, error) {
	seen := map[string]bool{}
	cursor := "0"
	for steps := 0; ; steps++ {
		raw, err := r.do(append([]string{"SCAN", cursor}, opts...)...)
		if err != nil {
			return nil, err
		}
		rep, err := parseReply(raw)
		if err != nil {
			return nil, err
		}
		if rep.kind == '-' {
			return raw, nil
		}
		if len(rep.elems) != 2 || steps > 1_000_000 {
			return nil, fmt.Errorf("SCAN answered %q", raw)
		}
		for _, k := range rep.elems[1].elems {
			seen[k.text] = true
		}
		if cursor = rep.elems[0].text; cursor == "0" {
			break
		}
	}
	keys := slices.Sorted(maps.Keys(seen))
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(keys))
	for _, k := range keys {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(k), k)
	}
	return b.Bytes(), nil
}
