package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/ringcache/ringcache/engine"
)

func recEqual(a, b engine.Record) bool {
	return a.Version == b.Version && a.Tombstone == b.Tombstone &&
		(a.Tombstone || a.ExpireAt == b.ExpireAt && bytes.Equal(a.Value, b.Value))
}

func randRecord(r *rand.Rand) engine.Record {
	rec := engine.Record{Version: engine.Version{Wall: r.Int64(), Logical: r.Uint32(), Node: r.Uint64()}}
	switch r.IntN(3) {
	case 0:
		rec.Tombstone = true
	case 1:
		rec.ExpireAt = r.Int64N(1<<40) + 1
		fallthrough
	default:
		rec.Value = randBytes(r, 300)
	}
	return rec
}

func randBytes(r *rand.Rand, max int) []byte {
	b := make([]byte, r.IntN(max))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func randNode(r *rand.Rand) string {
	if r.IntN(2) == 0 {
		return ""
	}
	return string(append([]byte{'n'}, randBytes(r, 40)...))
}

func randApplyHeader(r *rand.Rand) ApplyHeader {
	var h ApplyHeader
	switch r.IntN(3) {
	case 0:
		h.Hint = randNode(r)
	case 1:
		h.From = randNode(r)
	}
	h.Noted = r.IntN(2) == 0
	if r.IntN(2) == 0 {
		h.Epoch = r.Uint64() >> r.IntN(64)
	}
	return h
}

// TestBatchRoundTripProperty encodes random batches and checks they decode
// to what was encoded.
func TestBatchRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 500 {
		n := r.IntN(20)
		keys := make([][]byte, n)
		recs := make([]engine.Record, n)
		var newer []engine.Version
		if r.IntN(2) == 0 {
			newer = make([]engine.Version, n)
		}
		found := make([]bool, n)
		reads := make([]engine.Record, n)
		behind := r.IntN(3) == 0
		for i := range n {
			keys[i], recs[i] = randBytes(r, 40), randRecord(r)
			if newer != nil && r.IntN(2) == 0 {
				newer[i] = randRecord(r).Version
			}
			if found[i] = r.IntN(2) == 0; found[i] {
				reads[i] = randRecord(r)
			}
		}
		ah, rh := randApplyHeader(r), ReadHeader{Hint: randNode(r), Epoch: uint64(r.IntN(3))}

		gotAH, gotKeys, gotRecs, err := DecodeApplyRequest(AppendApplyRequest(nil, ah, keys, recs))
		if err != nil || gotAH != ah || len(gotKeys) != n || len(gotRecs) != n {
			t.Fatalf("iter %d: apply request: %+v, %d items, %v; want %+v", iter, gotAH, len(gotKeys), err, ah)
		}
		gotRH, gotReadKeys, err := DecodeReadRequest(AppendReadRequest(nil, rh, keys))
		if err != nil || gotRH != rh || len(gotReadKeys) != n {
			t.Fatalf("iter %d: read request: %+v, %d keys, %v", iter, gotRH, len(gotReadKeys), err)
		}
		gotNewer, err := DecodeApplyResponse(AppendApplyResponse(nil, n, newer), n)
		if err != nil {
			t.Fatalf("iter %d: apply response: %v", iter, err)
		}
		gotReads, gotFound, gotBehind, err := DecodeReadResponse(AppendReadResponse(nil, reads, found, behind), n)
		if err != nil || gotBehind != (behind && n > 0) {
			t.Fatalf("iter %d: read response: behind %v, %v", iter, gotBehind, err)
		}
		for i := range n {
			if !bytes.Equal(gotKeys[i], keys[i]) || !recEqual(gotRecs[i], recs[i]) || !bytes.Equal(gotReadKeys[i], keys[i]) {
				t.Fatalf("iter %d item %d: request item differs", iter, i)
			}
			var want, got engine.Version
			if newer != nil {
				want = newer[i]
			}
			if gotNewer != nil {
				got = gotNewer[i]
			}
			if got != want {
				t.Fatalf("iter %d item %d: newer %v, want %v", iter, i, got, want)
			}
			if gotFound[i] != found[i] || found[i] && !recEqual(gotReads[i], reads[i]) {
				t.Fatalf("iter %d item %d: read result differs", iter, i)
			}
		}
	}
}

