package engine

import (
	"encoding/binary"
	"fmt"
)

// Record encoding, format 1:
//
//	byte 0      format (1)
//	byte 1      flags: bit 0 tombstone, bit 1 has expiry; other bits must be 0
//	bytes 2-9   Version.Wall    (big-endian int64)
//	bytes 10-13 Version.Logical (big-endian uint32)
//	bytes 14-21 Version.Node    (big-endian uint64)
//	[8 bytes]   ExpireAt        (big-endian int64, only if the expiry flag is set, never 0)
//	rest        Value           (tombstones carry none)
//
// The encoding is canonical: every record has exactly one encoding and the
// decoder rejects anything else, so re-encoding a decoded record is stable.
// The version sits at a fixed offset so DecodeVersion never touches the value.
const (
	formatV1 = 1

	flagTombstone = 1 << 0
	flagExpiry    = 1 << 1
	flagsKnown    = flagTombstone | flagExpiry

	headerLen = 22
	expiryLen = 8
)

// EncodedLen returns the length of r's encoding.
func (r Record) EncodedLen() int {
	n := headerLen
	if r.Tombstone {
		return n
	}
	if r.ExpireAt != 0 {
		n += expiryLen
	}
	return n + len(r.Value)
}

// AppendEncode appends the encoding of r to dst and returns the extended
// slice. A tombstone is encoded without value or expiry, whatever r holds
// in those fields.
func (r Record) AppendEncode(dst []byte) []byte {
	var flags byte
	switch {
	case r.Tombstone:
		flags = flagTombstone
	case r.ExpireAt != 0:
		flags = flagExpiry
	}
	dst = append(dst, formatV1, flags)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.Version.Wall))
	dst = binary.BigEndian.AppendUint32(dst, r.Version.Logical)
	dst = binary.BigEndian.AppendUint64(dst, r.Version.Node)
	if r.Tombstone {
		return dst
	}
	if r.ExpireAt != 0 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(r.ExpireAt))
	}
	return append(dst, r.Value...)
}

// DecodeRecord decodes an encoding produced by AppendEncode. The returned
// Value aliases b (no copy is made): the caller must copy it if b is reused.
// Errors wrap ErrCorrupt; DecodeRecord never panics.
func DecodeRecord(b []byte) (Record, error) {
	v, exp, tomb, err := DecodeVersion(b)
	if err != nil {
		return Record{}, err
	}
	r := Record{Version: v, ExpireAt: exp, Tombstone: tomb}
	off := headerLen
	if exp != 0 {
		off += expiryLen
	}
	if tomb {
		if len(b) != headerLen {
			return Record{}, fmt.Errorf("%w: tombstone with %d trailing bytes", ErrCorrupt, len(b)-headerLen)
		}
		return r, nil
	}
	r.Value = b[off:len(b):len(b)]
	return r, nil
}

// DecodeVersion decodes only the header of an encoded record: its version,
// expiry and tombstone flag. It is the cheap check of the last-write-wins
// path and does not look at the value bytes. Errors wrap ErrCorrupt.
func DecodeVersion(b []byte) (v Version, expireAt int64, tombstone bool, err error) {
	if len(b) < headerLen {
		return Version{}, 0, false, fmt.Errorf("%w: %d bytes, header needs %d", ErrCorrupt, len(b), headerLen)
	}
	if b[0] != formatV1 {
		return Version{}, 0, false, fmt.Errorf("%w: unknown format %d", ErrCorrupt, b[0])
	}
	flags := b[1]
	if flags&^flagsKnown != 0 || flags == flagsKnown {
		return Version{}, 0, false, fmt.Errorf("%w: bad flags %#x", ErrCorrupt, flags)
	}
	v = Version{
		Wall:    int64(binary.BigEndian.Uint64(b[2:10])),
		Logical: binary.BigEndian.Uint32(b[10:14]),
		Node:    binary.BigEndian.Uint64(b[14:22]),
	}
	if flags&flagExpiry != 0 {
		if len(b) < headerLen+expiryLen {
			return Version{}, 0, false, fmt.Errorf("%w: truncated expiry", ErrCorrupt)
		}
		expireAt = int64(binary.BigEndian.Uint64(b[headerLen:]))
		if expireAt == 0 {
			return Version{}, 0, false, fmt.Errorf("%w: expiry flag with zero expiry", ErrCorrupt)
		}
	}
	return v, expireAt, flags&flagTombstone != 0, nil
}
