package rdb

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// TestMatchesRedis: payloads redis-server 7.0.15 wrote with DUMP
// (copied here) decode to their values, LZF-compressed ones included, and
// Encode writes the same body for the values Redis does not compress
// (the RDB version, and so the checksum, differ: 9 here, 10 there).
func TestMatchesRedis(t *testing.T) {
	cases := []struct {
		value   string
		payload string
		lzf     bool
	}{
		{"hello", "000568656c6c6f0a006372df766534200a", false},
		{"123", "00c07b0a0048e253e1007a67b9", false},
		{"-129", "00c17fff0a001760822854808480", false},
		{strings.Repeat("ab", 50), "00c30a406402616261e056010161620a0017383d942096d863", true},
		{strings.Repeat("x", 30), "00c3091e017878e011000178780a00f0673fdf2001eb95", true},
		{"12345678901", "000b31323334353637383930310a00304e52d727176510", false},
		{"", "00000a005d9b5c400f7fa2da", false},
	}
	for _, c := range cases {
		p, err := hex.DecodeString(c.payload)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(p, 1<<20)
		if err != nil || string(got) != c.value {
			t.Errorf("Decode(%s) = %q, %v; want %q", c.payload, got, err, c.value)
		}
		if mine := Encode([]byte(c.value)); !c.lzf && !bytes.Equal(mine[:len(mine)-10], p[:len(p)-10]) {
			t.Errorf("Encode(%q) = %x, Redis wrote %s", c.value, mine, c.payload)
		}
	}
}

// FuzzRoundTrip: any value survives Encode and Decode; Decode never
// panics on arbitrary bytes and refuses a payload with a flipped bit.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("hello"), []byte{})
	f.Add([]byte("-129"), []byte{0, 1})
	f.Add(bytes.Repeat([]byte("ab"), 100), []byte{0xc3, 0x05})
	f.Fuzz(func(t *testing.T, v, junk []byte) {
		p := Encode(v)
		got, err := Decode(p, 1<<20)
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("round trip of %q: %q, %v", v, got, err)
		}
		if len(junk) > 0 {
			i := int(junk[0]) % len(p)
			p[i] ^= 1 << (junk[len(junk)-1] % 8)
			if _, err := Decode(p, 1<<20); err == nil && i < len(p)-8-2 {
				t.Fatalf("payload with bit %d of byte %d flipped accepted", junk[len(junk)-1]%8, i)
			}
		}
		_, _ = Decode(junk, 1<<20)
		_, _ = lzfDecompress(junk, len(junk)*4)
	})
}
