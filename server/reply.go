package server

import (
	"strconv"
	"strings"

	"github.com/tidwall/redcon"
)

// reply writes a connection's replies: redcon's writer, with the shapes
// that differ between RESP2 and RESP3 written in the protocol the client
// chose with HELLO. A handler writes the RESP3 shape it means (a map, a
// set, a null); under RESP2 it degrades the way Redis's does: a map to a
// flat array of keys and values, a set to an array, a null to "$-1", a
// double and a verbatim string to a bulk string, a boolean to 1 or 0.
type reply struct {
	redcon.Conn
	resp3   bool
	scratch []byte
	// errs counts the error replies of a client's connection (INFO
	// errorstats); nil for sessions without one. errored is set by every
	// error reply; exec clears it before a command runs.
	errs    *errorStats
	errored bool
}

// WriteError writes an error reply, counting it.
func (w *reply) WriteError(msg string) {
	w.errored = true
	if w.errs != nil {
		w.errs.add(msg)
	}
	w.Conn.WriteError(msg)
}

// writeReply writes one reply already encoded (a script's, or one a
// primary answered), counting it if it is an error ("-CODE message\r\n").
func (w *reply) writeReply(b []byte) {
	if len(b) > 0 && b[0] == '-' {
		w.errored = true
		if w.errs != nil {
			w.errs.add(strings.TrimRight(string(b[1:]), "\r\n"))
		}
	}
	w.WriteRaw(b)
}

// header writes a type byte and a length.
func (w *reply) header(kind byte, n int) {
	b := append(w.scratch[:0], kind)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, '\r', '\n')
	w.WriteRaw(b)
	w.scratch = b
}

// WriteNull writes the null of a missing value: "_" in RESP3, the null
// bulk string in RESP2.
func (w *reply) WriteNull() {
	if w.resp3 {
		w.WriteRaw(resp3Null)
		return
	}
	w.Conn.WriteNull()
}

// WriteNullArray writes the null of a missing aggregate: "_" in RESP3,
// the null array in RESP2.
func (w *reply) WriteNullArray() {
	if w.resp3 {
		w.WriteRaw(resp3Null)
		return
	}
	w.WriteRaw(resp2NullArray)
}

// WriteMap starts a map of n pairs; the caller writes 2n values.
func (w *reply) WriteMap(n int) {
	if w.resp3 {
		w.header('%', n)
		return
	}
	w.WriteArray(2 * n)
}

// WriteSet starts a set of n members.
func (w *reply) WriteSet(n int) {
	if w.resp3 {
		w.header('~', n)
		return
	}
	w.WriteArray(n)
}

// WritePush starts an out-of-band push message of n values (pub/sub and
// client tracking); RESP2 has only arrays.
func (w *reply) WritePush(n int) {
	if w.resp3 {
		w.header('>', n)
		return
	}
	w.WriteArray(n)
}

// WriteVerbatim writes text meant for people (INFO, CLIENT LIST) as a
// verbatim string of format "txt".
func (w *reply) WriteVerbatim(s string) {
	if !w.resp3 {
		w.WriteBulkString(s)
		return
	}
	w.header('=', len(s)+4)
	// Not through scratch: the text can be large (CLIENT LIST of many
	// clients) and scratch lives as long as the connection.
	w.WriteRaw([]byte("txt:" + s + "\r\n"))
}

// WriteDouble writes a floating point number as Redis formats it.
func (w *reply) WriteDouble(f float64) {
	s := formatDouble(f)
	if !w.resp3 {
		w.WriteBulkString(s)
		return
	}
	b := append(w.scratch[:0], ',')
	b = append(b, s...)
	b = append(b, '\r', '\n')
	w.WriteRaw(b)
	w.scratch = b[:0]
}

// WriteBool writes a boolean: "#t"/"#f" in RESP3, 1/0 in RESP2.
func (w *reply) WriteBool(v bool) {
	switch {
	case w.resp3 && v:
		w.WriteRaw(resp3True)
	case w.resp3:
		w.WriteRaw(resp3False)
	case v:
		w.WriteInt(1)
	default:
		w.WriteInt(0)
	}
}

// proto is the protocol version the connection speaks.
func (w *reply) proto() int {
	if w.resp3 {
		return 3
	}
	return 2
}

var (
	resp3Null      = []byte("_\r\n")
	resp3True      = []byte("#t\r\n")
	resp3False     = []byte("#f\r\n")
	resp2NullArray = []byte("*-1\r\n")
)

// formatDouble formats f as Redis's %.17g-based reply does, with "inf",
// "-inf" and "nan" spelled as RESP3 spells them.
func formatDouble(f float64) string {
	switch {
	case f != f:
		return "nan"
	case f > maxFloat:
		return "inf"
	case f < -maxFloat:
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', 17, 64)
}

const maxFloat = 1.7976931348623157e308
