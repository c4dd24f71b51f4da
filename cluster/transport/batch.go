package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/ringcache/ringcache/engine"
)

// Batch payloads. Counts and lengths are uvarints:
//
//	apply request   count, then per item: key length, key, record length, record
//	apply response  count, then per item: status (0 applied, 1 superseded
//	                followed by the newer version held: wall int64, logical
//	                uint32, node uint64, big-endian; 2 error followed by a
//	                message length and message)
//	read request    count, then per item: key length, key
//	read response   count, then per item: a flags byte (bit 0 found, bit 1
//	                behind), and when found a record length and record
//
// Records use the engine's encoding (engine.Record.AppendEncode). Decoders
// check every length against the bytes left before allocating, so a forged
// count cannot make them allocate more than the payload size.

// ApplyItem is one key and the record to apply to it.
type ApplyItem struct {
	Key    []byte
	Record engine.Record
}

// ApplyResult is a replica's answer for one ApplyItem.
type ApplyResult struct {
	// Applied reports whether the record was stored. False with a nil Err
	// means the replica already held this or a newer version, which is
	// success for last-write-wins replication.
	Applied bool
	// Newer, when Applied is false, is the version the replica holds if
	// it is newer than the item's (zero: the replica held the same
	// version). A writer learns from it that its write is not the newest.
	Newer engine.Version
	// Err is the replica's error for this item; at the caller it is a
	// *RemoteError.
	Err error
}

// ReadResult is a replica's answer for one key.
type ReadResult struct {
	// Found reports whether the replica holds a record (tombstones
	// included) for the key.
	Found bool
	// Behind reports that the replica knows it may lack writes of this
	// key (it is still catching up): a reader should not count its answer
	// as an up-to-date one.
	Behind bool
	Record engine.Record
}

// Read result flags.
const (
	readFound  = 1 << 0
	readBehind = 1 << 1
)

const (
	statusApplied    = 0
	statusSuperseded = 1
	statusError      = 2
)

// AppendApplyRequest appends the encoding of items to dst.
func AppendApplyRequest(dst []byte, items []ApplyItem) []byte {
	size := uvarintLen(len(items))
	for _, it := range items {
		n := it.Record.EncodedLen()
		size += uvarintLen(len(it.Key)) + len(it.Key) + uvarintLen(n) + n
	}
	dst = slices.Grow(dst, size) // one allocation, not one per doubling
	dst = binary.AppendUvarint(dst, uint64(len(items)))
	for _, it := range items {
		dst = appendBytes(dst, it.Key)
		dst = binary.AppendUvarint(dst, uint64(it.Record.EncodedLen()))
		dst = it.Record.AppendEncode(dst)
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
func DecodeApplyRequest(b []byte) ([]ApplyItem, error) {
	d := decoder{b: b}
	n := d.count(2)
	items := make([]ApplyItem, 0, n)
	for range n {
		key := d.bytes()
		rec := d.record()
		if d.err != nil {
			break
		}
		items = append(items, ApplyItem{Key: key, Record: rec})
	}
	return items, d.finish("apply request")
}

// AppendApplyResponse appends the encoding of results to dst.
func AppendApplyResponse(dst []byte, results []ApplyResult) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(results)))
	for _, r := range results {
		switch {
		case r.Err != nil:
			dst = append(dst, statusError)
			dst = appendBytes(dst, appendError(nil, r.Err))
		case r.Applied:
			dst = append(dst, statusApplied)
		default:
			dst = append(dst, statusSuperseded)
			dst = appendVersion(dst, r.Newer)
		}
	}
	return dst
}

// DecodeApplyResponse decodes an apply response; item errors become
// *RemoteError.
func DecodeApplyResponse(b []byte) ([]ApplyResult, error) {
	d := decoder{b: b}
	n := d.count(1)
	results := make([]ApplyResult, 0, n)
	for range n {
		var r ApplyResult
		switch d.byte() {
		case statusApplied:
			r.Applied = true
		case statusSuperseded:
			r.Newer = d.version()
		case statusError:
			r.Err = decodeError(OpApply, d.bytes())
		default:
			d.fail("bad apply status")
		}
		if d.err != nil {
			break
		}
		results = append(results, r)
	}
	return results, d.finish("apply response")
}

// AppendReadRequest appends the encoding of keys to dst.
func AppendReadRequest(dst []byte, keys [][]byte) []byte {
	size := uvarintLen(len(keys))
	for _, k := range keys {
		size += uvarintLen(len(k)) + len(k)
	}
	dst = slices.Grow(dst, size)
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		dst = appendBytes(dst, k)
	}
	return dst
}

// DecodeReadRequest decodes a read request. Keys alias b.
func DecodeReadRequest(b []byte) ([][]byte, error) {
	d := decoder{b: b}
	n := d.count(1)
	keys := make([][]byte, 0, n)
	for range n {
		k := d.bytes()
		if d.err != nil {
			break
		}
		keys = append(keys, k)
	}
	return keys, d.finish("read request")
}

// AppendReadResponse appends the encoding of results to dst.
func AppendReadResponse(dst []byte, results []ReadResult) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(results)))
	for _, r := range results {
		var flags byte
		if r.Behind {
			flags |= readBehind
		}
		if !r.Found {
			dst = append(dst, flags)
			continue
		}
		dst = append(dst, flags|readFound)
		dst = binary.AppendUvarint(dst, uint64(r.Record.EncodedLen()))
		dst = r.Record.AppendEncode(dst)
	}
	return dst
}

// DecodeReadResponse decodes a read response. Values alias b.
func DecodeReadResponse(b []byte) ([]ReadResult, error) {
	d := decoder{b: b}
	n := d.count(1)
	results := make([]ReadResult, 0, n)
	for range n {
		var r ReadResult
		flags := d.byte()
		if flags&^(readFound|readBehind) != 0 {
			d.fail("bad read flags")
		}
		r.Behind = flags&readBehind != 0
		if flags&readFound != 0 {
			r.Found = true
			r.Record = d.record()
		}
		if d.err != nil {
			break
		}
		results = append(results, r)
	}
	return results, d.finish("read response")
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
