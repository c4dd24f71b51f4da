package engine

import (
	"bytes"
	"testing"
)

// FuzzParseHintKey: the parser never panics, and whatever it accepts
// re-encodes to the same key.
func FuzzParseHintKey(f *testing.F) {
	f.Add(appendHintKey(nil, "n1", Token([]byte("k")), []byte("k")))
	f.Add(appendHintKey(nil, "a", 0, nil))
	f.Add([]byte{prefixHint, 0})
	f.Add([]byte{prefixHint, 5, 'a'})
	f.Add([]byte("d12345678key"))
	f.Fuzz(func(t *testing.T, k []byte) {
		target, tok, key, ok := parseHintKey(k)
		if !ok {
			return
		}
		if len(target) == 0 || len(target) > maxTargetLen {
			t.Fatalf("accepted target of %d bytes", len(target))
		}
		if again := appendHintKey(nil, string(target), tok, key); !bytes.Equal(again, k) {
			t.Fatalf("re-encoded %x, want %x", again, k)
		}
	})
}

// FuzzDecodeHintValue: the decoder never panics, and whatever it accepts
// re-encodes to the same bytes (the record encoding is canonical).
func FuzzDecodeHintValue(f *testing.F) {
	f.Add(appendHintValue(nil, 1_700_000_000_000, val(ver(1, 2, 3), "v")))
	f.Add(appendHintValue(nil, -1, Record{Version: ver(1, 0, 0), Tombstone: true}))
	f.Add(appendHintValue(nil, 0, Record{Version: ver(1, 0, 0), Value: []byte("x"), ExpireAt: 9}))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		created, r, err := decodeHintValue(b)
		if err != nil {
			return
		}
		if again := appendHintValue(nil, created, r); !bytes.Equal(again, b) {
			t.Fatalf("re-encoded %x, want %x", again, b)
		}
	})
}
