package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/ringcache/ringcache/engine"
)

// Replica payloads, OpApply and OpRead. Counts and lengths are uvarints:
//
//	apply request   a flags byte (bit 0: keep as hints for the node named,
//	                bit 1: hints handed over by the node named, bit 2: note
//	                the keys for anti-entropy, bit 3: an epoch follows),
//	                the node's id (length, id) when bit 0 or 1 is set, the
//	                layout epoch (uvarint) when bit 3 is, then a count and
//	                per item: key length, key, record length, record
//	apply response  count, then per item: status (0 applied, 1 superseded
//	                followed by the newer version held: wall int64, logical
//	                uint32, node uint64, big-endian)
//	read request    a flags byte (bit 0: read the hints held for the node
//	                named, bit 3: an epoch follows), the node's id when
//	                bit 0 is set, the epoch when bit 3 is, then a count
//	                and per item: key length, key
//	read response   count, then per item: a flags byte (bit 0 found, bit 1
//	                behind), and when found a record length and record
//
// Records use the engine's encoding (engine.Record.AppendEncode). A
// failure of the whole request is an error frame (errors.go); there are
// no per-item errors. Decoders check every length against the bytes left
// before allocating, so a forged count cannot make them allocate more
// than the payload size.

// ApplyHeader is what an apply request says of its records besides them.
// At most one of Hint and From is set.
type ApplyHeader struct {
	// Hint names the owner the replica stands in for: it keeps the
	// records as hints for it.
	Hint string
	// From names a node handing over hints it held for the replica.
	From string
	// Noted asks the replica to note the keys' ranges for anti-entropy.
	Noted bool
	// Epoch is the layout epoch the coordinator planned the request
	// with; 0 for requests that are not a coordinator's (hints, repair).
	Epoch uint64
}

// ReadHeader is what a read request says of its keys besides them.
type ReadHeader struct {
	// Hint names the owner the replica stands in for: it answers with the
	// hints it holds, not with its own data.
	Hint string
	// Epoch is as in ApplyHeader.
	Epoch uint64
}

// Request flags.
const (
	flagHint  = 1 << 0
	flagFrom  = 1 << 1
	flagNoted = 1 << 2
	flagEpoch = 1 << 3
)

// Read result flags.
const (
	readFound  = 1 << 0
	readBehind = 1 << 1
)

const (
	statusApplied    = 0
	statusSuperseded = 1
)

// maxNodeID is the longest node id a request header carries.
const maxNodeID = 255

func appendRequestHeader(dst []byte, flags byte, node string, epoch uint64) []byte {
	if epoch != 0 {
		flags |= flagEpoch
	}
	dst = append(dst, flags)
	if node != "" {
		dst = appendBytes(dst, []byte(node))
	}
	if epoch != 0 {
		dst = binary.AppendUvarint(dst, epoch)
	}
	return dst
}

// header reads a request's flags byte, and the node id when one of named
// is set. Flags outside allowed are malformed.
func (d *decoder) header(allowed, named byte) (flags byte, node string, epoch uint64) {
	flags = d.byte()
	if set := flags & named; flags&^(allowed|flagEpoch) != 0 || set&(set-1) != 0 {
		d.fail("bad request flags") // unknown, or two ids named
		return 0, "", 0
	}
	if flags&named != 0 {
		id := d.bytes()
		if len(id) == 0 || len(id) > maxNodeID {
			d.fail("bad node id")
		}
		node = string(id)
	}
	if flags&flagEpoch != 0 {
		epoch = d.uvarint()
	}
	return flags, node, epoch
}

