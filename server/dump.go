package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc64"
	"io"
	"strconv"

	"github.com/ringcache/ringcache/server/store"
)

// DUMP and RESTORE in Redis's serialization format for strings, so values
// move between redis-server and ringcache with standard tools. A payload
// is the RDB encoding of one value: a type byte (0, a string), the string
// (a length and its bytes, a small integer, or LZF-compressed), then the
// RDB version (2 bytes, little-endian) and a CRC-64 (Jones polynomial, 8
// bytes, little-endian) of everything before it. encodeDump writes
// integers as Redis does and other strings uncompressed; decodeDump reads
// every string encoding. Both are pure.

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

var (
	errDumpPayload = newReplyError("ERR DUMP payload version or checksum are wrong")
	errBadData     = newReplyError("ERR Bad data format")
	errNotString   = newReplyError("ERR the payload holds a value of another type than string; ringcache stores strings only")
)

// encodeDump returns v's DUMP payload.
func encodeDump(v []byte) []byte {
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
		if n, ok := parseInt64(s); ok && strconv.FormatInt(n, 10) == string(s) {
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

// decodeDump checks a payload's version and checksum and returns its
// string; maxLen bounds what it may decompress to.
func decodeDump(p []byte, maxLen int64) ([]byte, error) {
	if len(p) < 10 {
		return nil, errDumpPayload
	}
	body, footer := p[:len(p)-10], p[len(p)-10:]
	if binary.LittleEndian.Uint16(footer) > maxRDBVersion {
		return nil, errDumpPayload
	}
	if binary.LittleEndian.Uint64(footer[2:]) != crc64Jones(p[:len(p)-8]) {
		return nil, errDumpPayload
	}
	if len(body) == 0 {
		return nil, errBadData
	}
	if body[0] != rdbTypeString {
		return nil, errNotString
	}
	r := bytes.NewReader(body[1:])
	v, err := readRDBString(r, maxLen)
	if err != nil || r.Len() != 0 {
		return nil, errBadData
	}
	return v, nil
}

var errRDB = errors.New("malformed RDB string")

// readRDBLen reads a length, or an encoding (encoded set) from 11xxxxxx.
func readRDBLen(r *bytes.Reader) (n uint64, encoded bool, err error) {
	b, err := r.ReadByte()
	if err != nil {
		return 0, false, errRDB
	}
	switch b >> 6 {
	case 0:
		return uint64(b & 0x3f), false, nil
	case 1:
		b2, err := r.ReadByte()
		if err != nil {
			return 0, false, errRDB
		}
		return uint64(b&0x3f)<<8 | uint64(b2), false, nil
	case 3:
		return uint64(b & 0x3f), true, nil
	}
	var buf [8]byte
	switch b {
	case 0x80:
		if _, err := io.ReadFull(r, buf[:4]); err != nil {
			return 0, false, errRDB
		}
		return uint64(binary.BigEndian.Uint32(buf[:4])), false, nil
	case 0x81:
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return 0, false, errRDB
		}
		return binary.BigEndian.Uint64(buf[:]), false, nil
	}
	return 0, false, errRDB
}

func readRDBString(r *bytes.Reader, maxLen int64) ([]byte, error) {
	n, encoded, err := readRDBLen(r)
	if err != nil {
		return nil, err
	}
	if !encoded {
		if n > uint64(r.Len()) {
			return nil, errRDB
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
			return nil, errRDB
		}
		return strconv.AppendInt(nil, int64(int8(b)), 10), nil
	case rdbEncInt16:
		if _, err := io.ReadFull(r, buf[:2]); err != nil {
			return nil, errRDB
		}
		return strconv.AppendInt(nil, int64(int16(binary.LittleEndian.Uint16(buf[:2]))), 10), nil
	case rdbEncInt32:
		if _, err := io.ReadFull(r, buf[:4]); err != nil {
			return nil, errRDB
		}
		return strconv.AppendInt(nil, int64(int32(binary.LittleEndian.Uint32(buf[:4]))), 10), nil
	case rdbEncLZF:
		clen, enc1, err := readRDBLen(r)
		if err != nil || enc1 {
			return nil, errRDB
		}
		ulen, enc2, err := readRDBLen(r)
		if err != nil || enc2 || clen > uint64(r.Len()) || ulen > uint64(maxLen) {
			return nil, errRDB
		}
		in := make([]byte, clen)
		_, _ = r.Read(in)
		return lzfDecompress(in, int(ulen))
	}
	return nil, errRDB
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
				return nil, errRDB
			}
			out = append(out, in[i:i+run]...)
			i += run
			continue
		}
		length := ctrl >> 5
		if length == 7 {
			if i >= len(in) {
				return nil, errRDB
			}
			length += int(in[i])
			i++
		}
		if i >= len(in) {
			return nil, errRDB
		}
		back := (ctrl&0x1f)<<8 + int(in[i]) + 1
		i++
		length += 2
		ref := len(out) - back
		if ref < 0 || len(out)+length > n {
			return nil, errRDB
		}
		for k := range length { // may overlap what it appends
			out = append(out, out[ref+k])
		}
	}
	if len(out) != n {
		return nil, errRDB
	}
	return out, nil
}