func TestBatchDecodersRejectMalformed(t *testing.T) {
	rec := engine.Record{Value: []byte("v"), Version: engine.Version{Wall: 1}}
	good := AppendApplyRequest(nil, ApplyHeader{}, [][]byte{[]byte("k")}, []engine.Record{rec})
	tests := []struct {
		name   string
		decode func([]byte) error
		b      []byte
	}{
		{"apply: empty", applyReq, nil},
		{"apply: truncated", applyReq, good[:len(good)-1]},
		{"apply: trailing byte", applyReq, append(append([]byte(nil), good...), 0)},
		{"apply: huge count", applyReq, []byte{0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"apply: key past the end", applyReq, []byte{0, 1, 50, 'k'}},
		{"apply: bad record", applyReq, []byte{0, 1, 1, 'k', 3, 9, 9, 9}},
		{"apply: bad uvarint", applyReq, []byte{0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"apply: unknown flag", applyReq, []byte{8, 0}},
		{"apply: hint and from", applyReq, []byte{flagHint | flagFrom, 1, 'n', 0}},
		{"apply: empty node id", applyReq, []byte{flagHint, 0, 0}},
		{"apply: node id past the end", applyReq, []byte{flagFrom, 9, 'n'}},
		{"apply response: bad status", applyResp, []byte{1, 7}},
		{"apply response: wrong count", applyResp, []byte{2, 0, 0}},
		{"apply response: truncated version", applyResp, []byte{1, statusSuperseded, 5}},
		{"read request: count beyond payload", readReq, []byte{0, 3, 0, 0}},
		{"read request: noted", readReq, []byte{flagNoted, 0}},
		{"read response: bad flag", readResp, []byte{1, 4}},
		{"read response: missing record", readResp, []byte{1, 1}},
		{"read response: wrong count", readResp, []byte{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.decode(tt.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err %v, want ErrMalformed", err)
			}
		})
	}
}

func applyReq(b []byte) error  { _, _, _, err := DecodeApplyRequest(b); return err }
func applyResp(b []byte) error { _, err := DecodeApplyResponse(b, 1); return err }
func readReq(b []byte) error   { _, _, err := DecodeReadRequest(b); return err }
func readResp(b []byte) error  { _, _, _, err := DecodeReadResponse(b, 1); return err }

func seedRecords() []engine.Record {
	return []engine.Record{
		{Value: []byte("value"), Version: engine.Version{Wall: 1700000000000, Logical: 3, Node: 42}},
		{Value: []byte("ttl"), Version: engine.Version{Wall: 5}, ExpireAt: 1700000060000},
		{Version: engine.Version{Wall: 9, Node: 1}, Tombstone: true},
	}
}

// answerCount is the count a response starts with, bounded by its length
// (what a caller that sent that many items would pass).
func answerCount(b []byte) int {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return 0
	}
	return int(n)
}

// The fuzz targets check that a decoder never panics and that what it
// accepts survives a re-encode and decode unchanged.

func FuzzDecodeApplyRequest(f *testing.F) {
	var keys [][]byte
	for i := range seedRecords() {
		keys = append(keys, []byte{'k', byte(i)})
	}
	f.Add(AppendApplyRequest(nil, ApplyHeader{Hint: "node2", Noted: true}, keys, seedRecords()))
	f.Add(AppendApplyRequest(nil, ApplyHeader{From: "node3"}, keys, seedRecords()))
	f.Add(AppendApplyRequest(nil, ApplyHeader{Epoch: 1 << 40}, keys, seedRecords()))
	f.Add(AppendApplyRequest(nil, ApplyHeader{}, nil, nil))
	f.Add([]byte{0, 0xff, 0xff, 0x03})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, keys, recs, err := DecodeApplyRequest(b)
		if err != nil {
			return
		}
		h2, again, recs2, err := DecodeApplyRequest(AppendApplyRequest(nil, h, keys, recs))
		if err != nil || h2 != h || len(again) != len(keys) {
			t.Fatalf("re-decode: %+v, %d items, %v", h2, len(again), err)
		}
		for i := range keys {
			if !bytes.Equal(again[i], keys[i]) || !recEqual(recs2[i], recs[i]) {
				t.Fatalf("item %d changed in a round trip", i)
			}
		}
	})
}

func FuzzDecodeApplyResponse(f *testing.F) {
	f.Add(AppendApplyResponse(nil, 3, []engine.Version{{}, {Wall: 1700000000000, Logical: 3, Node: 42}, {}}))
	f.Add(AppendApplyResponse(nil, 2, nil))
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		n := answerCount(b)
		newer, err := DecodeApplyResponse(b, n)
		if err != nil {
			return
		}
		again, err := DecodeApplyResponse(AppendApplyResponse(nil, n, newer), n)
		if err != nil || len(again) != len(newer) {
			t.Fatalf("re-decode: %d, %v", len(again), err)
		}
		for i := range newer {
			if again[i] != newer[i] {
				t.Fatalf("result %d changed in a round trip", i)
			}
		}
	})
}

func FuzzDecodeReadRequest(f *testing.F) {
	f.Add(AppendReadRequest(nil, ReadHeader{}, [][]byte{[]byte("a"), {}, []byte("key:1")}))
	f.Add(AppendReadRequest(nil, ReadHeader{Hint: "node1"}, [][]byte{[]byte("a")}))
	f.Add(AppendReadRequest(nil, ReadHeader{Epoch: 7}, [][]byte{[]byte("a")}))
	f.Add([]byte{0, 5, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, keys, err := DecodeReadRequest(b)
		if err != nil {
			return
		}
		h2, again, err := DecodeReadRequest(AppendReadRequest(nil, h, keys))
		if err != nil || h2 != h || len(again) != len(keys) {
			t.Fatalf("re-decode: %+v, %d keys, %v", h2, len(again), err)
		}
		for i := range keys {
			if !bytes.Equal(again[i], keys[i]) {
				t.Fatalf("key %d changed in a round trip", i)
			}
		}
	})
}

func FuzzDecodeReadResponse(f *testing.F) {
	recs := seedRecords()
	f.Add(AppendReadResponse(nil, recs, []bool{true, false, true}, false))
	f.Add(AppendReadResponse(nil, recs, []bool{true, true, true}, true))
	f.Add([]byte{1, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		n := answerCount(b)
		recs, found, behind, err := DecodeReadResponse(b, n)
		if err != nil {
			return
		}
		recs2, found2, behind2, err := DecodeReadResponse(AppendReadResponse(nil, recs, found, behind), n)
		if err != nil || behind2 != behind {
			t.Fatalf("re-decode: behind %v, %v", behind2, err)
		}
		for i := range recs {
			if found2[i] != found[i] || found[i] && !recEqual(recs2[i], recs[i]) {
				t.Fatalf("result %d changed in a round trip", i)
			}
		}
	})
}

func TestUvarintLen(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 16383, 16384, 1 << 21, 1<<28 + 5, 1 << 40} {
		if got, want := uvarintLen(n), len(binary.AppendUvarint(nil, uint64(n))); got != want {
			t.Fatalf("uvarintLen(%d) = %d, want %d", n, got, want)
		}
	}
}
