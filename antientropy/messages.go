package antientropy

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The exchange messages. Their encodings are compact and canonical:
// counts, levels and lengths are uvarints, index lists are zigzag varint
// deltas from the previous index (so the ascending lists Diff produces
// cost one byte per index), tokens and hashes are 8 bytes big-endian.
// Each AppendX appends an encoding to dst and returns the extended slice;
// each DecodeX accepts exactly what AppendX produces and rejects anything
// else (truncated, oversized, non-minimal varints, trailing bytes) with an
// error wrapping ErrMalformed. Decoders never panic and allocate no more
// than a small multiple of the input's length. Messages carry no type tag:
// the transport's framing says which one a payload is.

// maxLevel is the deepest level of any range tree: a tree over MaxLeaves
// leaves has maxLevel+1 levels.
const maxLevel = 5

// RootsRequest asks a replica for the root hashes of its trees over the
// given ranges: the first step of a comparison, one round trip for every
// range two nodes share.
type RootsRequest struct {
	Ranges []Range
}

// RootsResponse answers a RootsRequest with one root hash per range, in
// the request's order.
type RootsResponse struct {
	Roots []uint64
}

// NodesRequest asks a replica for the hashes of the nodes Indices of level
// Level of its tree over Range: one step of Diff's descent.
type NodesRequest struct {
	Range   Range
	Level   int
	Indices []int
}

// NodesResponse answers a NodesRequest with the hashes in the request's
// order.
type NodesResponse struct {
	Hashes []uint64
}

// EntriesRequest asks a replica for the entries of the leaves Leaves
// (indices into Leaves(Range)) of Range: the last step, once Diff found
// the differing leaves.
type EntriesRequest struct {
	Range  Range
	Leaves []int
}

// EntriesResponse answers an EntriesRequest with the entries of the
// requested leaves, in leaf order then scan order. An entry's Size is
// encoded only when it is set (transport.OpEntriesSized answers carry it, transport.OpEntries
// answers leave it out, as nodes before it was added expect).
type EntriesResponse struct {
	Entries []Entry
}

const (
	rangeLen = 16
	hashLen  = 8
	// minEntryLen is the shortest encoded entry: empty key, one-byte
	// varints, the node hash and the flags byte.
	minEntryLen = 1 + 1 + 1 + 8 + 1 + 1
	// maxEntrySize bounds a decoded Entry.Size: no record is larger than
	// a frame, which is at most 1 GiB.
	maxEntrySize = 1 << 30

	flagTombstone = 1
	// flagSize says a uvarint Entry.Size (never 0) follows the flags.
	flagSize = 2
)

// AppendRootsRequest appends the encoding of m to dst.
func AppendRootsRequest(dst []byte, m RootsRequest) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(m.Ranges)))
	for _, r := range m.Ranges {
		dst = appendRange(dst, r)
	}
	return dst
}

// DecodeRootsRequest decodes a RootsRequest.
func DecodeRootsRequest(b []byte) (RootsRequest, error) {
	d := decoder{b: b, what: "roots request"}
	var m RootsRequest
	if n := d.count(rangeLen); n > 0 {
		m.Ranges = make([]Range, n)
		for i := range m.Ranges {
			m.Ranges[i] = d.rng()
		}
	}
	return m, d.finish()
}

// AppendRootsResponse appends the encoding of m to dst.
func AppendRootsResponse(dst []byte, m RootsResponse) []byte {
	return appendHashes(dst, m.Roots)
}

// DecodeRootsResponse decodes a RootsResponse.
func DecodeRootsResponse(b []byte) (RootsResponse, error) {
	d := decoder{b: b, what: "roots response"}
	m := RootsResponse{Roots: d.hashes()}
	return m, d.finish()
}

// AppendNodesRequest appends the encoding of m to dst. A negative level
// or an index outside [0, MaxLeaves) does not decode.
func AppendNodesRequest(dst []byte, m NodesRequest) []byte {
	dst = appendRange(dst, m.Range)
	dst = binary.AppendUvarint(dst, uint64(m.Level))
	return appendIndices(dst, m.Indices)
}

// DecodeNodesRequest decodes a NodesRequest.
func DecodeNodesRequest(b []byte) (NodesRequest, error) {
	d := decoder{b: b, what: "nodes request"}
	var m NodesRequest
	m.Range = d.rng()
	if l := d.uvarint(); l > maxLevel {
		d.fail("level %d exceeds %d", l, maxLevel)
	} else {
		m.Level = int(l)
	}
	m.Indices = d.indices()
	return m, d.finish()
}

// AppendNodesResponse appends the encoding of m to dst.
func AppendNodesResponse(dst []byte, m NodesResponse) []byte {
	return appendHashes(dst, m.Hashes)
}

// DecodeNodesResponse decodes a NodesResponse.
func DecodeNodesResponse(b []byte) (NodesResponse, error) {
	d := decoder{b: b, what: "nodes response"}
	m := NodesResponse{Hashes: d.hashes()}
	return m, d.finish()
}

// AppendEntriesRequest appends the encoding of m to dst. A leaf index
// outside [0, MaxLeaves) does not decode.
func AppendEntriesRequest(dst []byte, m EntriesRequest) []byte {
	dst = appendRange(dst, m.Range)
	return appendIndices(dst, m.Leaves)
}

// DecodeEntriesRequest decodes an EntriesRequest.
func DecodeEntriesRequest(b []byte) (EntriesRequest, error) {
	d := decoder{b: b, what: "entries request"}
	var m EntriesRequest
	m.Range = d.rng()
	m.Leaves = d.indices()
	return m, d.finish()
}

