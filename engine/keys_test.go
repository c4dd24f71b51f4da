package engine

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestDataKeyLayout(t *testing.T) {
	for _, k := range []string{"", "a", "user:1000", "\x00\xff"} {
		dk := AppendDataKey(nil, []byte(k))
		if dk[0] != prefixData || len(dk) != dataKeyHeader+len(k) {
			t.Fatalf("%q: bad data key %x", k, dk)
		}
		if got := binary.BigEndian.Uint64(dk[1:9]); got != Token([]byte(k)) {
			t.Fatalf("%q: token %x, want %x", k, got, Token([]byte(k)))
		}
		if got := UserKey(dk); !bytes.Equal(got, []byte(k)) {
			t.Fatalf("UserKey = %q, want %q", got, k)
		}
	}
	for _, bad := range [][]byte{nil, {prefixData}, []byte("x12345678k")} {
		if UserKey(bad) != nil {
			t.Fatalf("UserKey(%x) should be nil", bad)
		}
	}
}

// Data keys must sort by token so that a token range is one contiguous scan.
func TestDataKeysSortByToken(t *testing.T) {
	var prevTok uint64
	var prev []byte
	for i := range 1000 {
		k := binary.BigEndian.AppendUint32(nil, uint32(i))
		dk := AppendDataKey(nil, k)
		if prev != nil && (bytes.Compare(prev, dk) < 0) != (prevTok < Token(k)) {
			t.Fatalf("key order disagrees with token order for %x, %x", prev, dk)
		}
		prev, prevTok = dk, Token(k)
	}
}

func TestIndexKeyRoundTrip(t *testing.T) {
	dk := AppendDataKey(nil, []byte("k"))
	tests := []struct {
		due, wantDue int64
		kind         byte
	}{
		{0, 0, kindExpire},
		{1700000000000, 1700000000000, kindPurge},
		{-5, 0, kindExpire},
		{-5, 0, kindPurge},
	}
	for _, tt := range tests {
		ik := appendIndexKey(nil, tt.due, tt.kind, dk)
		due, kind, got, ok := parseIndexKey(ik)
		if !ok || due != tt.wantDue || kind != tt.kind || !bytes.Equal(got, dk) {
			t.Fatalf("parse(%x) = %d %c %x %v", ik, due, kind, got, ok)
		}
		bound, prefix := indexBound, byte(prefixIndex)
		if tt.kind == kindPurge {
			bound, prefix = purgeBound, prefixPurge
		}
		if ik[0] != prefix || bytes.Compare(ik, bound(tt.wantDue+1)) >= 0 || bytes.Compare(ik, bound(tt.wantDue)) < 0 {
			t.Fatalf("index key %x outside its keyspace's due bounds", ik)
		}
	}
	other := appendIndexKey(nil, 1, kindPurge, dk)
	other[0] = prefixPurge + 1 // well formed but for its keyspace
	for _, k := range []string{"x123", "y123", string(other)} {
		if _, _, _, ok := parseIndexKey([]byte(k)); ok {
			t.Fatalf("malformed index key %q parsed", k)
		}
	}
}
