// Package rdb is Redis's serialization format for one string value, the
// payload of DUMP and RESTORE, so values move between redis-server and
// ringcache with standard tools.
//
// A payload is the RDB encoding of one value: a type byte (0, a string),
// the string (a length and its bytes, a small integer, or LZF-compressed),
// then the RDB version (2 bytes, little-endian) and a CRC-64 (Jones
// polynomial, 8 bytes, little-endian) of everything before it. Encode
// writes integers as Redis does and other strings uncompressed; Decode
// reads every string encoding. Both are pure.
package rdb