// AppendEntriesResponse appends the encoding of m to dst.
func AppendEntriesResponse(dst []byte, m EntriesResponse) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(m.Entries)))
	for _, e := range m.Entries {
		dst = binary.AppendUvarint(dst, uint64(len(e.Key)))
		dst = append(dst, e.Key...)
		dst = binary.AppendVarint(dst, e.Version.Wall)
		dst = binary.AppendUvarint(dst, uint64(e.Version.Logical))
		dst = binary.BigEndian.AppendUint64(dst, e.Version.Node)
		dst = binary.AppendVarint(dst, e.ExpireAt)
		var flags byte
		if e.Tombstone {
			flags |= flagTombstone
		}
		if e.Size > 0 {
			flags |= flagSize
		}
		dst = append(dst, flags)
		if e.Size > 0 {
			dst = binary.AppendUvarint(dst, uint64(e.Size))
		}
	}
	return dst
}

// DecodeEntriesResponse decodes an EntriesResponse. The keys are copied
// out of b into one shared allocation, so b may be reused afterwards.
func DecodeEntriesResponse(b []byte) (EntriesResponse, error) {
	d := decoder{b: b, what: "entries response"}
	var m EntriesResponse
	n := d.count(minEntryLen)
	if n == 0 {
		return m, d.finish()
	}
	m.Entries = make([]Entry, n)
	keys := make([]byte, 0, len(d.b)-n*minEntryLen)
	for i := range m.Entries {
		m.Entries[i], keys = d.entry(keys)
	}
	if d.err != nil {
		return EntriesResponse{}, d.err
	}
	return m, d.finish()
}

func appendRange(dst []byte, r Range) []byte {
	dst = binary.BigEndian.AppendUint64(dst, r.Start)
	return binary.BigEndian.AppendUint64(dst, r.End)
}

func appendHashes(dst []byte, hs []uint64) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(hs)))
	for _, h := range hs {
		dst = binary.BigEndian.AppendUint64(dst, h)
	}
	return dst
}

func appendIndices(dst []byte, idx []int) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(idx)))
	prev := 0
	for _, i := range idx {
		dst = binary.AppendVarint(dst, int64(i)-int64(prev))
		prev = i
	}
	return dst
}

// decoder reads one message. The first error sticks: later reads return
// zero values, so decode functions check once, at the end.
type decoder struct {
	b    []byte
	what string
	err  error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s: %s", ErrMalformed, d.what, fmt.Sprintf(format, args...))
	}
}

// finish rejects trailing bytes and returns the first error.
func (d *decoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	switch {
	case n == 0:
		d.fail("truncated")
		return 0
	case n < 0:
		d.fail("varint overflows 64 bits")
		return 0
	case n != uvarintLen(v):
		d.fail("non-minimal varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// varint reads a zigzag varint, as binary.AppendVarint writes it.
func (d *decoder) varint() int64 {
	u := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// count reads an element count and rejects it if the rest of the input
// cannot hold that many elements of at least minLen bytes each, which
// bounds every allocation by the input's length.
func (d *decoder) count(minLen int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/minLen) {
		d.fail("count %d exceeds the %d remaining bytes", n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail("truncated")
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

// size reads an entry's size: positive, at most a frame's 1 GiB.
func (d *decoder) size() int {
	n := d.uvarint()
	if d.err == nil && (n == 0 || n > maxEntrySize) {
		d.fail("entry size %d outside [1, %d]", n, maxEntrySize)
		return 0
	}
	return int(n)
}

func (d *decoder) u64() uint64 {
	if p := d.take(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

func (d *decoder) rng() Range {
	return Range{Start: d.u64(), End: d.u64()}
}

func (d *decoder) hashes() []uint64 {
	n := d.count(hashLen)
	if n == 0 {
		return nil
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = d.u64()
	}
	return out
}

func (d *decoder) indices() []int {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	out := make([]int, n)
	prev := int64(0)
	for i := range out {
		delta := d.varint()
		if delta < -MaxLeaves || delta > MaxLeaves || prev+delta < 0 || prev+delta >= MaxLeaves {
			d.fail("index %d+%d outside [0, %d)", prev, delta, MaxLeaves)
			return nil
		}
		prev += delta
		out[i] = int(prev)
	}
	return out
}

// entry reads one entry, copying its key to the end of keys.
func (d *decoder) entry(keys []byte) (Entry, []byte) {
	var e Entry
	kl := d.uvarint()
	if d.err == nil && kl > uint64(len(d.b)) {
		d.fail("key of %d bytes exceeds the %d remaining", kl, len(d.b))
	}
	k := d.take(int(kl))
	start := len(keys)
	keys = append(keys, k...)
	e.Key = keys[start:len(keys):len(keys)]
	e.Version.Wall = d.varint()
	if l := d.uvarint(); l > math.MaxUint32 {
		d.fail("logical clock %d exceeds 32 bits", l)
	} else {
		e.Version.Logical = uint32(l)
	}
	e.Version.Node = d.u64()
	e.ExpireAt = d.varint()
	switch f := d.take(1); {
	case f == nil:
	case f[0]&^(flagTombstone|flagSize) != 0:
		d.fail("unknown flags %#x", f[0])
	default:
		e.Tombstone = f[0]&flagTombstone != 0
		if f[0]&flagSize != 0 {
			e.Size = d.size()
		}
	}
	return e, keys
}
