package engine

import (
	"bytes"
	"testing"
)

// FuzzDecodeRecord checks that arbitrary bytes never panic the decoder,
// that DecodeVersion agrees with DecodeRecord, and that a successful decode
// re-encodes to the same bytes (the encoding is canonical).
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range []Record{
		{},
		val(ver(1700000000000, 1, 7), "value"),
		{Version: ver(3, 0, 1), Value: []byte("ttl"), ExpireAt: 1700000000100},
		{Version: ver(4, 2, 9), Tombstone: true},
		{Version: ver(5, 2, 10), Tombstone: true, EvictedAt: 1700000000200},
	} {
		f.Add(r.AppendEncode(nil))
	}
	f.Add([]byte{})
	f.Add([]byte{formatV1, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(b)
		v, exp, tomb, verr := DecodeVersion(b)
		if err != nil {
			return
		}
		if verr != nil || v != r.Version || exp != r.ExpireAt || tomb != r.Tombstone {
			t.Fatalf("DecodeVersion = %v %d %v %v, DecodeRecord = %+v", v, exp, tomb, verr, r)
		}
		if again := r.AppendEncode(nil); !bytes.Equal(again, b) {
			t.Fatalf("re-encode %x != input %x", again, b)
		}
	})
}

// FuzzRecordRoundTrip checks decode(encode(r)) == r for canonical records.
func FuzzRecordRoundTrip(f *testing.F) {
	f.Add(int64(1), uint32(2), uint64(3), int64(0), false, []byte("v"), int64(0))
	f.Add(int64(-1), uint32(0), uint64(0), int64(-5), false, []byte{}, int64(0))
	f.Add(int64(9), uint32(9), uint64(9), int64(0), true, []byte(nil), int64(0))
	f.Add(int64(9), uint32(9), uint64(9), int64(0), true, []byte(nil), int64(12))
	f.Fuzz(func(t *testing.T, wall int64, logical uint32, node uint64, exp int64, tomb bool, value []byte, evicted int64) {
		r := Record{Version: ver(wall, logical, node), Value: value, ExpireAt: exp, Tombstone: tomb}
		if tomb {
			r.Value, r.ExpireAt = nil, 0 // the canonical tombstone
			r.EvictedAt = evicted
		}
		enc := r.AppendEncode(nil)
		got, err := DecodeRecord(enc)
		if err != nil {
			t.Fatalf("DecodeRecord(encode(%+v)): %v", r, err)
		}
		if !recordsEqual(got, r) {
			t.Fatalf("got %+v, want %+v", got, r)
		}
		if len(enc) != r.EncodedLen() {
			t.Fatalf("EncodedLen %d, encoded %d", r.EncodedLen(), len(enc))
		}
	})
}
