package antientropy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"runtime"
	"testing"
)

// codecCase is one message kind's encoder and decoder behind a common
// shape, so that one table test and one fuzz helper cover every kind.
type codecCase struct {
	name   string
	encode func(dst []byte, m any) []byte
	decode func(b []byte) (any, error)
	msgs   []any
}

func codecs() []codecCase {
	r1, r2 := Range{Start: 1, End: math.MaxUint64}, Range{Start: 9, End: 9}
	return []codecCase{
		{
			name:   "RootsRequest",
			encode: func(dst []byte, m any) []byte { return AppendRootsRequest(dst, m.(RootsRequest)) },
			decode: func(b []byte) (any, error) { return DecodeRootsRequest(b) },
			msgs:   []any{RootsRequest{}, RootsRequest{Ranges: []Range{r1}}, RootsRequest{Ranges: []Range{r1, r2, {}}}},
		},
		{
			name:   "RootsResponse",
			encode: func(dst []byte, m any) []byte { return AppendRootsResponse(dst, m.(RootsResponse)) },
			decode: func(b []byte) (any, error) { return DecodeRootsResponse(b) },
			msgs:   []any{RootsResponse{}, RootsResponse{Roots: []uint64{0, 1, math.MaxUint64}}},
		},
		{
			name:   "NodesRequest",
			encode: func(dst []byte, m any) []byte { return AppendNodesRequest(dst, m.(NodesRequest)) },
			decode: func(b []byte) (any, error) { return DecodeNodesRequest(b) },
			msgs: []any{
				NodesRequest{Range: r1},
				NodesRequest{Range: r2, Level: 1, Indices: []int{0, 1, 15}},
				NodesRequest{Range: r1, Level: maxLevel, Indices: []int{MaxLeaves - 1, 0, 300, 299}},
			},
		},
		{
			name:   "NodesResponse",
			encode: func(dst []byte, m any) []byte { return AppendNodesResponse(dst, m.(NodesResponse)) },
			decode: func(b []byte) (any, error) { return DecodeNodesResponse(b) },
			msgs:   []any{NodesResponse{}, NodesResponse{Hashes: []uint64{7, math.MaxUint64}}},
		},
		{
			name:   "EntriesRequest",
			encode: func(dst []byte, m any) []byte { return AppendEntriesRequest(dst, m.(EntriesRequest)) },
			decode: func(b []byte) (any, error) { return DecodeEntriesRequest(b) },
			msgs:   []any{EntriesRequest{Range: r2}, EntriesRequest{Range: r1, Leaves: []int{3, 4, 65535, 65536}}},
		},
		{
			name:   "EntriesResponse",
			encode: func(dst []byte, m any) []byte { return AppendEntriesResponse(dst, m.(EntriesResponse)) },
			decode: func(b []byte) (any, error) { return DecodeEntriesResponse(b) },
			msgs: []any{
				EntriesResponse{},
				EntriesResponse{Entries: []Entry{
					{Key: []byte("k"), Version: ver(1700000000000, 3, 0xdeadbeef), ExpireAt: 1700000060000},
					{Key: []byte{}, Version: ver(-5, math.MaxUint32, math.MaxUint64), Tombstone: true},
					{Key: bytes.Repeat([]byte{0xff}, 300), Version: ver(math.MaxInt64, 0, 0), ExpireAt: math.MinInt64},
				}},
			},
		},
	}
}