func cmdDump(x *call) error {
	it, err := x.get(x.args[1])
	if err != nil {
		return err
	}
	if !it.Found {
		x.conn.WriteNull()
		return nil
	}
	x.conn.WriteBulk(encodeDump(it.Value))
	return nil
}

// restoreOptions is RESTORE's options after the payload.
type restoreOptions struct {
	replace, absTTL  bool
	idletime, freq   int64
	haveIdle, hasLFU bool
}

func parseRestore(args [][]byte) (restoreOptions, error) {
	req := restoreOptions{}
	for j := 4; j < len(args); j++ {
		more := j+1 < len(args)
		switch a := args[j]; {
		case equalFold(a, "replace"):
			req.replace = true
		case equalFold(a, "absttl"):
			req.absTTL = true
		case equalFold(a, "idletime") && more && !req.hasLFU:
			v, ok := parseInt64(args[j+1])
			if !ok {
				return req, errNotInteger
			}
			if v < 0 {
				return req, newReplyError("ERR Invalid IDLETIME value, must be >= 0")
			}
			req.idletime, req.haveIdle = v, true
			j++
		case equalFold(a, "freq") && more && !req.haveIdle:
			v, ok := parseInt64(args[j+1])
			if !ok {
				return req, errNotInteger
			}
			if v < 0 || v > 255 {
				return req, newReplyError("ERR Invalid FREQ value, must be >= 0 and <= 255")
			}
			req.freq, req.hasLFU = v, true
			j++
		default:
			return req, errSyntax
		}
	}
	return req, nil
}

// cmdRestore answers RESTORE key ttl payload [REPLACE] [ABSTTL]
// [IDLETIME s] [FREQ f], checking in Redis's order: options, an existing
// key, the TTL, the payload. IDLETIME and FREQ are checked and ignored: no
// access data is kept per key.
func cmdRestore(x *call) error {
	req, err := parseRestore(x.args)
	if err != nil {
		return err
	}
	key := x.args[1]
	defer x.lockKey(key).Unlock()
	old, err := x.getLatest(key)
	if err != nil {
		return err
	}
	if old.Found && !req.replace {
		return newReplyError("BUSYKEY Target key name already exists.")
	}
	ttl, ok := parseInt64(x.args[2])
	switch {
	case !ok:
		return errNotInteger
	case ttl < 0:
		return newReplyError("ERR Invalid TTL value, must be >= 0")
	}
	v, err := decodeDump(x.args[3], x.s.cfg.MaxBulkLen)
	if err != nil {
		return err
	}
	at := ttl
	if at != 0 && !req.absTTL {
		at += x.nowMs()
	}
	if at != 0 && at <= x.nowMs() {
		// Already expired: nothing is created, and a replaced key goes.
		if old.Found {
			if err := x.put(store.Mutation{Key: key, Delete: true}); err != nil {
				return err
			}
		}
		x.conn.WriteString("OK")
		return nil
	}
	if err := x.put(store.Mutation{Key: key, Value: v, ExpireAt: at}); err != nil {
		return err
	}
	x.conn.WriteString("OK")
	return nil
}
