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

// TestBatchRoundTripProperty encodes random batches and checks they decode
// to what was encoded.
func TestBatchRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 500 {
		n := r.IntN(20)
		items := make([]ApplyItem, n)
		keys := make([][]byte, n)
		ares := make([]ApplyResult, n)
		rres := make([]ReadResult, n)
		for i := range n {
			keys[i] = randBytes(r, 40)
			items[i] = ApplyItem{Key: keys[i], Record: randRecord(r)}
			switch r.IntN(3) {
			case 0:
				ares[i].Applied = true
			case 1:
				ares[i].Err = errors.New(string(randBytes(r, 20)))
			default:
				ares[i].Newer = randRecord(r).Version
			}
			if r.IntN(2) == 0 {
				rres[i] = ReadResult{Found: true, Record: randRecord(r)}
			}
			rres[i].Behind = r.IntN(3) == 0
		}

		gotItems, err := DecodeApplyRequest(AppendApplyRequest(nil, items))
		if err != nil || len(gotItems) != n {
			t.Fatalf("iter %d: apply request: %d items, %v", iter, len(gotItems), err)
		}
		gotKeys, err := DecodeReadRequest(AppendReadRequest(nil, keys))
		if err != nil || len(gotKeys) != n {
			t.Fatalf("iter %d: read request: %d keys, %v", iter, len(gotKeys), err)
		}
		gotAres, err := DecodeApplyResponse(AppendApplyResponse(nil, ares))
		if err != nil || len(gotAres) != n {
			t.Fatalf("iter %d: apply response: %d, %v", iter, len(gotAres), err)
		}
		gotRres, err := DecodeReadResponse(AppendReadResponse(nil, rres))
		if err != nil || len(gotRres) != n {
			t.Fatalf("iter %d: read response: %d, %v", iter, len(gotRres), err)
		}
		for i := range n {
			if !bytes.Equal(gotItems[i].Key, items[i].Key) || !recEqual(gotItems[i].Record, items[i].Record) {
				t.Fatalf("iter %d item %d: apply item differs", iter, i)
			}
			if !bytes.Equal(gotKeys[i], keys[i]) {
				t.Fatalf("iter %d item %d: key differs", iter, i)
			}
			if gotAres[i].Applied != ares[i].Applied || gotAres[i].Newer != ares[i].Newer || (gotAres[i].Err == nil) != (ares[i].Err == nil) {
				t.Fatalf("iter %d item %d: apply result differs", iter, i)
			}
			if ares[i].Err != nil && (gotAres[i].Err.(*RemoteError).Msg != ares[i].Err.Error() || !errors.Is(gotAres[i].Err, ErrRemote)) {
				t.Fatalf("iter %d item %d: apply error %v, want %v", iter, i, gotAres[i].Err, ares[i].Err)
			}
			if gotRres[i].Found != rres[i].Found || gotRres[i].Behind != rres[i].Behind || !recEqual(gotRres[i].Record, rres[i].Record) {
				t.Fatalf("iter %d item %d: read result differs", iter, i)
			}
		}
	}
}

func TestBatchDecodersRejectMalformed(t *testing.T) {
	rec := engine.Record{Value: []byte("v"), Version: engine.Version{Wall: 1}}
	good := AppendApplyRequest(nil, []ApplyItem{{Key: []byte("k"), Record: rec}})
	tests := []struct {
		name   string
		decode func([]byte) error
		b      []byte
	}{
		{"apply: empty", applyReq, nil},
		{"apply: truncated", applyReq, good[:len(good)-1]},
		{"apply: trailing byte", applyReq, append(append([]byte(nil), good...), 0)},
		{"apply: huge count", applyReq, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"apply: key past the end", applyReq, []byte{1, 50, 'k'}},
		{"apply: bad record", applyReq, []byte{1, 1, 'k', 3, 9, 9, 9}},
		{"apply: bad uvarint", applyReq, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"apply response: bad status", applyResp, []byte{1, 7}},
		{"apply response: truncated message", applyResp, []byte{1, statusError, 5, 'a'}},
		{"read request: count beyond payload", readReq, []byte{3, 0, 0}},
		{"read response: bad flag", readResp, []byte{1, 4}},
		{"read response: missing record", readResp, []byte{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.decode(tt.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err %v, want ErrMalformed", err)
			}
		})
	}
}