// equalMsg compares messages treating nil and empty slices alike.
func equalMsg(a, b any) bool {
	norm := func(m any) any {
		switch x := m.(type) {
		case RootsRequest:
			if len(x.Ranges) == 0 {
				x.Ranges = nil
			}
			return x
		case RootsResponse:
			if len(x.Roots) == 0 {
				x.Roots = nil
			}
			return x
		case NodesRequest:
			if len(x.Indices) == 0 {
				x.Indices = nil
			}
			return x
		case NodesResponse:
			if len(x.Hashes) == 0 {
				x.Hashes = nil
			}
			return x
		case EntriesRequest:
			if len(x.Leaves) == 0 {
				x.Leaves = nil
			}
			return x
		case EntriesResponse:
			es := make([]Entry, len(x.Entries))
			for i, e := range x.Entries {
				e.Key = append([]byte{}, e.Key...)
				es[i] = e
			}
			if len(es) == 0 {
				es = nil
			}
			return EntriesResponse{Entries: es}
		}
		return m
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// TestCodecRoundTrip checks decode(encode(m)) == m, that encoding appends
// to dst, and that every strict prefix and every extension by a byte of
// an encoding is rejected with ErrMalformed.
func TestCodecRoundTrip(t *testing.T) {
	for _, c := range codecs() {
		for _, m := range c.msgs {
			enc := c.encode([]byte("prefix"), m)
			if !bytes.HasPrefix(enc, []byte("prefix")) {
				t.Fatalf("%s: encoding clobbered dst", c.name)
			}
			enc = enc[len("prefix"):]
			got, err := c.decode(enc)
			if err != nil {
				t.Fatalf("%s: decode(encode(%+v)): %v", c.name, m, err)
			}
			if !equalMsg(got, m) {
				t.Fatalf("%s: round trip %+v -> %+v", c.name, m, got)
			}
			for n := range len(enc) {
				if _, err := c.decode(enc[:n]); !errors.Is(err, ErrMalformed) {
					t.Fatalf("%s: %d-byte prefix of %x: error %v, want ErrMalformed", c.name, n, enc, err)
				}
			}
			if _, err := c.decode(append(enc[:len(enc):len(enc)], 0)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: trailing byte: error %v, want ErrMalformed", c.name, err)
			}
		}
	}
}

// TestDecodeEntriesCopiesKeys checks that decoded keys survive reuse of
// the input buffer.
func TestDecodeEntriesCopiesKeys(t *testing.T) {
	enc := AppendEntriesResponse(nil, EntriesResponse{Entries: []Entry{{Key: []byte("abc")}, {Key: []byte("de")}}})
	m, err := DecodeEntriesResponse(enc)
	if err != nil {
		t.Fatal(err)
	}
	clear(enc)
	if string(m.Entries[0].Key) != "abc" || string(m.Entries[1].Key) != "de" {
		t.Fatalf("keys alias the input: %q %q", m.Entries[0].Key, m.Entries[1].Key)
	}
	// Keys share one allocation; appending to one must not overwrite the next.
	_ = append(m.Entries[0].Key, 'X')
	if string(m.Entries[1].Key) != "de" {
		t.Fatalf("appending to a key overwrote the next: %q", m.Entries[1].Key)
	}
}

func TestDecodeMalformed(t *testing.T) {
	rng := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, 1), 2)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	entry := func(flags byte) []byte {
		return cat([]byte{1, 1, 'k', 2, 0}, make([]byte, 8), []byte{0, flags})
	}
	tests := []struct {
		name   string
		decode func([]byte) error
		in     []byte
	}{
		{"roots request empty input", rootsReq, nil},
		{"roots request count beyond input", rootsReq, cat([]byte{2}, rng)},
		{"roots request huge count", rootsReq, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"varint overflow", rootsReq, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"non-minimal varint", rootsReq, []byte{0x80, 0x00}},
		{"roots response short hash", rootsResp, []byte{1, 1, 2, 3}},
		{"nodes request level too deep", nodesReq, cat(rng, []byte{maxLevel + 1, 0})},
		{"nodes request negative index", nodesReq, cat(rng, []byte{1, 1, 1})},
		{"nodes request index too large", nodesReq, cat(rng, binary.AppendVarint([]byte{1, 1}, MaxLeaves))},
		{"nodes request delta past the end", nodesReq, cat(rng, []byte{1, 2}, binary.AppendVarint(nil, MaxLeaves-1), []byte{2})},
		{"entries request missing range", entriesReq, []byte{0}},
		{"entries response unknown flag", entriesResp, entry(4)},
		{"entries response size flag without a size", entriesResp, entry(flagSize)},
		{"entries response size 0", entriesResp, cat(entry(flagSize), []byte{0})},
		{"entries response size over a frame", entriesResp, cat(entry(flagSize), binary.AppendUvarint(nil, maxEntrySize+1))},
		{"entries response key beyond input", entriesResp, cat([]byte{1, 0x7f}, make([]byte, 12))},
		{"entries response logical overflow", entriesResp,
			cat([]byte{1, 0, 0}, binary.AppendUvarint(nil, math.MaxUint32+1), make([]byte, 8), []byte{0, 0})},
		{"entries response trailing", entriesResp, cat(entry(1), []byte{0})},
	}
	for _, tc := range tests {
		if err := tc.decode(tc.in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v, want ErrMalformed", tc.name, err)
		}
	}
	if err := entriesResp(entry(1)); err != nil {
		t.Fatalf("the well-formed entry of the table fails: %v", err)
	}
}

func rootsReq(b []byte) error    { _, err := DecodeRootsRequest(b); return err }
func rootsResp(b []byte) error   { _, err := DecodeRootsResponse(b); return err }
func nodesReq(b []byte) error    { _, err := DecodeNodesRequest(b); return err }
func nodesResp(b []byte) error   { _, err := DecodeNodesResponse(b); return err }
func entriesReq(b []byte) error  { _, err := DecodeEntriesRequest(b); return err }
func entriesResp(b []byte) error { _, err := DecodeEntriesResponse(b); return err }

