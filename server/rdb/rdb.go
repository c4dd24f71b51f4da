package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc64"
	"io"
	"strconv"
)

const (
	rdbTypeString = 0
	// dumpRDBVersion is the RDB version written: Redis 5.0's. Every Redis
	// since reads it, and the string encoding has not changed since.
	dumpRDBVersion = 9
	// maxRDBVersion is the newest version read (Redis 7.2's).
	maxRDBVersion = 11

	rdbEncInt8  = 0
	rdbEncInt16 = 1
	rdbEncInt32 = 2
	rdbEncLZF   = 3
)

var crcJones = crc64.MakeTable(0x95AC9329AC4BC9B5)

// crc64Jones is Redis's crc64: the Jones polynomial, reflected, with no
// initial or final inversion (Go's crc64 inverts both, hence the ^s).
func crc64Jones(b []byte) uint64 { return ^crc64.Update(^uint64(0), crcJones, b) }

// Decode's errors.
var (
	// ErrChecksum: the payload's RDB version is newer than Decode reads,
	// or its checksum does not match.
	ErrChecksum = errors.New("rdb: payload version or checksum are wrong")
	// ErrBadData: the checksum matches, but the value is malformed.
	ErrBadData = errors.New("rdb: bad data format")
	// ErrNotString: the payload holds a value of another type.
	ErrNotString = errors.New("rdb: the payload holds a value of another type than string")
)

// Encode returns v's DUMP payload.
func Encode(v []byte) []byte {
	out := []byte{rdbTypeString}
	out = appendRDBString(out, v)
	out = binary.LittleEndian.AppendUint16(out, dumpRDBVersion)
	return binary.LittleEndian.AppendUint64(out, crc64Jones(out))
}

// appendRDBString encodes s as rdbSaveRawString does without compression:
// a canonical integer of at most 11 bytes that fits 32 bits as an integer,
// anything else as a length and the bytes.
func appendRDBString(out, s []byte) []byte {
	if len(s) <= 11 {
		if n, err := strconv.ParseInt(string(s), 10, 64); err == nil && strconv.FormatInt(n, 10) == string(s) {
			switch {
			case n >= -1<<7 && n < 1<<7:
				return append(out, 0xc0|rdbEncInt8, byte(n))
			case n >= -1<<15 && n < 1<<15:
				return binary.LittleEndian.AppendUint16(append(out, 0xc0|rdbEncInt16), uint16(n))
			case n >= -1<<31 && n < 1<<31:
				return binary.LittleEndian.AppendUint32(append(out, 0xc0|rdbEncInt32), uint32(n))
			}
		}
	}
	return append(appendRDBLen(out, uint64(len(s))), s...)
}

func appendRDBLen(out []byte, n uint64) []byte {
	switch {
	case n < 1<<6:
		return append(out, byte(n))
	case n < 1<<14:
		return append(out, 0x40|byte(n>>8), byte(n))
	case n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(out, 0x80), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(out, 0x81), n)
}

// Decode checks a payload's version and checksum and returns its string;
// maxLen bounds what it may decompress to.
func Decode(p []byte, maxLen int64) ([]byte, error) {
	if len(p) < 10 {
		return nil, ErrChecksum
	}
	body, footer := p[:len(p)-10], p[len(p)-10:]
	if binary.LittleEndian.Uint16(footer) > maxRDBVersion {
		return nil, ErrChecksum
	}
	if binary.LittleEndian.Uint64(footer[2:]) != crc64Jones(p[:len(p)-8]) {
		return nil, ErrChecksum
	}
	if len(body) == 0 {
		return nil, ErrBadData
	}
	if body[0] != rdbTypeString {
		return nil, ErrNotString
	}
	r := bytes.NewReader(body[1:])
	v, err := readRDBString(r, maxLen)
	if err != nil || r.Len() != 0 {
		return nil, ErrBadData
	}
	return v, nil
}

