package transport

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ringcache/ringcache/engine"
)

func TestScanRoundTrip(t *testing.T) {
	req := ScanRequest{Start: 1 << 63, End: 0, Limit: 100, Epoch: 9}
	got, err := DecodeScanRequest(AppendScanRequest(nil, req))
	if err != nil || got != req {
		t.Fatalf("request: %+v, %v", got, err)
	}
	recs := seedRecords()
	resp := ScanResponse{Keys: [][]byte{[]byte("a"), {}, []byte("key:1")}, Recs: recs, Next: 4096, More: true, Behind: true}
	back, err := DecodeScanResponse(AppendScanResponse(nil, resp))
	if err != nil || back.Next != resp.Next || !back.More || !back.Behind || len(back.Keys) != 3 {
		t.Fatalf("response: %+v, %v", back, err)
	}
	for i := range recs {
		want := recs[i]
		want.Value = nil
		if !bytes.Equal(back.Keys[i], resp.Keys[i]) || !recEqual(back.Recs[i], want) {
			t.Fatalf("record %d: %q %+v, want %q %+v (value left out)", i, back.Keys[i], back.Recs[i], resp.Keys[i], want)
		}
	}
	if _, err := DecodeScanRequest(AppendScanRequest(nil, ScanRequest{Limit: maxScanLimit + 1})); err == nil {
		t.Fatal("a limit over the bound decoded")
	}
}

func FuzzDecodeScanRequest(f *testing.F) {
	f.Add(AppendScanRequest(nil, ScanRequest{Start: 5, End: 9, Limit: 10}))
	f.Add(AppendScanRequest(nil, ScanRequest{Epoch: 3, Limit: 1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeScanRequest(b)
		if err != nil {
			return
		}
		if again, err := DecodeScanRequest(AppendScanRequest(nil, r)); err != nil || again != r {
			t.Fatalf("re-decode: %+v, %v", again, err)
		}
	})
}

func FuzzDecodeScanResponse(f *testing.F) {
	f.Add(AppendScanResponse(nil, ScanResponse{Keys: [][]byte{[]byte("a"), []byte("b"), {}}, Recs: seedRecords(), Next: 2048, More: true}))
	f.Add(AppendScanResponse(nil, ScanResponse{Behind: true}))
	f.Add([]byte{3, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeScanResponse(b)
		if err != nil {
			return
		}
		again, err := DecodeScanResponse(AppendScanResponse(nil, r))
		if err != nil || again.Next != r.Next || again.More != r.More || again.Behind != r.Behind || len(again.Keys) != len(r.Keys) {
			t.Fatalf("re-decode: %+v, %v", again, err)
		}
		for i := range r.Keys {
			want := r.Recs[i]
			want.Value = nil
			if !bytes.Equal(again.Keys[i], r.Keys[i]) || !recEqual(again.Recs[i], want) {
				t.Fatalf("record %d changed in a round trip", i)
			}
		}
	})
}

// The OpNodeDropAll request and the OpFloor messages are one floor each.
func TestFloorMessages(t *testing.T) {
	v := engine.Version{Wall: 1_700_000_000_123, Logical: 7, Node: 99}
	got, err := DecodeFloor(AppendFloor(nil, v))
	if err != nil || got != v {
		t.Fatalf("round trip: %v, %v; want %v", got, err, v)
	}
	if got, err := DecodeFloor(nil); err != nil || !got.IsZero() {
		t.Fatalf("empty (a node without floors): %v, %v", got, err)
	}
	b := AppendFloor(nil, v)
	for _, bad := range [][]byte{b[:len(b)-1], append(b, 0)} {
		if _, err := DecodeFloor(bad); !errors.Is(err, ErrMalformed) {
			t.Fatalf("decode of %d bytes = %v, want ErrMalformed", len(bad), err)
		}
	}
}
