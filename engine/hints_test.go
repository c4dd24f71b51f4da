package engine

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/cockroachdb/pebble/vfs/errorfs"
)

func TestHintKeyLayout(t *testing.T) {
	tests := []struct {
		target, key string
	}{
		{"n1", "k"},
		{"a", ""},
		{strings.Repeat("t", 255), "user:1000"},
		{"\xff\xff", "\x00\xff"},
	}
	for _, tt := range tests {
		tok := Token([]byte(tt.key))
		k := appendHintKey(nil, tt.target, tok, []byte(tt.key))
		target, gotTok, key, ok := parseHintKey(k)
		if !ok || string(target) != tt.target || gotTok != tok || string(key) != tt.key {
			t.Fatalf("parse(%q,%q) = %q %x %q %v", tt.target, tt.key, target, gotTok, key, ok)
		}
		p := appendHintPrefix(nil, tt.target)
		if !bytes.HasPrefix(k, p) || bytes.Compare(k, prefixEnd(p)) >= 0 {
			t.Fatalf("%q: key %x outside its target range", tt.target, k)
		}
	}
	// A target that extends another is a separate range.
	a, ab := appendHintPrefix(nil, "a"), appendHintKey(nil, "ab", 0, nil)
	if bytes.Compare(ab, a) >= 0 && bytes.Compare(ab, prefixEnd(a)) < 0 {
		t.Fatal(`hint of "ab" inside the range of "a"`)
	}
	for _, bad := range [][]byte{nil, {prefixHint}, {prefixHint, 0}, {prefixHint, 3, 'a', 'b'}, {prefixHint, 1, 'a', 1, 2}, []byte("d12345678k")} {
		if _, _, _, ok := parseHintKey(bad); ok {
			t.Fatalf("parseHintKey(%x) accepted", bad)
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct {
		p, want []byte
	}{
		{[]byte("h"), []byte("i")},
		{[]byte{'h', 2, 'a', 0xff}, []byte{'h', 2, 'b'}},
		{[]byte{0xff, 0xff}, nil},
		{[]byte{}, nil},
	}
	for _, tt := range tests {
		if got := prefixEnd(tt.p); !bytes.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Fatalf("prefixEnd(%x) = %x, want %x", tt.p, got, tt.want)
		}
	}
}

func mustPutHints(t testing.TB, e *Engine, target string, created int64, kv ...any) int {
	t.Helper()
	var keys [][]byte
	var recs []Record
	for i := 0; i < len(kv); i += 2 {
		keys = append(keys, []byte(kv[i].(string)))
		recs = append(recs, kv[i+1].(Record))
	}
	n, err := e.PutHints(target, keys, recs, created)
	if err != nil {
		t.Fatalf("PutHints: %v", err)
	}
	return n
}

func lookupHint(t testing.TB, e *Engine, target, key string) (Record, bool) {
	t.Helper()
	dst, found := make([]Record, 1), make([]bool, 1)
	if err := e.LookupHints(target, [][]byte{[]byte(key)}, dst, found); err != nil {
		t.Fatalf("LookupHints: %v", err)
	}
	return dst[0], found[0]
}

// TestPutHintsNewer: a hint older than the one held for its target is
// reported with the held version; one for another target, an equal one,
// or one beaten only by a later record of its own call is not.
func TestPutHintsNewer(t *testing.T) {
	e := openMem(t)
	mustPutHints(t, e, "n1", 1, "k", val(ver(10, 0, 1), "a"))
	keys := [][]byte{[]byte("k"), []byte("k"), []byte("j"), []byte("j"), []byte("j")}
	recs := []Record{val(ver(9, 0, 0), "old"), val(ver(10, 0, 1), "same"),
		val(ver(3, 0, 0), "3"), val(ver(2, 0, 0), "2"), val(ver(4, 0, 0), "4")}
	newer := make([]Version, len(keys))
	if _, err := e.PutHintsNewer("n1", keys, recs, 2, newer); err != nil {
		t.Fatal(err)
	}
	want := []Version{ver(10, 0, 1), {}, {}, {}, {}}
	if !slices.Equal(newer, want) {
		t.Fatalf("newer = %v, want %v", newer, want)
	}
	if _, err := e.PutHintsNewer("n2", keys[:1], recs[:1], 2, newer[:1]); err != nil || !newer[0].IsZero() {
		t.Fatalf("another target: newer %v, err %v", newer[0], err)
	}
}

func TestPutHintsLastWriteWins(t *testing.T) {
	e := openMem(t)
	tests := []struct {
		name        string
		r           Record
		created     int64
		stored      int
		wantValue   string
		wantCreated int64
	}{
		{"first hint", val(ver(10, 0, 1), "a"), 1000, 1, "a", 1000},
		{"equal version is a no-op", val(ver(10, 0, 1), "x"), 900, 0, "a", 1000},
		{"older version is a no-op", val(ver(9, 0, 9), "x"), 2000, 0, "a", 1000},
		{"newer replaces, keeps older createdMs", val(ver(11, 0, 0), "b"), 3000, 1, "b", 1000},
		{"newer with an older createdMs takes it", val(ver(12, 0, 0), "c"), 500, 1, "c", 500},
		{"tombstone wins like a write", Record{Version: ver(13, 0, 0), Tombstone: true}, 4000, 1, "", 500},
	}
	for _, tt := range tests {
		if n := mustPutHints(t, e, "n1", tt.created, "k", tt.r); n != tt.stored {
			t.Fatalf("%s: stored %d, want %d", tt.name, n, tt.stored)
		}
		r, ok := lookupHint(t, e, "n1", "k")
		if !ok || string(r.Value) != tt.wantValue {
			t.Fatalf("%s: hint = %+v %v, want %q", tt.name, r, ok, tt.wantValue)
		}
		q := e.HintQueues()
		if len(q) != 1 || q[0].Target != "n1" || q[0].Count != 1 || q[0].OldestMs != tt.wantCreated {
			t.Fatalf("%s: queues %+v, want one hint created at %d", tt.name, q, tt.wantCreated)
		}
	}
	// Several records for one key in one call: as if applied in order.
	n := mustPutHints(t, e, "n2", 1, "k", val(ver(5, 0, 0), "5"), "k", val(ver(4, 0, 0), "4"), "k", val(ver(6, 0, 0), "6"))
	if r, _ := lookupHint(t, e, "n2", "k"); n != 2 || string(r.Value) != "6" {
		t.Fatalf("batch: stored %d, hint %q; want 2 and \"6\"", n, r.Value)
	}
	// Hints are not data.
	if _, ok := mustLookup(t, e, "k"); ok {
		t.Fatal("hint visible as data")
	}
	if c, _ := e.Count(0); c != 0 {
		t.Fatalf("Count = %d with only hints stored", c)
	}
	if d := dump(t, e); len(d) != 0 {
		t.Fatalf("Scan sees hints: %v", d)
	}
	assertDigest(t, e, "hints only")
	for i, h := range e.AppendDigests(nil, 0, DigestBuckets) {
		if h != 0 {
			t.Fatalf("hint changed digest bucket %d", i)
		}
	}
}

func TestHintsInvalid(t *testing.T) {
	e := openMem(t)
	keys := [][]byte{[]byte("k")}
	for _, target := range []string{"", strings.Repeat("x", 256)} {
		calls := map[string]error{}
		_, calls["PutHints"] = e.PutHints(target, keys, []Record{val(ver(1, 0, 0), "v")}, 1)
		_, calls["DeleteHints"] = e.DeleteHints(target, keys, []Version{ver(1, 0, 0)})
		calls["LookupHints"] = e.LookupHints(target, keys, make([]Record, 1), make([]bool, 1))
		calls["ScanHints"] = e.ScanHints(target, nil, func([]byte, Record, int64) bool { return true })
		_, calls["DropHints"] = e.DropHints(target)
		for name, err := range calls {
			if !errors.Is(err, ErrInvalidHint) {
				t.Errorf("%s(target of %d bytes) = %v, want ErrInvalidHint", name, len(target), err)
			}
		}
	}
	if _, err := e.PutHints("n", keys, nil, 1); !errors.Is(err, ErrInvalidHint) {
		t.Errorf("PutHints with mismatched lengths = %v", err)
	}
	if _, err := e.DeleteHints("n", keys, nil); !errors.Is(err, ErrInvalidHint) {
		t.Errorf("DeleteHints with mismatched lengths = %v", err)
	}
	if err := e.LookupHints("n", keys, nil, nil); !errors.Is(err, ErrInvalidHint) {
		t.Errorf("LookupHints with short dst = %v", err)
	}
	if len(e.HintQueues()) != 0 {
		t.Fatal("an invalid call stored a hint")
	}
}

func TestDeleteHintsOnlyMatchingVersion(t *testing.T) {
	e := openMem(t)
	mustPutHints(t, e, "n1", 100, "a", val(ver(1, 0, 0), "a1"), "b", val(ver(1, 0, 0), "b1"), "c", val(ver(1, 0, 0), "c1"))
	// A newer hint for b arrives while a, b and c are being delivered.
	mustPutHints(t, e, "n1", 200, "b", val(ver(2, 0, 0), "b2"))
	n, err := e.DeleteHints("n1", [][]byte{[]byte("a"), []byte("b"), []byte("zz"), []byte("c"), []byte("c")},
		[]Version{ver(1, 0, 0), ver(1, 0, 0), ver(1, 0, 0), ver(9, 0, 0), ver(1, 0, 0)})
	if err != nil || n != 2 {
		t.Fatalf("DeleteHints = %d, %v; want 2 (a and c)", n, err)
	}
	if r, ok := lookupHint(t, e, "n1", "b"); !ok || string(r.Value) != "b2" {
		t.Fatalf("newer hint deleted: %+v %v", r, ok)
	}
	for _, k := range []string{"a", "c"} {
		if _, ok := lookupHint(t, e, "n1", k); ok {
			t.Fatalf("hint %s not deleted", k)
		}
	}
	q := e.HintQueues()
	if len(q) != 1 || q[0].Count != 1 || q[0].OldestMs != 100 {
		t.Fatalf("queues %+v, want b pending since 100", q)
	}
	n, _ = e.DeleteHints("n1", [][]byte{[]byte("b")}, []Version{ver(2, 0, 0)})
	if q := e.HintQueues(); n != 1 || len(q) != 0 {
		t.Fatalf("after last delete: deleted %d, queues %+v", n, q)
	}
}

func TestScanHintsOrderAndResume(t *testing.T) {
	e := openMem(t)
	var want []string
	for i := range 100 {
		k := fmt.Sprint("k", i)
		want = append(want, k)
		mustPutHints(t, e, "n1", int64(i), k, val(ver(1, 0, 0), k))
	}
	mustPutHints(t, e, "n10", 1, "other", val(ver(1, 0, 0), "x")) // must not show up
	slices.SortFunc(want, func(a, b string) int {
		if c := cmpTok(a, b); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	// Page through with the last key seen, pages of 7.
	var got []string
	var after []byte
	for {
		page := 0
		err := e.ScanHints("n1", after, func(k []byte, r Record, created int64) bool {
			if string(r.Value) != string(k) || created < 0 || created > 99 {
				t.Fatalf("hint %q = %+v created %d", k, r, created)
			}
			got = append(got, string(k))
			after = bytes.Clone(k)
			page++
			return page < 7
		})
		if err != nil {
			t.Fatal(err)
		}
		if page < 7 {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("scan order\n got %q\nwant %q", got, want)
	}
	// The empty key is a key: after it, not from the start.
	mustPutHints(t, e, "n2", 1, "", val(ver(1, 0, 0), "empty"))
	var seen int
	if err := e.ScanHints("n2", []byte{}, func([]byte, Record, int64) bool { seen++; return true }); err != nil || seen != 0 {
		t.Fatalf("scan after the only (empty) key saw %d, %v", seen, err)
	}
}

func cmpTok(a, b string) int {
	ta, tb := Token([]byte(a)), Token([]byte(b))
	switch {
	case ta < tb:
		return -1
	case ta > tb:
		return 1
	}
	return 0
}

// hintModel is the naive oracle for the hint keyspace.
type hintModel map[string]map[string]modelHint

type modelHint struct {
	rec     Record
	created int64
}

func (m hintModel) put(target string, keys [][]byte, recs []Record, created int64) (stored int) {
	if m[target] == nil {
		m[target] = map[string]modelHint{}
	}
	for i, k := range keys {
		cur, ok := m[target][string(k)]
		if ok && recs[i].Version.Compare(cur.rec.Version) <= 0 {
			continue
		}
		c := created
		if ok && cur.created < c {
			c = cur.created
		}
		m[target][string(k)] = modelHint{rec: recs[i], created: c}
		stored++
	}
	return stored
}

func (m hintModel) del(target string, keys [][]byte, vs []Version) (deleted int) {
	for i, k := range keys {
		if cur, ok := m[target][string(k)]; ok && cur.rec.Version == vs[i] {
			delete(m[target], string(k))
			deleted++
		}
	}
	return deleted
}

func (m hintModel) queues() []HintQueue {
	var out []HintQueue
	for target, hs := range m {
		if len(hs) == 0 {
			continue
		}
		q := HintQueue{Target: target}
		for k, h := range hs {
			q.Count++
			q.Bytes += int64(len(appendHintKey(nil, target, Token([]byte(k)), []byte(k))) + hintValueHeader + h.rec.EncodedLen())
			if q.Count == 1 || h.created < q.OldestMs {
				q.OldestMs = h.created
			}
		}
		out = append(out, q)
	}
	slices.SortFunc(out, func(a, b HintQueue) int { return strings.Compare(a.Target, b.Target) })
	return out
}

// checkHints compares the engine's hints, queues and totals with the model.
func checkHints(t *testing.T, e *Engine, m hintModel, when string) {
	t.Helper()
	want := m.queues()
	if got := e.HintQueues(); !slices.Equal(got, want) {
		t.Fatalf("%s: queues\n got %+v\nwant %+v", when, got, want)
	}
	var count, bytes int64
	for _, q := range want {
		count += q.Count
		bytes += q.Bytes
	}
	if st := e.Stats(); st.HintsPending != count || st.HintsBytes != bytes {
		t.Fatalf("%s: stats hints %d/%d bytes, want %d/%d", when, st.HintsPending, st.HintsBytes, count, bytes)
	}
	for target, hs := range m {
		got := map[string]modelHint{}
		err := e.ScanHints(target, nil, func(k []byte, r Record, created int64) bool {
			r.Value = slices.Clone(r.Value)
			got[string(k)] = modelHint{rec: r, created: created}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(hs) {
			t.Fatalf("%s: %s has %d hints, want %d", when, target, len(got), len(hs))
		}
		for k, h := range hs {
			if g, ok := got[k]; !ok || g.created != h.created || !recordsEqual(g.rec, Record{
				Version: h.rec.Version, Tombstone: h.rec.Tombstone, ExpireAt: expiryOf(h.rec), Value: valueOf(h.rec)}) {
				t.Fatalf("%s: %s/%s = %+v, want %+v", when, target, k, g, h)
			}
		}
	}
}

func expiryOf(r Record) int64 {
	if r.Tombstone {
		return 0
	}
	return r.ExpireAt
}

func valueOf(r Record) []byte {
	if r.Tombstone {
		return nil
	}
	return r.Value
}

// TestHintsProperty runs random PutHints, DeleteHints, DropHints, DropAll
// and data writes against the model; queues (count, bytes, oldest) must
// be exact after every step and after a restart, and data must not see
// hints.
func TestHintsProperty(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 31))
			cfg := memConfig(vfs.NewMem())
			e := mustOpen(t, cfg)
			m := hintModel{}
			data := map[string]Record{}
			targets := []string{"n1", "n2", "node-3"}
			randKeys := func(n int) [][]byte {
				ks := make([][]byte, n)
				for i := range ks {
					ks[i] = []byte(fmt.Sprint("k", rng.IntN(30)))
				}
				return ks
			}
			for step := range 300 {
				target := targets[rng.IntN(len(targets))]
				switch p := rng.IntN(100); {
				case p < 2:
					if err := e.DropAll(); err != nil {
						t.Fatal(err)
					}
					m, data = hintModel{}, map[string]Record{}
				case p < 6:
					n, err := e.DropHints(target)
					if err != nil || n != int64(len(m[target])) {
						t.Fatalf("DropHints = %d, %v; want %d", n, err, len(m[target]))
					}
					delete(m, target)
				case p < 35:
					keys := randKeys(1 + rng.IntN(5))
					vs := make([]Version, len(keys))
					for i, k := range keys {
						vs[i] = ver(int64(rng.IntN(20)), 0, 0)
						if h, ok := m[target][string(k)]; ok && rng.IntN(2) == 0 {
							vs[i] = h.rec.Version
						}
					}
					want := m.del(target, keys, vs)
					if n, err := e.DeleteHints(target, keys, vs); err != nil || n != want {
						t.Fatalf("step %d: DeleteHints = %d, %v; want %d", step, n, err, want)
					}
				case p < 45:
					keys := randKeys(1 + rng.IntN(4))
					recs := make([]Record, len(keys))
					for i := range recs {
						recs[i] = val(ver(int64(rng.IntN(20)), 0, 1), "data")
					}
					if _, err := e.ApplyBatch(keys, recs); err != nil {
						t.Fatal(err)
					}
					for k, r := range oracle(keys, recs) {
						if cur, ok := data[k]; !ok || r.Version.Compare(cur.Version) > 0 {
							data[k] = r
						}
					}
				default:
					keys := randKeys(1 + rng.IntN(6))
					recs := make([]Record, len(keys))
					for i := range recs {
						v := ver(int64(rng.IntN(20)), uint32(rng.IntN(2)), 0)
						switch rng.IntN(3) {
						case 0:
							recs[i] = Record{Version: v, Tombstone: true, ExpireAt: 5}
						case 1:
							recs[i] = Record{Version: v, Value: []byte(fmt.Sprint(v)), ExpireAt: 1_700_000_000_000}
						default:
							recs[i] = Record{Version: v, Value: []byte(strings.Repeat("v", rng.IntN(50)))}
						}
					}
					created := 1_700_000_000_000 + rng.Int64N(5000) - 2500
					want := m.put(target, keys, recs, created)
					if n, err := e.PutHints(target, keys, recs, created); err != nil || n != want {
						t.Fatalf("step %d: PutHints = %d, %v; want %d", step, n, err, want)
					}
				}
				checkHints(t, e, m, fmt.Sprint("step ", step))
			}
			checkState(t, e, data)
			assertDigest(t, e, "end")
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			e2 := mustOpen(t, cfg)
			checkHints(t, e2, m, "after reopen")
			checkState(t, e2, data)
		})
	}
}

// TestHintsConcurrent has writers, deleters and droppers of hints race
// with data writes; once they stop, the in-memory totals must equal a
// recount of what is stored.
func TestHintsConcurrent(t *testing.T) {
	e := openMem(t, func(c *Config) { c.Fsync = FsyncNo })
	targets := []string{"a", "b"}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 11))
			for i := range 300 {
				target := targets[rng.IntN(2)]
				n := 1 + rng.IntN(6)
				keys, recs, vs := make([][]byte, n), make([]Record, n), make([]Version, n)
				for j := range n {
					keys[j] = []byte(fmt.Sprint("k", rng.IntN(50)))
					vs[j] = ver(int64(rng.IntN(30)), 0, uint64(w))
					recs[j] = val(vs[j], strings.Repeat("x", rng.IntN(20)))
				}
				var err error
				switch {
				case w == 0 && i%50 == 49:
					_, err = e.DropHints(target)
				case rng.IntN(3) == 0:
					_, err = e.DeleteHints(target, keys, vs)
				case rng.IntN(4) == 0:
					_, err = e.ApplyBatch(keys, recs)
				default:
					_, err = e.PutHints(target, keys, recs, int64(rng.IntN(10_000)))
				}
				if err != nil {
					t.Error(err)
					return
				}
				_ = e.HintQueues() // readers race with writers too
			}
		}()
	}
	wg.Wait()
	m := hintModel{}
	for _, target := range targets {
		err := e.ScanHints(target, nil, func(k []byte, r Record, created int64) bool {
			if m[target] == nil {
				m[target] = map[string]modelHint{}
			}
			r.Value = slices.Clone(r.Value)
			m[target][string(k)] = modelHint{rec: r, created: created}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(m.queues()) == 0 {
		t.Fatal("no hints left; the run checks nothing")
	}
	checkHints(t, e, m, "after concurrent run")
}

// TestHintsDiskFull: with the disk full, hint writes fail with ErrWrite
// and leave the totals alone; acknowledged hints survive a restart.
func TestHintsDiskFull(t *testing.T) {
	inner := vfs.NewMem()
	fault := &diskFull{}
	cfg := memConfig(errorfs.Wrap(inner, fault))
	cfg.Fsync = FsyncAlways
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := hintModel{}
	for i := range 50 {
		keys := [][]byte{[]byte(fmt.Sprint("k", i))}
		recs := []Record{val(ver(1, 0, 0), "v")}
		m.put("n1", keys, recs, int64(1000+i))
		if _, err := e.PutHints("n1", keys, recs, int64(1000+i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.PutMeta("ring", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	fault.on.Store(true)
	big := []Record{{Version: ver(2, 0, 0), Value: make([]byte, 64<<10)}}
	var werr error
	for i := 0; werr == nil && i < 1000; i++ {
		_, werr = e.PutHints("n1", [][]byte{[]byte(fmt.Sprint("fill", i))}, big, 5)
	}
	if !errors.Is(werr, ErrWrite) {
		t.Fatalf("hint write with a full disk = %v, want ErrWrite", werr)
	}
	// Whatever failed was not counted; what was acknowledged is.
	if q := e.HintQueues(); len(q) != 1 || q[0].OldestMs != 1000 {
		t.Fatalf("queues after failure %+v", q)
	}
	if _, err := e.DeleteHints("n1", [][]byte{[]byte("k0")}, []Version{ver(1, 0, 0)}); !errors.Is(err, ErrWrite) {
		t.Fatalf("DeleteHints after failure = %v, want ErrWrite", err)
	}
	if _, err := e.DropHints("n1"); !errors.Is(err, ErrWrite) {
		t.Fatalf("DropHints after failure = %v, want ErrWrite", err)
	}
	if err := e.PutMeta("ring", []byte("v2")); !errors.Is(err, ErrWrite) {
		t.Fatalf("PutMeta after failure = %v, want ErrWrite", err)
	}
	if r, ok := lookupHint(t, e, "n1", "k0"); !ok || string(r.Value) != "v" {
		t.Fatalf("hint read after failure = %+v %v", r, ok)
	}
	_ = e.Close()

	restarted := vfs.NewMem()
	if _, err := vfs.Clone(inner, restarted, "db", "db"); err != nil {
		t.Fatal(err)
	}
	cfg.FS = restarted
	e2 := mustOpen(t, cfg)
	// Acknowledged hints are all there; an unacknowledged one may be too
	// (it reached the WAL before the failure), so compare n1's k* hints.
	got := hintModel{"n1": {}}
	err = e2.ScanHints("n1", nil, func(k []byte, r Record, created int64) bool {
		if strings.HasPrefix(string(k), "k") {
			got["n1"][string(k)] = modelHint{rec: Record{Version: r.Version, Value: slices.Clone(r.Value)}, created: created}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if w, g := m.queues(), got.queues(); !slices.Equal(w, g) {
		t.Fatalf("after restart %+v, want %+v", g, w)
	}
	if v, ok, err := e2.GetMeta("ring"); err != nil || !ok || string(v) != "v1" {
		t.Fatalf("meta after restart = %q %v %v", v, ok, err)
	}
	// Totals were rebuilt from what is stored.
	var count int64
	_ = e2.ScanHints("n1", nil, func([]byte, Record, int64) bool { count++; return true })
	if q := e2.HintQueues(); len(q) != 1 || q[0].Count != count {
		t.Fatalf("queues after restart %+v, stored %d", q, count)
	}
}

func TestHintStatsNames(t *testing.T) {
	e := openMem(t)
	mustPutHints(t, e, "n1", 7, "a", val(ver(1, 0, 0), "v"), "b", val(ver(1, 0, 0), "v"))
	st := e.Stats()
	names := map[string]float64{}
	for _, s := range st.Numbers() {
		names[s.Name] = s.Value
	}
	if names["hints_pending"] != 2 || names["hints_bytes"] != float64(st.HintsBytes) || st.HintsBytes <= 0 {
		t.Fatalf("hint stats %v / %+v", names, st)
	}
	if n, err := e.DropHints("n1"); err != nil || n != 2 {
		t.Fatalf("DropHints = %d, %v", n, err)
	}
	if st := e.Stats(); st.HintsPending != 0 || st.HintsBytes != 0 {
		t.Fatalf("after drop: %+v", st)
	}
}
