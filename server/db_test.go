package server

import (
	"bytes"
	"testing"

	"github.com/ringcache/ringcache/engine"
)

// FuzzDBKey: the store key encoding is one-to-one, and keys of database 0
// that do not start with dbMark are their own store keys.
func FuzzDBKey(f *testing.F) {
	f.Add(0, []byte("user:1"), 1, []byte("user:1"))
	f.Add(0, []byte{dbMark, 0}, 0, []byte{})
	f.Add(300, []byte{dbMark}, 2, []byte{dbMark, 0x80})
	f.Fuzz(func(t *testing.T, db1 int, k1 []byte, db2 int, k2 []byte) {
		db1, db2 = abs(db1)%maxDatabases, abs(db2)%maxDatabases
		s1, s2 := appendDBKey(nil, db1, k1), appendDBKey(nil, db2, k2)
		if db, k, ok := splitDBKey(s1); !ok || db != db1 || !bytes.Equal(k, k1) {
			t.Fatalf("split(append(%d, %q)) = %d, %q, %v", db1, k1, db, k, ok)
		}
		if bytes.Equal(s1, s2) != (db1 == db2 && bytes.Equal(k1, k2)) {
			t.Fatalf("(%d, %q) and (%d, %q) share the store key %q", db1, k1, db2, k2, s1)
		}
		if db1 == 0 && (len(k1) == 0 || k1[0] != dbMark) && !bytes.Equal(s1, k1) {
			t.Fatalf("database 0 key %q stored as %q", k1, s1)
		}
		if KeyDatabase(s1) != db1 {
			t.Fatalf("KeyDatabase(%q) = %d, want %d", s1, KeyDatabase(s1), db1)
		}
	})
}

func abs(v int) int {
	if v < 0 {
		return -(v + 1)
	}
	return v
}

// TestDBKeyConventionIsTheEngines: the engine finds a key's hash tag
// after the database prefix the server writes, so keys that share a tag
// in one database share a token, whatever the database.
func TestDBKeyConventionIsTheEngines(t *testing.T) {
	if dbMark != engine.StoreKeyMark {
		t.Fatalf("dbMark %#x, engine.StoreKeyMark %#x", dbMark, engine.StoreKeyMark)
	}
	for _, db := range []int{0, 3, 123, 125, 15744} {
		a, b := appendDBKey(nil, db, []byte("{user:7}:cart")), appendDBKey(nil, db, []byte("x{user:7}"))
		if engine.Token(a) != engine.Token(b) {
			t.Errorf("db %d: {user:7} keys have tokens %x and %x", db, engine.Token(a), engine.Token(b))
		}
	}
}