// readRDBLen reads a length, or an encoding (encoded set) from 11xxxxxx.
func readRDBLen(r *bytes.Reader) (n uint64, encoded bool, err error) {
	b, err := r.ReadByte()
	if err != nil {
		return 0, false, ErrBadData
	}
	switch b >> 6 {
	case 0:
		return uint64(b & 0x3f), false, nil
	case 1:
		b2, err := r.ReadByte()
		if err != nil {
			return 0, false, ErrBadData
		}
		return uint64(b&0x3f)<<8 | uint64(b2), false, nil
	case 3:
		return uint64(b & 0x3f), true, nil
	}
	var buf [8]byte
	switch b {
	case 0x80:
		if _, err := io.ReadFull(r, buf[:4]); err != nil {
			return 0, false, ErrBadData
		}
		return uint64(binary.BigEndian.Uint32(buf[:4])), false, nil
	case 0x81:
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return 0, false, ErrBadData
		}
		return binary.BigEndian.Uint64(buf[:]), false, nil
	}
	return 0, false, ErrBadData
}

func readRDBString(r *bytes.Reader, maxLen int64) ([]byte, error) {
	n, encoded, err := readRDBLen(r)
	if err != nil {
		return nil, err
	}
	if !encoded {
		if n > uint64(r.Len()) {
			return nil, ErrBadData
		}
		out := make([]byte, n)
		_, _ = r.Read(out)
		return out, nil
	}
	var buf [4]byte
	switch n {
	case rdbEncInt8:
		b, err := r.ReadByte()
		if err != nil {
			return nil, ErrBadData
		}
		return strconv.AppendInt(nil, int64(int8(b)), 10), nil
	case rdbEncInt16:
		if _, err := io.ReadFull(r, buf[:2]); err != nil {
			return nil, ErrBadData
		}
		return strconv.AppendInt(nil, int64(int16(binary.LittleEndian.Uint16(buf[:2]))), 10), nil
	case rdbEncInt32:
		if _, err := io.ReadFull(r, buf[:4]); err != nil {
			return nil, ErrBadData
		}
		return strconv.AppendInt(nil, int64(int32(binary.LittleEndian.Uint32(buf[:4]))), 10), nil
	case rdbEncLZF:
		clen, enc1, err := readRDBLen(r)
		if err != nil || enc1 {
			return nil, ErrBadData
		}
		ulen, enc2, err := readRDBLen(r)
		if err != nil || enc2 || clen > uint64(r.Len()) || ulen > uint64(maxLen) {
			return nil, ErrBadData
		}
		in := make([]byte, clen)
		_, _ = r.Read(in)
		return lzfDecompress(in, int(ulen))
	}
	return nil, ErrBadData
}

// lzfDecompress expands LZF data (liblzf's format, as Redis writes it)
// that must come to exactly n bytes.
func lzfDecompress(in []byte, n int) ([]byte, error) {
	out := make([]byte, 0, n)
	for i := 0; i < len(in); {
		ctrl := int(in[i])
		i++
		if ctrl < 32 { // a run of ctrl+1 literal bytes
			run := ctrl + 1
			if i+run > len(in) || len(out)+run > n {
				return nil, ErrBadData
			}
			out = append(out, in[i:i+run]...)
			i += run
			continue
		}
		length := ctrl >> 5
		if length == 7 {
			if i >= len(in) {
				return nil, ErrBadData
			}
			length += int(in[i])
			i++
		}
		if i >= len(in) {
			return nil, ErrBadData
		}
		back := (ctrl&0x1f)<<8 + int(in[i]) + 1
		i++
		length += 2
		ref := len(out) - back
		if ref < 0 || len(out)+length > n {
			return nil, ErrBadData
		}
		for k := range length { // may overlap what it appends
			out = append(out, out[ref+k])
		}
	}
	if len(out) != n {
		return nil, ErrBadData
	}
	return out, nil
}