// AppendApplyRequest appends the encoding of an apply request to dst.
func AppendApplyRequest(dst []byte, h ApplyHeader, keys [][]byte, recs []engine.Record) []byte {
	size := 1 + uvarintLen(len(h.Hint)+len(h.From)) + len(h.Hint) + len(h.From) + 10 + uvarintLen(len(keys))
	for i, k := range keys {
		size += ApplyItemLen(k, recs[i])
	}
	dst = slices.Grow(dst, size) // one allocation, not one per doubling
	var flags byte
	node := h.Hint
	switch {
	case h.Hint != "":
		flags |= flagHint
	case h.From != "":
		flags |= flagFrom
		node = h.From
	}
	if h.Noted {
		flags |= flagNoted
	}
	dst = appendRequestHeader(dst, flags, node, h.Epoch)
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for i, k := range keys {
		dst = appendBytes(dst, k)
		dst = binary.AppendUvarint(dst, uint64(recs[i].EncodedLen()))
		dst = recs[i].AppendEncode(dst)
	}
	return dst
}

// uvarintLen returns the encoded length of n as a uvarint.
func uvarintLen(n int) int {
	l := 1
	for u := uint64(n); u >= 0x80; u >>= 7 {
		l++
	}
	return l
}

// DecodeApplyRequest decodes an apply request. Keys and values alias b.
func DecodeApplyRequest(b []byte) (ApplyHeader, [][]byte, []engine.Record, error) {
	d := decoder{b: b}
	var h ApplyHeader
	flags, node, epoch := d.header(flagHint|flagFrom|flagNoted, flagHint|flagFrom)
	h.Epoch = epoch
	switch {
	case flags&flagHint != 0:
		h.Hint = node
	case flags&flagFrom != 0:
		h.From = node
	}
	h.Noted = flags&flagNoted != 0
	n := d.count(2)
	keys := make([][]byte, 0, n)
	recs := make([]engine.Record, 0, n)
	for range n {
		key := d.bytes()
		rec := d.record()
		if d.err != nil {
			break
		}
		keys, recs = append(keys, key), append(recs, rec)
	}
	return h, keys, recs, d.finish("apply request")
}

// AppendApplyResponse appends the answer to an apply of n records: each
// applied, or superseded by newer[i] (newer nil: every record applied).
func AppendApplyResponse(dst []byte, n int, newer []engine.Version) []byte {
	dst = binary.AppendUvarint(dst, uint64(n))
	for i := range n {
		if newer == nil || newer[i].IsZero() {
			dst = append(dst, statusApplied)
			continue
		}
		dst = append(dst, statusSuperseded)
		dst = appendVersion(dst, newer[i])
	}
	return dst
}

// DecodeApplyResponse decodes the answer to an apply of n records: newer
// is nil when every record applied, else newer[i] is the version the
// replica holds above record i (zero where it applied).
func DecodeApplyResponse(b []byte, n int) (newer []engine.Version, err error) {
	d := decoder{b: b}
	if c := d.count(1); c != n && d.err == nil {
		d.fail(fmt.Sprintf("%d results for %d records", c, n))
	}
	for i := 0; i < n && d.err == nil; i++ {
		switch d.byte() {
		case statusApplied:
		case statusSuperseded:
			v := d.version()
			if newer == nil {
				newer = make([]engine.Version, n)
			}
			newer[i] = v
		default:
			d.fail("bad apply status")
		}
	}
	if err := d.finish("apply response"); err != nil {
		return nil, err
	}
	return newer, nil
}

// AppendReadRequest appends the encoding of a read request to dst.
func AppendReadRequest(dst []byte, h ReadHeader, keys [][]byte) []byte {
	size := 1 + uvarintLen(len(h.Hint)) + len(h.Hint) + 10 + uvarintLen(len(keys))
	for _, k := range keys {
		size += ReadKeyLen(k)
	}
	dst = slices.Grow(dst, size)
	var flags byte
	if h.Hint != "" {
		flags = flagHint
	}
	dst = appendRequestHeader(dst, flags, h.Hint, h.Epoch)
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		dst = appendBytes(dst, k)
	}
	return dst
}