func applyReq(b []byte) error  { _, err := DecodeApplyRequest(b); return err }
func applyResp(b []byte) error { _, err := DecodeApplyResponse(b); return err }
func readReq(b []byte) error   { _, err := DecodeReadRequest(b); return err }
func readResp(b []byte) error  { _, err := DecodeReadResponse(b); return err }

func seedRecords() []engine.Record {
	return []engine.Record{
		{Value: []byte("value"), Version: engine.Version{Wall: 1700000000000, Logical: 3, Node: 42}},
		{Value: []byte("ttl"), Version: engine.Version{Wall: 5}, ExpireAt: 1700000060000},
		{Version: engine.Version{Wall: 9, Node: 1}, Tombstone: true},
	}
}

// The fuzz targets check that a decoder never panics and that what it
// accepts survives a re-encode and decode unchanged.

func FuzzDecodeApplyRequest(f *testing.F) {
	var items []ApplyItem
	for i, r := range seedRecords() {
		items = append(items, ApplyItem{Key: []byte{'k', byte(i)}, Record: r})
	}
	f.Add(AppendApplyRequest(nil, items))
	f.Add(AppendApplyRequest(nil, nil))
	f.Add([]byte{0xff, 0xff, 0x03})
	f.Fuzz(func(t *testing.T, b []byte) {
		items, err := DecodeApplyRequest(b)
		if err != nil {
			return
		}
		again, err := DecodeApplyRequest(AppendApplyRequest(nil, items))
		if err != nil || len(again) != len(items) {
			t.Fatalf("re-decode: %d items, %v", len(again), err)
		}
		for i := range items {
			if !bytes.Equal(again[i].Key, items[i].Key) || !recEqual(again[i].Record, items[i].Record) {
				t.Fatalf("item %d changed in a round trip", i)
			}
		}
	})
}

func FuzzDecodeApplyResponse(f *testing.F) {
	f.Add(AppendApplyResponse(nil, []ApplyResult{{Applied: true}, {}, {Err: errors.New("disk full")},
		{Newer: engine.Version{Wall: 1700000000000, Logical: 3, Node: 42}}}))
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := DecodeApplyResponse(b)
		if err != nil {
			return
		}
		again, err := DecodeApplyResponse(AppendApplyResponse(nil, res))
		if err != nil || len(again) != len(res) {
			t.Fatalf("re-decode: %d results, %v", len(again), err)
		}
		for i := range res {
			if again[i].Applied != res[i].Applied || again[i].Newer != res[i].Newer || (again[i].Err == nil) != (res[i].Err == nil) ||
				res[i].Err != nil && again[i].Err.(*RemoteError).Msg != res[i].Err.(*RemoteError).Msg {
				t.Fatalf("result %d changed in a round trip", i)
			}
		}
	})
}

func FuzzDecodeReadRequest(f *testing.F) {
	f.Add(AppendReadRequest(nil, [][]byte{[]byte("a"), {}, []byte("key:1")}))
	f.Add([]byte{5, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := DecodeReadRequest(b)
		if err != nil {
			return
		}
		again, err := DecodeReadRequest(AppendReadRequest(nil, keys))
		if err != nil || len(again) != len(keys) {
			t.Fatalf("re-decode: %d keys, %v", len(again), err)
		}
		for i := range keys {
			if !bytes.Equal(again[i], keys[i]) {
				t.Fatalf("key %d changed in a round trip", i)
			}
		}
	})
}

func FuzzDecodeReadResponse(f *testing.F) {
	var res []ReadResult
	for _, r := range seedRecords() {
		res = append(res, ReadResult{Found: true, Record: r}, ReadResult{})
	}
	f.Add(AppendReadResponse(nil, res))
	f.Add([]byte{1, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := DecodeReadResponse(b)
		if err != nil {
			return
		}
		again, err := DecodeReadResponse(AppendReadResponse(nil, res))
		if err != nil || len(again) != len(res) {
			t.Fatalf("re-decode: %d results, %v", len(again), err)
		}
		for i := range res {
			if again[i].Found != res[i].Found || !recEqual(again[i].Record, res[i].Record) {
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
