package engine

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestDropRange: a drop of a token range removes exactly the records of
// the range older than its cut-off, in chunks, and leaves the live count
// and every digest bucket as an engine that never held them has.
func TestDropRange(t *testing.T) {
	e, want := openMem(t), openMem(t)
	const n = 3000
	start, end := uint64(1)<<62, uint64(3)<<62 // half the ring
	in := func(tok uint64) bool { return tok >= start && tok < end }
	// Versions of now: tombstones are not due for purge meanwhile.
	base := time.Now().UnixMilli()
	newer := ver(base+5000, 0, 1)
	kept := 0
	for i := range n {
		k := []byte(fmt.Sprintf("k%05d", i))
		r := Record{Value: []byte("v"), Version: ver(base+int64(i%1000), 0, 1)}
		switch {
		case i%7 == 0:
			r = Record{Version: ver(base+int64(i%1000), 0, 1), Tombstone: true}
		case i%11 == 0:
			r.Version = newer // written after the cut-off: stays
		}
		if _, err := e.Apply(k, r); err != nil {
			t.Fatal(err)
		}
		if !in(Token(k)) || r.Version == newer {
			if _, err := want.Apply(k, r); err != nil {
				t.Fatal(err)
			}
			kept++
		}
	}
	chunks := 0
	dropped, err := e.DropRange(start, end, ver(base+4000, 0, 0), func(drop func() error) (bool, error) {
		chunks++
		return true, drop()
	})
	if err != nil {
		t.Fatal(err)
	}
	if int(dropped) != n-kept || chunks < 2 {
		t.Fatalf("dropped %d of %d in %d chunks", dropped, n-kept, chunks)
	}
	if got, w := e.LiveRecords(), want.LiveRecords(); got != w {
		t.Fatalf("live records %d, want %d", got, w)
	}
	if !slices.Equal(e.AppendDigests(nil, 0, DigestBuckets), want.AppendDigests(nil, 0, DigestBuckets)) {
		t.Fatal("digests differ from an engine that never held the dropped records")
	}
	stop, err := e.DropRange(0, 0, ver(base+9000, 0, 0), func(func() error) (bool, error) { return false, nil })
	if err != nil || stop != 0 || e.LiveRecords() != want.LiveRecords() {
		t.Fatalf("a refused chunk dropped %d (%v)", stop, err)
	}
}
