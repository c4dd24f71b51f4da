package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Forwarded requests. A node that is not a key's primary sends the
// read-modify-write commands of that key to the primary (primary.go) as
// one forwardRequest, through the store's Router; the primary runs them as
// its own client would and answers with their replies, already in RESP.
// The encoding is the server's own: the cluster carries it as opaque bytes.

// forwardVersion is the first byte of every encoded request; a node
// refuses one it does not know rather than misread it.
const forwardVersion = 1

// maxHops bounds how often one request is passed on: from the node a
// client asked to the primary it sees, and once more from there to the
// primary that node sees. A node reached by the last hop that is not the
// primary in its own view answers store.ErrNotRun.
const maxHops = 2

// errMalformedForward reports a forwarded request that does not decode.
var errMalformedForward = errors.New("server: malformed forwarded request")

// forwardRequest is what one forward carries: the commands, and the
// client state they run with at the primary.
type forwardRequest struct {
	hop   int  // 1 for the first forward
	db    int  // the client's SELECTed database
	resp3 bool // the client's protocol
	// read and write are the client's RINGCACHE CONSISTENCY levels ("":
	// the defaults).
	read, write string
	// deadline is when the sender stops waiting, in Unix microseconds of
	// its clock: a node that reads the request later (it waited in a
	// partition, in a socket) refuses it unrun, and one that runs it
	// stamps no write after it, so a client that gave up never sees the
	// command take effect over what it wrote since.
	deadline int64
	// cmds run in order, each as one command of the client; when txn is
	// set, as the commands of a transaction (EXEC), with watch its
	// watched keys.
	cmds  [][][]byte
	txn   bool
	watch []watchedKey
}

func (r *forwardRequest) append(dst []byte) []byte {
	var flags byte
	if r.resp3 {
		flags |= 1
	}
	if r.txn {
		flags |= 2
	}
	dst = append(dst, forwardVersion, byte(r.hop), flags)
	dst = binary.AppendVarint(dst, r.deadline)
	dst = binary.AppendUvarint(dst, uint64(r.db))
	dst = appendBytes(dst, []byte(r.read))
	dst = appendBytes(dst, []byte(r.write))
	dst = binary.AppendUvarint(dst, uint64(len(r.cmds)))
	for _, args := range r.cmds {
		dst = binary.AppendUvarint(dst, uint64(len(args)))
		for _, a := range args {
			dst = appendBytes(dst, a)
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(r.watch)))
	for _, w := range r.watch {
		dst = binary.AppendUvarint(dst, uint64(w.db))
		dst = appendBytes(dst, w.key)
		dst = binary.AppendVarint(dst, w.version.Wall)
		dst = binary.AppendUvarint(dst, uint64(w.version.Logical))
		dst = binary.AppendUvarint(dst, w.version.Node)
	}
	return dst
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// decodeForward decodes a request. The arguments alias b.
func decodeForward(b []byte) (forwardRequest, error) {
	var r forwardRequest
	if len(b) < 3 || b[0] != forwardVersion {
		return r, fmt.Errorf("%w: header", errMalformedForward)
	}
	r.hop, r.resp3, r.txn = int(b[1]), b[2]&1 != 0, b[2]&2 != 0
	d := decoder{b: b[3:]}
	r.deadline = d.varint()
	db := d.uvarint()
	r.read, r.write = string(d.bytes()), string(d.bytes())
	n := d.uvarint()
	if d.err != nil || db >= maxDatabases || n > uint64(len(d.b)) {
		return r, fmt.Errorf("%w: fields", errMalformedForward)
	}
	r.db = int(db)
	r.cmds = make([][][]byte, n)
	for i := range r.cmds {
		nargs := d.uvarint()
		if d.err != nil || nargs == 0 || nargs > uint64(len(d.b)) {
			return r, fmt.Errorf("%w: command %d", errMalformedForward, i)
		}
		args := make([][]byte, nargs)
		for j := range args {
			args[j] = d.bytes()
		}
		r.cmds[i] = args
	}
	nw := d.uvarint()
	if d.err != nil || nw > uint64(len(d.b)) {
		return r, fmt.Errorf("%w: watched keys", errMalformedForward)
	}
	for range nw {
		var w watchedKey
		db := d.uvarint()
		w.key = d.bytes()
		w.version.Wall = d.varint()
		logical := d.uvarint()
		w.version.Node = d.uvarint()
		if db >= maxDatabases || logical > math.MaxUint32 {
			return r, fmt.Errorf("%w: watched key", errMalformedForward)
		}
		w.db, w.version.Logical = int(db), uint32(logical)
		r.watch = append(r.watch, w)
	}
	if d.err != nil || len(d.b) != 0 {
		return r, fmt.Errorf("%w: arguments", errMalformedForward)
	}
	return r, nil
}

// decoder reads uvarint-framed fields; the first failure sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errMalformedForward
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errMalformedForward
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errMalformedForward
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

// forwardAnswer is the primary's answer: the replies, whether a command
// wrote, and how many replicas had acknowledged the last write when the
// commands finished (the sender's WAIT starts from it).
type forwardAnswer struct {
	wrote   bool
	acks    int
	replies []byte
}

func (a *forwardAnswer) append(dst []byte) []byte {
	var flags byte
	if a.wrote {
		flags |= 1
	}
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, uint64(a.acks))
	return append(dst, a.replies...)
}

func decodeAnswer(b []byte) (forwardAnswer, error) {
	var a forwardAnswer
	if len(b) < 2 {
		return a, fmt.Errorf("%w: answer", errMalformedForward)
	}
	a.wrote = b[0]&1 != 0
	acks, n := binary.Uvarint(b[1:])
	if n <= 0 || acks > 1<<16 {
		return a, fmt.Errorf("%w: answer", errMalformedForward)
	}
	a.acks, a.replies = int(acks), b[1+n:]
	return a, nil
}
