package transport

import (
	"encoding/binary"

	"github.com/ringcache/ringcache/engine"
)

// OpScan payloads:
//
//	scan request   a flags byte (bit 3: an epoch follows), the epoch when
//	               bit 3 is set, the span's start and end tokens (8
//	               bytes each, big-endian; end 0 is the top of the ring),
//	               then the page's limit (uvarint)
//	scan response  a flags byte (bit 0: more, bit 1: behind), the next
//	               page's start token (8 bytes), a count, and per record:
//	               key length, key, record length, record
//
// A scan answer's records carry no value: SCAN needs keys and versions.

// ScanRequest asks a replica for a page of the records of a span
// (engine.Engine.ScanPage).
type ScanRequest struct {
	Start, End uint64
	Limit      int
	// Epoch is as in ApplyHeader.
	Epoch uint64
}

// ScanResponse is a replica's page.
type ScanResponse struct {
	Keys [][]byte
	// Recs[i] is Keys[i]'s record, without its value.
	Recs []engine.Record
	// Next is where the next page starts; More is false once the span is
	// exhausted.
	Next uint64
	More bool
	// Behind is set when the replica is catching up on writes it missed.
	Behind bool
}

// Scan response flags.
const (
	scanMore   = 1 << 0
	scanBehind = 1 << 1
)

// maxScanLimit bounds a scan request's limit.
const maxScanLimit = 1 << 20

// AppendScanRequest appends the encoding of a scan request to dst.
func AppendScanRequest(dst []byte, r ScanRequest) []byte {
	dst = appendRequestHeader(dst, 0, "", r.Epoch)
	dst = binary.BigEndian.AppendUint64(dst, r.Start)
	dst = binary.BigEndian.AppendUint64(dst, r.End)
	return binary.AppendUvarint(dst, uint64(max(r.Limit, 0)))
}

// DecodeScanRequest decodes a scan request.
func DecodeScanRequest(b []byte) (ScanRequest, error) {
	d := decoder{b: b}
	_, _, epoch := d.header(0, 0)
	r := ScanRequest{Epoch: epoch, Start: d.uint64(), End: d.uint64()}
	if l := d.uvarint(); l > maxScanLimit {
		d.fail("scan limit too large")
	} else {
		r.Limit = int(l)
	}
	return r, d.finish("scan request")
}

// AppendScanResponse appends the encoding of a page to dst; the records'
// values are left out.
func AppendScanResponse(dst []byte, r ScanResponse) []byte {
	var flags byte
	if r.More {
		flags |= scanMore
	}
	if r.Behind {
		flags |= scanBehind
	}
	dst = append(dst, flags)
	dst = binary.BigEndian.AppendUint64(dst, r.Next)
	dst = binary.AppendUvarint(dst, uint64(len(r.Keys)))
	for i, k := range r.Keys {
		rec := r.Recs[i]
		rec.Value = nil
		dst = appendBytes(dst, k)
		dst = binary.AppendUvarint(dst, uint64(rec.EncodedLen()))
		dst = rec.AppendEncode(dst)
	}
	return dst
}

// DecodeScanResponse decodes a page. Keys alias b.
func DecodeScanResponse(b []byte) (ScanResponse, error) {
	d := decoder{b: b}
	flags := d.byte()
	if flags&^(scanMore|scanBehind) != 0 {
		d.fail("bad scan flags")
	}
	r := ScanResponse{More: flags&scanMore != 0, Behind: flags&scanBehind != 0, Next: d.uint64()}
	n := d.count(2)
	r.Keys, r.Recs = make([][]byte, 0, n), make([]engine.Record, 0, n)
	for range n {
		k, rec := d.bytes(), d.record()
		if d.err != nil {
			break
		}
		r.Keys, r.Recs = append(r.Keys, k), append(r.Recs, rec)
	}
	if err := d.finish("scan response"); err != nil {
		return ScanResponse{}, err
	}
	return r, nil
}

// uint64 reads 8 bytes, big-endian.
func (d *decoder) uint64() uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail("truncated")
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// OpNodeClassCounts answer: a count of classes, then per class its Keys,
// Expires and ExpireSum, each a zigzag varint.

// AppendFloor appends a flush floor, the version below which a node
// stores nothing (engine.Engine.Floor): the OpNodeDropAll request, and
// an OpFloor request or answer.
func AppendFloor(dst []byte, floor engine.Version) []byte {
	return appendVersion(dst, floor)
}

// DecodeFloor decodes a message AppendFloor encoded. An empty one, from a
// node that sends no floor, is the zero version.
func DecodeFloor(b []byte) (engine.Version, error) {
	if len(b) == 0 {
		return engine.Version{}, nil
	}
	d := decoder{b: b}
	v := d.version()
	if err := d.finish("floor"); err != nil {
		return engine.Version{}, err
	}
	return v, nil
}

// AppendClassCounts appends the encoding of a node's class figures.
func AppendClassCounts(dst []byte, cs []engine.ClassCount) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(cs)))
	for _, c := range cs {
		dst = binary.AppendVarint(dst, c.Keys)
		dst = binary.AppendVarint(dst, c.Expires)
		dst = binary.AppendVarint(dst, c.ExpireSum)
	}
	return dst
}

// DecodeClassCounts decodes a node's class figures.
func DecodeClassCounts(b []byte) ([]engine.ClassCount, error) {
	d := decoder{b: b}
	n := d.count(3)
	out := make([]engine.ClassCount, 0, n)
	for range n {
		c := engine.ClassCount{Keys: d.varint(), Expires: d.varint(), ExpireSum: d.varint()}
		if d.err != nil {
			break
		}
		out = append(out, c)
	}
	if err := d.finish("class counts"); err != nil {
		return nil, err
	}
	return out, nil
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}
