package transport

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/ringcache/ringcache/engine"
)

// A key and value of MaxRecordBytes together fit in one frame in every
// request and answer that carries a single record, however they split
// between key and value; one byte more does not fit the largest of them.
func TestMaxRecordBytesFitsEveryCarrier(t *testing.T) {
	target := bytes.Repeat([]byte("t"), 255) // the longest hint target
	for _, frame := range []int{1024, 1025, 4096, 100_000, 512<<10 - 1, 512 << 10, 1 << 20, 3<<20 + 7} {
		limit := MaxRecordBytes(frame)
		if limit <= 0 || limit >= frame {
			t.Fatalf("frame %d: MaxRecordBytes %d", frame, limit)
		}
		for _, keyLen := range []int{0, 1, 200, limit / 2, limit} {
			key := bytes.Repeat([]byte("k"), keyLen)
			rec := engine.Record{
				Value:    bytes.Repeat([]byte("v"), limit-keyLen),
				Version:  engine.Version{Wall: -1, Logical: ^uint32(0), Node: ^uint64(0)},
				ExpireAt: -1,
			}
			keys, recs := [][]byte{key}, []engine.Record{rec}
			hinted := AppendApplyRequest(nil, ApplyHeader{Hint: string(target), Noted: true}, keys, recs)
			read := AppendReadResponse(nil, recs, []bool{true}, true)
			for name, n := range map[string]int{"hinted apply": len(hinted), "read response": len(read)} {
				if n > frame {
					t.Fatalf("frame %d, key %d: %s of %d bytes", frame, keyLen, name, n)
				}
			}
			if got, want := ApplyItemLen(key, rec), len(AppendApplyRequest(nil, ApplyHeader{}, keys, recs))-2; got != want {
				t.Fatalf("ApplyItemLen %d, encoding adds %d", got, want)
			}
			if n := ApplyItemLen(key, rec); n > MaxApplyItemsBytes(frame) {
				t.Fatalf("frame %d: a record at the limit takes %d bytes of items, more than %d", frame, n, MaxApplyItemsBytes(frame))
			}
			if n := ReadKeyLen(key); len(AppendReadRequest(nil, ReadHeader{}, keys)) != n+2 || n > MaxReadKeysBytes(frame) {
				t.Fatalf("frame %d: ReadKeyLen %d", frame, n)
			}
		}
	}
	if got := MaxRecordBytes(64 << 20); got != 67_043_328 {
		t.Fatalf("MaxRecordBytes(64 MiB) = %d, want 67043328", got)
	}
	// The exact worst case, with nothing to spare, fills a frame of 1024.
	if got := 1024 - MaxRecordBytes(1024); got != minRecordReserve {
		t.Fatalf("reserve of a 1 KiB frame %d, want %d", got, minRecordReserve)
	}
}

// Items of MaxApplyItemsBytes in total make a hinted apply of exactly the
// frame size at most.
func TestMaxApplyItemsBytes(t *testing.T) {
	const frame = 4096
	target := bytes.Repeat([]byte("t"), 255)
	var keys [][]byte
	var recs []engine.Record
	size := 0
	for i := 0; ; i++ {
		k, r := fmt.Appendf(nil, "key%03d", i), engine.Record{Value: []byte("value")}
		if size+ApplyItemLen(k, r) > MaxApplyItemsBytes(frame) {
			break
		}
		size += ApplyItemLen(k, r)
		keys, recs = append(keys, k), append(recs, r)
	}
	p := AppendApplyRequest(nil, ApplyHeader{Hint: string(target), Noted: true}, keys, recs)
	if len(p) > frame {
		t.Fatalf("%d items of %d bytes make a request of %d bytes, frame %d", len(keys), size, len(p), frame)
	}
}

func TestRemoteErrorIsTransportRefusals(t *testing.T) {
	tests := []struct {
		code uint16
		msg  string
		is   error
		want bool
	}{
		{codeFrameTooLarge, "transport: frame too large: response of 5000 bytes, limit 4096", ErrFrameTooLarge, true},
		{codeUnknownOp, "transport: unknown operation: 35", ErrUnknownOp, true},
		{codeFrameTooLarge, "transport: frame too large: x", ErrUnknownOp, false},
		// The code decides, never the message.
		{0, "transport: frame too large: x", ErrFrameTooLarge, false},
		{0, "engine: write failed: transport: frame too large", ErrFrameTooLarge, false},
		{0, "anything", ErrRemote, true},
		{codeExpired, "anything", ErrRemote, true},
		{0, "transport: closed", ErrClosed, false},
		{999, "a code this node does not know", ErrRemote, true},
	}
	for _, tt := range tests {
		var err error = fmt.Errorf("call: %w", &RemoteError{Op: 1, Code: tt.code, Msg: tt.msg})
		if got := errors.Is(err, tt.is); got != tt.want {
			t.Errorf("errors.Is(RemoteError %d %q, %v) = %v, want %v", tt.code, tt.msg, tt.is, got, tt.want)
		}
	}
}
