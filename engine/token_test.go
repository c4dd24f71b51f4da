package engine

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// dbKey is the server's store key of key in database db (server/db.go).
func dbKey(db uint64, key string) string {
	if db == 0 && (key == "" || key[0] != StoreKeyMark) {
		return key
	}
	return string(binary.AppendUvarint([]byte{StoreKeyMark}, db)) + key
}

func TestHashSlot(t *testing.T) {
	tests := []struct {
		name, key, want string
	}{
		{"empty key", "", ""},
		{"no braces", "user:1000", "user:1000"},
		{"open only", "{", "{"},
		{"close only", "}", "}"},
		{"empty tag alone", "{}", "{}"},
		{"close before open", "}{", "}{"},
		{"unclosed", "foo{bar", "foo{bar"},
		// Redis Cluster's documented examples.
		{"following", "{user1000}.following", "user1000"},
		{"followers", "{user1000}.followers", "user1000"},
		{"first tag empty", "foo{}{bar}", "foo{}{bar}"},
		{"open inside tag", "foo{{bar}}zap", "{bar"},
		{"first tag wins", "foo{bar}{zap}", "bar"},
		{"tag at end", "a{b}", "b"},
		{"close before tag", "}{a}", "a"},
		{"one byte", "{x}", "x"},

		// Database prefixes: the tag is searched after them; untagged
		// keys hash whole, prefix included.
		{"db 3 untagged", dbKey(3, "a"), dbKey(3, "a")},
		{"db 3 tagged", dbKey(3, "{u}.x"), "u"},
		{"db 123 is '{'", dbKey(123, "x}"), dbKey(123, "x}")},
		{"db 123 close only", dbKey(123, "}"), dbKey(123, "}")},
		{"db 123 empty key", dbKey(123, ""), dbKey(123, "")},
		{"db 123 tagged", dbKey(123, "a{b}c"), "b"},
		{"db 125 is '}'", dbKey(125, "{a"), dbKey(125, "{a")},
		{"db 125 tagged", dbKey(125, "{a}"), "a"},
		{"db 15744 ends in '{'", dbKey(128*123, "x}"), dbKey(128*123, "x}")},
		{"db 15744 tagged", dbKey(128*123, "{y}"), "y"},
		// A database-0 key starting with the mark is escaped with 0xFF 0x00.
		{"escaped untagged", dbKey(0, "\xffx"), "\xff\x00\xffx"},
		{"escaped tagged", dbKey(0, "\xff{a}"), "a"},
		{"escaped brace after mark", dbKey(0, "\xff{x}"), "x"},
		{"escaped 0xFF 0x7B", dbKey(0, "\xff\x7bx}"), "x"},
		// Not a database prefix: searched whole.
		{"mark alone", "\xff", "\xff"},
		{"truncated uvarint", "\xff\x80", "\xff\x80"},
		{"non-minimal uvarint", "\xff\x80\x00{a}", "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HashSlot([]byte(tt.key)); string(got) != tt.want {
				t.Fatalf("HashSlot(%q) = %q, want %q", tt.key, got, tt.want)
			}
			if got, want := Token([]byte(tt.key)), xxhash.Sum64String(tt.want); got != want {
				t.Fatalf("Token(%q) = %x, want xxhash64(%q) = %x", tt.key, got, tt.want, want)
			}
		})
	}
}

// randBytes returns up to max random bytes drawn from alphabet.
func randBytes(rng *rand.Rand, alphabet string, max int) []byte {
	b := make([]byte, rng.IntN(max+1))
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return b
}

// TestTokenProperties: keys that share a tag share a token, whatever
// their database and the bytes around the tag; keys without '{' after
// their database prefix keep the xxhash64 of the whole key (their layout-1
// token).
func TestTokenProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const anyByte = "ab}\xff\x00{"
	for range 20000 {
		db := uint64(rng.IntN(3)) * uint64(rng.IntN(1<<20))
		// A tag: no '}'. Before it: no '{'. After it: anything.
		tag := append(randBytes(rng, "ab{\xff", 6), 'x')
		before := randBytes(rng, "ab}\xff", 6)
		after := randBytes(rng, anyByte, 6)
		k1 := dbKey(db, string(before)+"{"+string(tag)+"}"+string(after))
		k2 := dbKey(uint64(rng.IntN(200)), "{"+string(tag)+"}"+string(randBytes(rng, anyByte, 6)))
		if Token([]byte(k1)) != Token([]byte(k2)) || Token([]byte(k1)) != xxhash.Sum64(tag) {
			t.Fatalf("tag %q: Token(%q) = %x, Token(%q) = %x, want xxhash64(tag) = %x",
				tag, k1, Token([]byte(k1)), k2, Token([]byte(k2)), xxhash.Sum64(tag))
		}

		// No '{' after the prefix (the prefix itself may hold one).
		plain := dbKey(uint64(rng.IntN(300)), string(randBytes(rng, "ab}\xff\x00", 12)))
		if got := Token([]byte(plain)); got != xxhash.Sum64String(plain) {
			t.Fatalf("Token(%q) = %x, want xxhash64 of the whole key %x", plain, got, xxhash.Sum64String(plain))
		}
	}
}

// hashSlotOracle is Redis Cluster's keyHashSlot loop on the key after a
// database prefix found by decoding the prefix byte by byte.
func hashSlotOracle(key []byte) []byte {
	client := key
	if len(key) > 1 && key[0] == StoreKeyMark {
		for i, c := range key[1:] {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break // overflows 64 bits
			}
			if c < 0x80 {
				if c != 0 || i == 0 { // minimal: no trailing zero byte
					client = key[2+i:]
				}
				break
			}
		}
	}
	s := -1
	for i, c := range client {
		if c == '{' {
			s = i
			break
		}
	}
	if s < 0 {
		return key
	}
	for e := s + 1; e < len(client); e++ {
		if client[e] == '}' {
			if e == s+1 {
				return key
			}
			return client[s+1 : e]
		}
	}
	return key
}

func FuzzHashSlot(f *testing.F) {
	for _, s := range []string{"", "{", "}", "{}", "foo{}{bar}", "foo{{bar}}zap", "foo{bar}{zap}",
		"\xff\x7bx}", "\xff\x7d{a}", "\xff\x00\xff{a}", "\xff\x80\x7b{b}c", "\xff\x80"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, key []byte) {
		got := HashSlot(key)
		if want := hashSlotOracle(key); !bytes.Equal(got, want) {
			t.Fatalf("HashSlot(%q) = %q, want %q", key, got, want)
		}
		if len(got) == 0 && len(key) != 0 {
			t.Fatalf("HashSlot(%q) is empty", key)
		}
	})
}
