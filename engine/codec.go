package engine

import (
	"encoding/binary"
	"fmt"
)

// Record encoding, format 1:
//
//	byte 0      format (1)
//	byte 1      flags: bit 0 tombstone, bit 1 has expiry, bit 2 evicted
//	            (only with bit 0); other bits must be 0
//	bytes 2-9   Version.Wall    (big-endian int64)
//	bytes 10-13 Version.Logical (big-endian uint32)
//	bytes 14-21 Version.Node    (big-endian uint64)
//	[8 bytes]   ExpireAt        (big-endian int64, only if the expiry flag is set, never 0)
//	            or EvictedAt    (big-endian int64, only if the evicted flag is set, never 0)
//	rest        Value           (tombstones carry none)
//
// The encoding is canonical: every record has exactly one encoding and the
// decoder rejects anything else, so re-encoding a decoded record is stable.
// The version sits at a fixed offset so DecodeVersion never touches the value.
const (
	formatV1 = 1

	flagTombstone = 1 << 0
	flagExpiry    = 1 << 1
	flagEvicted   = 1 << 2

	headerLen = 22
	expiryLen = 8
)

// EncodedLen returns the length of r's encoding.
func (r Record) EncodedLen() int {
	n := headerLen
	if r.Tombstone {
		if r.EvictedAt != 0 {
			n += expiryLen
		}
		return n
	}
	if r.ExpireAt != 0 {
		n += expiryLen
	}
	return n + len(r.Value)
}

// AppendEncode appends the encoding of r to dst and returns the extended
// slice. A tombstone is encoded without value or expiry, whatever r holds
// in those fields, and a record that is not a tombstone without EvictedAt.
func (r Record) AppendEncode(dst []byte) []byte {
	var flags byte
	switch {
	case r.Tombstone && r.EvictedAt != 0:
		flags = flagTombstone | flagEvicted
	case r.Tombstone:
		flags = flagTombstone
	case r.ExpireAt != 0:
		flags = flagExpiry
	}
	dst = append(dst, formatV1, flags)
	dst = appendVersion(dst, r.Version)
	if r.Tombstone {
		if r.EvictedAt != 0 {
			dst = binary.BigEndian.AppendUint64(dst, uint64(r.EvictedAt))
		}
		return dst
	}
	if r.ExpireAt != 0 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(r.ExpireAt))
	}
	return append(dst, r.Value...)
}

// versionLen is the size of an encoded Version: Wall, Logical and Node,
// big-endian (in a record's header, and the flush floor).
const versionLen = 8 + 4 + 8

func appendVersion(dst []byte, v Version) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(v.Wall))
	dst = binary.BigEndian.AppendUint32(dst, v.Logical)
	return binary.BigEndian.AppendUint64(dst, v.Node)
}

// readVersion decodes the Version at the start of b, which holds at least
// versionLen bytes.
func readVersion(b []byte) Version {
	return Version{
		Wall:    int64(binary.BigEndian.Uint64(b)),
		Logical: binary.BigEndian.Uint32(b[8:]),
		Node:    binary.BigEndian.Uint64(b[12:]),
	}
}

// DecodeRecord decodes an encoding produced by AppendEncode. The returned
// Value aliases b (no copy is made): the caller must copy it if b is reused.
// Errors wrap ErrCorrupt; DecodeRecord never panics.
func DecodeRecord(b []byte) (Record, error) {
	h, err := decodeHeader(b)
	if err != nil {
		return Record{}, err
	}
	r := h.record()
	if !h.tomb {
		r.Value = b[h.valueOff:len(b):len(b)]
	}
	return r, nil
}

// DecodeVersion decodes only the header of an encoded record: its version,
// expiry and tombstone flag. It is the cheap check of the last-write-wins
// path and does not look at the value bytes. Errors wrap ErrCorrupt.
func DecodeVersion(b []byte) (v Version, expireAt int64, tombstone bool, err error) {
	h, err := decodeHeader(b)
	return h.v, h.expireAt, h.tomb, err
}

// header is a decoded record header: all of a record but its value.
type header struct {
	v                   Version
	expireAt, evictedAt int64
	tomb                bool
	valueOff            int // where the value starts
	valueLen            int
}

func (h header) record() Record {
	return Record{Version: h.v, ExpireAt: h.expireAt, Tombstone: h.tomb, EvictedAt: h.evictedAt}
}

// bytes is what the record counts in UsedBytes for key.
func (h header) bytes(keyLen int) int64 {
	if h.tomb {
		return 0
	}
	return RecordBytes(keyLen, h.valueLen, h.expireAt != 0)
}

func decodeHeader(b []byte) (h header, err error) {
	if len(b) < headerLen {
		return header{}, fmt.Errorf("%w: %d bytes, header needs %d", ErrCorrupt, len(b), headerLen)
	}
	if b[0] != formatV1 {
		return header{}, fmt.Errorf("%w: unknown format %d", ErrCorrupt, b[0])
	}
	flags := b[1]
	switch flags {
	case 0, flagTombstone, flagExpiry, flagTombstone | flagEvicted:
	default:
		return header{}, fmt.Errorf("%w: bad flags %#x", ErrCorrupt, flags)
	}
	h.v = readVersion(b[2:])
	h.tomb = flags&flagTombstone != 0
	h.valueOff = headerLen
	if flags&(flagExpiry|flagEvicted) != 0 {
		if len(b) < headerLen+expiryLen {
			return header{}, fmt.Errorf("%w: truncated expiry", ErrCorrupt)
		}
		t := int64(binary.BigEndian.Uint64(b[headerLen:]))
		if t == 0 {
			return header{}, fmt.Errorf("%w: expiry flag with zero expiry", ErrCorrupt)
		}
		if flags&flagEvicted != 0 {
			h.evictedAt = t
		} else {
			h.expireAt = t
		}
		h.valueOff += expiryLen
	}
	if h.tomb && len(b) != h.valueOff {
		return header{}, fmt.Errorf("%w: tombstone with %d trailing bytes", ErrCorrupt, len(b)-h.valueOff)
	}
	h.valueLen = len(b) - h.valueOff
	return h, nil
}