// TestDecodeAllocationBound checks that inputs announcing huge counts or
// keys allocate in proportion to their own length, not to the claim.
func TestDecodeAllocationBound(t *testing.T) {
	huge := binary.AppendUvarint(nil, 1<<40)
	inputs := [][]byte{
		huge,
		append(append([]byte(nil), huge...), make([]byte, 64)...),
		append(make([]byte, 16), huge...),
		append(make([]byte, 17), huge...),
		append([]byte{1}, binary.AppendUvarint(nil, 1<<40)...),
	}
	for _, in := range inputs {
		for _, dec := range []func([]byte) error{rootsReq, rootsResp, nodesReq, nodesResp, entriesReq, entriesResp} {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_ = dec(in)
			runtime.ReadMemStats(&after)
			if got := after.TotalAlloc - before.TotalAlloc; got > uint64(64*len(in)+4096) {
				t.Fatalf("decoding %d bytes %x allocated %d bytes", len(in), in, got)
			}
		}
	}
}

// fuzzDecoder checks that a decoder never panics, that every error wraps
// ErrMalformed, and that whatever decodes re-encodes to the same bytes
// (the encoding is canonical).
func fuzzDecoder(f *testing.F, name string) {
	var c codecCase
	for _, x := range codecs() {
		if x.name == name {
			c = x
		}
	}
	for _, m := range c.msgs {
		f.Add(c.encode(nil, m))
	}
	f.Add([]byte{})
	f.Add([]byte{0x80, 0x00})
	f.Add(bytes.Repeat([]byte{0xff}, 24))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := c.decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if again := c.encode(nil, m); !bytes.Equal(again, b) {
			t.Fatalf("re-encode %x != input %x", again, b)
		}
	})
}

func FuzzDecodeRootsRequest(f *testing.F)    { fuzzDecoder(f, "RootsRequest") }
func FuzzDecodeRootsResponse(f *testing.F)   { fuzzDecoder(f, "RootsResponse") }
func FuzzDecodeNodesRequest(f *testing.F)    { fuzzDecoder(f, "NodesRequest") }
func FuzzDecodeNodesResponse(f *testing.F)   { fuzzDecoder(f, "NodesResponse") }
func FuzzDecodeEntriesRequest(f *testing.F)  { fuzzDecoder(f, "EntriesRequest") }
func FuzzDecodeEntriesResponse(f *testing.F) { fuzzDecoder(f, "EntriesResponse") }

// FuzzEntriesRoundTrip checks decode(encode(m)) == m for arbitrary
// entries.
func FuzzEntriesRoundTrip(f *testing.F) {
	f.Add([]byte("k"), int64(1), uint32(2), uint64(3), int64(4), false, []byte("k2"))
	f.Add([]byte{}, int64(-1), uint32(math.MaxUint32), uint64(math.MaxUint64), int64(math.MinInt64), true, []byte(nil))
	f.Fuzz(func(t *testing.T, key []byte, wall int64, logical uint32, node uint64, exp int64, tomb bool, key2 []byte) {
		m := EntriesResponse{Entries: []Entry{
			{Key: key, Version: ver(wall, logical, node), ExpireAt: exp, Tombstone: tomb},
			{Key: key2, Version: ver(exp, logical/2, ^node), ExpireAt: wall, Size: int(uint32(node) % (maxEntrySize + 1))},
		}}
		got, err := DecodeEntriesResponse(AppendEntriesResponse(nil, m))
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", m, err)
		}
		if !equalMsg(got, m) {
			t.Fatalf("round trip %+v -> %+v", m, got)
		}
	})
}

// FuzzIndicesRoundTrip checks that any index list within [0, MaxLeaves)
// survives a NodesRequest round trip, whatever its order.
func FuzzIndicesRoundTrip(f *testing.F) {
	f.Add([]byte{0, 1, 2}, uint8(3))
	f.Add([]byte{0xff, 0xff, 0x01, 0, 0, 0}, uint8(0))
	f.Fuzz(func(t *testing.T, raw []byte, level uint8) {
		var idx []int
		for len(raw) >= 3 {
			idx = append(idx, int(uint32(raw[0])|uint32(raw[1])<<8|uint32(raw[2])<<16)%MaxLeaves)
			raw = raw[3:]
		}
		m := NodesRequest{Range: Range{Start: 5, End: 3}, Level: int(level) % (maxLevel + 1), Indices: idx}
		got, err := DecodeNodesRequest(AppendNodesRequest(nil, m))
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", m, err)
		}
		if !equalMsg(got, m) {
			t.Fatalf("round trip %+v -> %+v", m, got)
		}
	})
}
