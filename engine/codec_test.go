package engine

import (
	"errors"
	"math"
	"testing"
)

func TestCodecRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		r    Record
		len  int
	}{
		{"empty value", Record{Version: ver(1, 0, 0)}, headerLen},
		{"value", Record{Version: ver(1700000000000, 7, 42), Value: []byte("hello")}, headerLen + 5},
		{"expiry", Record{Version: ver(5, 1, 2), Value: []byte("v"), ExpireAt: 99}, headerLen + 8 + 1},
		{"negative expiry", Record{Version: ver(5, 1, 2), ExpireAt: -3}, headerLen + 8},
		{"tombstone", Record{Version: ver(9, 9, 9), Tombstone: true}, headerLen},
		{"extremes", Record{Version: ver(math.MinInt64, math.MaxUint32, math.MaxUint64), Value: make([]byte, 1000), ExpireAt: math.MaxInt64}, headerLen + 8 + 1000},
		{"zero version", Record{Value: []byte{0}}, headerLen + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.r.AppendEncode(nil)
			if len(b) != tt.len || tt.r.EncodedLen() != tt.len {
				t.Fatalf("len = %d, EncodedLen = %d, want %d", len(b), tt.r.EncodedLen(), tt.len)
			}
			got, err := DecodeRecord(b)
			if err != nil {
				t.Fatalf("DecodeRecord: %v", err)
			}
			if !recordsEqual(got, tt.r) {
				t.Fatalf("got %+v, want %+v", got, tt.r)
			}
			v, exp, tomb, err := DecodeVersion(b)
			if err != nil || v != tt.r.Version || exp != tt.r.ExpireAt || tomb != tt.r.Tombstone {
				t.Fatalf("DecodeVersion = %v %d %v %v", v, exp, tomb, err)
			}
		})
	}
}

func TestCodecTombstoneDropsValueAndExpiry(t *testing.T) {
	r := Record{Version: ver(1, 2, 3), Value: []byte("x"), ExpireAt: 5, Tombstone: true}
	got, err := DecodeRecord(r.AppendEncode(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Record{Version: r.Version, Tombstone: true}
	if !recordsEqual(got, want) || got.Value != nil {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestCodecAppendsToDst(t *testing.T) {
	prefix := []byte("prefix")
	b := val(ver(1, 0, 0), "v").AppendEncode(prefix)
	if string(b[:6]) != "prefix" {
		t.Fatalf("prefix clobbered: %q", b[:6])
	}
	if _, err := DecodeRecord(b[6:]); err != nil {
		t.Fatal(err)
	}
}

func TestCodecRejects(t *testing.T) {
	good := Record{Version: ver(1, 2, 3), Value: []byte("v"), ExpireAt: 10}.AppendEncode(nil)
	tomb := Record{Version: ver(1, 2, 3), Tombstone: true}.AppendEncode(nil)
	evicted := Record{Version: ver(1, 2, 3), Tombstone: true, EvictedAt: 99}.AppendEncode(nil)
	mut := func(b []byte, f func([]byte) []byte) []byte { return f(append([]byte(nil), b...)) }
	tests := []struct {
		name string
		b    []byte
	}{
		{"nil", nil},
		{"short header", good[:headerLen-1]},
		{"unknown format", mut(good, func(b []byte) []byte { b[0] = 2; return b })},
		{"format zero", mut(good, func(b []byte) []byte { b[0] = 0; return b })},
		{"unknown flag", mut(good, func(b []byte) []byte { b[1] |= 0x80; return b })},
		{"tombstone with expiry flag", mut(good, func(b []byte) []byte { b[1] = flagTombstone | flagExpiry; return b })},
		{"evicted without tombstone", mut(good, func(b []byte) []byte { b[1] = flagEvicted; return b })},
		{"evicted with expiry", mut(good, func(b []byte) []byte { b[1] = flagTombstone | flagEvicted | flagExpiry; return b })},
		{"evicted with value", append(append([]byte(nil), evicted...), 'x')},
		{"evicted at zero", mut(evicted, func(b []byte) []byte { copy(b[headerLen:], make([]byte, 8)); return b })},
		{"truncated eviction time", evicted[:headerLen+3]},
		{"truncated expiry", good[:headerLen+4]},
		{"zero expiry", mut(good, func(b []byte) []byte { copy(b[headerLen:], make([]byte, 8)); return b })},
		{"tombstone with value", append(append([]byte(nil), tomb...), 'x')},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeRecord(tt.b); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeRecord err = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestDecodeRecordAliasesInput(t *testing.T) {
	b := val(ver(1, 0, 0), "abc").AppendEncode(nil)
	r, err := DecodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] = 'z'
	if string(r.Value) != "abz" {
		t.Fatalf("value %q does not alias the input", r.Value)
	}
}