// DecodeReadRequest decodes a read request. Keys alias b.
func DecodeReadRequest(b []byte) (ReadHeader, [][]byte, error) {
	d := decoder{b: b}
	_, node, epoch := d.header(flagHint, flagHint)
	n := d.count(1)
	keys := make([][]byte, 0, n)
	for range n {
		k := d.bytes()
		if d.err != nil {
			break
		}
		keys = append(keys, k)
	}
	return ReadHeader{Hint: node, Epoch: epoch}, keys, d.finish("read request")
}

// AppendReadResponse appends the answer to a read: recs[i] where found[i],
// every key flagged behind when behind is set.
func AppendReadResponse(dst []byte, recs []engine.Record, found []bool, behind bool) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(recs)))
	for i := range recs {
		var flags byte
		if behind {
			flags |= readBehind
		}
		if !found[i] {
			dst = append(dst, flags)
			continue
		}
		dst = append(dst, flags|readFound)
		dst = binary.AppendUvarint(dst, uint64(recs[i].EncodedLen()))
		dst = recs[i].AppendEncode(dst)
	}
	return dst
}

// DecodeReadResponse decodes the answer to a read of n keys. Values alias
// b. behind is set when the replica flagged any key.
func DecodeReadResponse(b []byte, n int) (recs []engine.Record, found []bool, behind bool, err error) {
	d := decoder{b: b}
	if c := d.count(1); c != n && d.err == nil {
		d.fail(fmt.Sprintf("%d results for %d keys", c, n))
	}
	recs, found = make([]engine.Record, n), make([]bool, n)
	for i := 0; i < n && d.err == nil; i++ {
		flags := d.byte()
		if flags&^(readFound|readBehind) != 0 {
			d.fail("bad read flags")
		}
		behind = behind || flags&readBehind != 0
		if flags&readFound != 0 {
			found[i] = true
			recs[i] = d.record()
		}
	}
	if err := d.finish("read response"); err != nil {
		return nil, nil, false, err
	}
	return recs, found, behind, nil
}

// versionLen is the encoded size of an engine.Version.
const versionLen = 20

func appendVersion(dst []byte, v engine.Version) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(v.Wall))
	dst = binary.BigEndian.AppendUint32(dst, v.Logical)
	return binary.BigEndian.AppendUint64(dst, v.Node)
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// decoder reads a batch payload; after the first error every method
// returns zero values and err keeps that first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = errors.New(msg)
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads an item count; each item takes at least minItem bytes, which
// bounds a believable count by the bytes left.
func (d *decoder) count(minItem int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/minItem) {
		d.fail("count larger than payload")
		return 0
	}
	return int(n)
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) version() engine.Version {
	if d.err != nil {
		return engine.Version{}
	}
	if len(d.b) < versionLen {
		d.fail("truncated version")
		return engine.Version{}
	}
	v := engine.Version{
		Wall:    int64(binary.BigEndian.Uint64(d.b[0:8])),
		Logical: binary.BigEndian.Uint32(d.b[8:12]),
		Node:    binary.BigEndian.Uint64(d.b[12:20]),
	}
	d.b = d.b[versionLen:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("length beyond payload")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) record() engine.Record {
	b := d.bytes()
	if d.err != nil {
		return engine.Record{}
	}
	r, err := engine.DecodeRecord(b)
	if err != nil {
		d.err = err
		d.b = nil
	}
	return r
}

func (d *decoder) finish(what string) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMalformed, what, d.err)
	}
	return nil
}

// AppendHintsForResponse appends the answer to OpHintsFor: how many hints
// the node holds for the asker, and whether it holds data of its own.
func AppendHintsForResponse(dst []byte, hints int64, hasData bool) []byte {
	dst = binary.AppendUvarint(dst, uint64(hints))
	if hasData {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// DecodeHintsForResponse decodes AppendHintsForResponse's encoding.
func DecodeHintsForResponse(b []byte) (hints int64, hasData bool, err error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || len(b) != w+1 || b[w] > 1 || n > 1<<62 {
		return 0, false, fmt.Errorf("transport: hints-for answer: %w", ErrMalformed)
	}
	return int64(n), b[w] == 1, nil
}
