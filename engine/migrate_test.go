package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/cockroachdb/pebble/vfs/errorfs"
)

const (
	migT0    = 1_700_000_000_000
	migTTL   = migT0 + 1_000      // expires during the test
	migLater = migT0 + 3_600_000  // expires after it
	migValue = 64 << 10           // so a pass takes several batches
	migKeys  = 360                // with migValue: about 2.5 MB of tagged records
	migGrace = 10 * time.Second   // TombstoneGrace
	migPurge = migT0 + 10_000 + 1 // every tombstone's grace is over
)

// migFixture is what the fixture stored, for checks after a migration.
type migFixture struct {
	recs  map[string]Record
	hints map[string]map[string]Record // target -> key -> record
}

// migKey returns the fixture's i-th key: tagged and untagged keys, in
// the classes of classOfKey and in databases, including database 123
// (whose prefix is '{') and escaped database-0 keys.
func migKey(i int) string {
	switch i % 6 {
	case 0:
		return fmt.Sprintf("%d{user%d}.following%d", i%4, i%10, i)
	case 1:
		return fmt.Sprintf("%dplain-%d", i%4, i)
	case 2:
		return dbKey(uint64(i%130), fmt.Sprintf("{t%d}k%d", i%7, i))
	case 3:
		return fmt.Sprintf("%dfoo{}{bar}%d", i%4, i) // first tag empty: untagged
	case 4:
		return dbKey(123, fmt.Sprintf("x}%d", i)) // '{' only in the prefix
	default:
		return dbKey(0, fmt.Sprintf("\xff{e%d}%d", i%3, i))
	}
}

// migRecord returns the fixture's record of key i.
func migRecord(i int) Record {
	v := ver(migT0, uint32(i), 1)
	switch i % 5 {
	case 0:
		return Record{Version: v, Value: bytes.Repeat([]byte{byte(i)}, migValue)}
	case 1:
		return Record{Version: v, Value: []byte("ttl"), ExpireAt: migTTL}
	case 2:
		return Record{Version: v, Tombstone: true}
	case 3:
		return Record{Version: v, Value: []byte("later"), ExpireAt: migLater}
	default:
		return Record{Version: v, Value: []byte(fmt.Sprint(i))}
	}
}

func migConfig(fs vfs.FS, clock *fakeClock) Config {
	cfg := memConfig(fs)
	cfg.Now = clock.Now
	cfg.ReclaimInterval = time.Hour
	cfg.TombstoneGrace = migGrace
	cfg.Classify, cfg.Classes = classOfKey, 4
	return cfg
}

// writeMigFixture stores the fixture through the current build.
func writeMigFixture(t *testing.T, e *Engine) migFixture {
	t.Helper()
	f := migFixture{recs: map[string]Record{}, hints: map[string]map[string]Record{"node-b": {}, "node-c": {}}}
	for i := range migKeys {
		k, r := migKey(i), migRecord(i)
		mustApply(t, e, k, r)
		f.recs[k] = r
		for target, every := range map[string]int{"node-b": 3, "node-c": 4} {
			if i%every != 0 {
				continue
			}
			if _, err := e.PutHints(target, [][]byte{[]byte(k)}, []Record{r}, migT0+int64(i)); err != nil {
				t.Fatal(err)
			}
			f.hints[target][k] = r
		}
	}
	return f
}

// migState is everything a migration must preserve.
type migState struct {
	raw     map[string]string // every data, index and hint key -> value
	count   int64
	classes []ClassCount
	queues  []HintQueue
	digests []uint64
	live    int64
}

func stateOf(t *testing.T, e *Engine) migState {
	t.Helper()
	s := migState{raw: rawKeyspaces(t, e.db), live: e.LiveRecords(), queues: e.HintQueues(),
		digests: e.AppendDigests(nil, 0, DigestBuckets)}
	var err error
	if s.count, err = e.Count(migT0); err != nil {
		t.Fatal(err)
	}
	if s.classes, err = e.ClassCounts(migT0); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s migState) diff(o migState) string {
	switch {
	case !maps.Equal(s.raw, o.raw):
		return fmt.Sprintf("stored keys differ: %d vs %d keys", len(s.raw), len(o.raw))
	case s.count != o.count || s.live != o.live:
		return fmt.Sprintf("counts %d/%d vs %d/%d", s.count, s.live, o.count, o.live)
	case !slices.Equal(s.classes, o.classes):
		return fmt.Sprintf("classes %v vs %v", s.classes, o.classes)
	case !slices.Equal(s.queues, o.queues):
		return fmt.Sprintf("hint queues %v vs %v", s.queues, o.queues)
	case !slices.Equal(s.digests, o.digests):
		return "digests differ"
	}
	return ""
}

// rawKeyspaces copies the data, index, purge index and hint keyspaces.
func rawKeyspaces(t *testing.T, r pebble.Reader) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, span := range [][2][]byte{{dataStart, dataEnd}, {indexStart, indexEnd}, {purgeStart, purgeEnd}, {hintStart, hintEnd}} {
		it, err := r.NewIter(&pebble.IterOptions{LowerBound: span[0], UpperBound: span[1]})
		if err != nil {
			t.Fatal(err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			out[string(it.Key())] = string(it.Value())
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// layout1Key returns where layout 1 kept the Pebble key k of the current
// layout: data, index and hint keys at the xxhash64 of the whole key, and
// purge entries in the expiry index, as the builds of layout 1 wrote them.
// Written apart from migrate.go, so that the fixture does not share its
// bugs.
func layout1Key(k []byte) []byte {
	old := func(userKey []byte) []byte {
		return binary.BigEndian.AppendUint64([]byte{prefixData}, xxhash.Sum64(userKey))
	}
	switch k[0] {
	case prefixData:
		return append(old(k[dataKeyHeader:]), k[dataKeyHeader:]...)
	case prefixIndex, prefixPurge:
		dk := k[indexHeader:]
		head := bytes.Clone(k[:indexHeader])
		head[0] = prefixIndex
		return append(append(head, old(dk[dataKeyHeader:])...), dk[dataKeyHeader:]...)
	default: // prefixHint
		end := 2 + int(k[1])
		key := k[end+tokenLen:]
		return append(binary.BigEndian.AppendUint64(bytes.Clone(k[:end]), xxhash.Sum64(key)), key...)
	}
}

// downgrade rewrites db as layout 1 stored it and returns how many keys
// it moved.
func downgrade(t *testing.T, db *pebble.DB, layout []byte) int {
	t.Helper()
	b := db.NewBatch()
	moved := 0
	for k, v := range rawKeyspaces(t, db) {
		if old := layout1Key([]byte(k)); !bytes.Equal(old, []byte(k)) {
			moved++
			val := []byte(v)
			if k[0] == prefixPurge {
				val = nil // layout 1's purge entries held nothing
			}
			if err := errors.Join(b.Delete([]byte(k), nil), b.Set(old, val, nil)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := errors.Join(b.Set(metaLayoutKey, layout, nil), b.Commit(pebble.Sync)); err != nil {
		t.Fatal(err)
	}
	return moved
}

// layoutOf reads the stored layout value.
func layoutOf(t *testing.T, e *Engine) []byte {
	t.Helper()
	v, closer, err := e.db.Get(metaLayoutKey)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	return bytes.Clone(v)
}

// layout1Store writes the fixture into a new store on fs, downgrades it
// to layout 1 and closes it. It returns the fixture and the state the
// current build keeps for it.
func layout1Store(t *testing.T, fs vfs.FS, clock *fakeClock) (migFixture, migState) {
	t.Helper()
	e, err := Open(migConfig(fs, clock))
	if err != nil {
		t.Fatal(err)
	}
	f := writeMigFixture(t, e)
	want := stateOf(t, e)
	for k := range want.raw {
		if k[0] == prefixPurge {
			want.raw[k] = "" // layout 1 noted nothing in purge entries
		}
	}
	if n := downgrade(t, e.db, []byte{1}); n < migKeys/2 {
		t.Fatalf("downgrade moved %d keys; the fixture should have more tagged keys", n)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// Compacted, so that no compaction runs in the background of the
	// next Open (TestMigrateCrash copies the files while it runs).
	db, err := openRaw(fs)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(db.Compact([]byte{0}, []byte{0xff}, false), db.Close()); err != nil {
		t.Fatal(err)
	}
	return f, want
}

// TestMigrateLayout1: a store written under layout 1 opens as if it had
// been written by this build: the same keys and values, counts, class
// figures, hint queues and digests; every record and hint is found, and
// the reclaimer expires and purges through the moved index entries.
func TestMigrateLayout1(t *testing.T) {
	clock := newFakeClock(migT0)
	fs := vfs.NewMem()
	f, want := layout1Store(t, fs, clock)

	e := mustOpen(t, migConfig(fs, clock))
	if got := layoutOf(t, e); !bytes.Equal(got, []byte{layoutVersion}) {
		t.Fatalf("layout after migration = %v, want [%d]", got, layoutVersion)
	}
	if d := stateOf(t, e).diff(want); d != "" {
		t.Fatalf("migrated store differs from a layout-2 one: %s", d)
	}
	checkFixture(t, e, f)

	// The moved index entries drive the reclaimer.
	clock.Set(migTTL)
	mustReclaim(t, e)
	for k, r := range f.recs {
		got, ok := mustLookup(t, e, k)
		if expired := r.ExpireAt == migTTL; !ok || expired != (got.Tombstone && !r.Tombstone) {
			t.Fatalf("%q after expiry: %+v, stored %+v", k, got, r)
		}
	}
	// Layout 1's purge entries say neither when nor which tombstone: the
	// first pass past their grace writes them again, due a retry later.
	clock.Set(migPurge)
	mustReclaim(t, e)
	clock.Set(migPurge + min(migGrace, purgeRetryMax).Milliseconds())
	mustReclaim(t, e)
	for k, r := range f.recs {
		_, ok := mustLookup(t, e, k)
		if gone := r.Tombstone || r.ExpireAt == migTTL; ok == gone {
			t.Fatalf("%q after purge: found %v, stored %+v", k, ok, r)
		}
	}
	checkIndexPlaced(t, e, f)
}

// checkFixture checks that every record and hint of f is found where the
// current build looks for it.
func checkFixture(t *testing.T, e *Engine, f migFixture) {
	t.Helper()
	for k, r := range f.recs {
		if got, ok := mustLookup(t, e, k); !ok || !recordsEqual(got, r) {
			t.Fatalf("Lookup(%q) = %+v %v, want %+v", k, got, ok, r)
		}
	}
	for target, hints := range f.hints {
		var listed []string
		err := e.ScanHints(target, nil, func(k []byte, r Record, _ int64) bool {
			listed = append(listed, string(k))
			if !recordsEqual(r, hints[string(k)]) {
				t.Errorf("hint %q for %s = %+v, want %+v", k, target, r, hints[string(k)])
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.IsSortedFunc(listed, func(a, b string) int { return cmpKeys([]byte(a), []byte(b)) }) {
			t.Fatalf("hints for %s not in token order", target)
		}
		if len(listed) != len(hints) || e.HintQueue(target).Count != int64(len(hints)) {
			t.Fatalf("%s: listed %d hints, queue %d, want %d", target, len(listed), e.HintQueue(target).Count, len(hints))
		}
		for k, r := range hints {
			dst, found := make([]Record, 1), make([]bool, 1)
			if err := e.LookupHints(target, [][]byte{[]byte(k)}, dst, found); err != nil || !found[0] || !recordsEqual(dst[0], r) {
				t.Fatalf("LookupHints(%s, %q) = %+v %v %v", target, k, dst[0], found[0], err)
			}
		}
	}
}

// cmpKeys orders user keys as the store does: by token, then bytes.
func cmpKeys(a, b []byte) int {
	if ta, tb := Token(a), Token(b); ta != tb {
		if ta < tb {
			return -1
		}
		return 1
	}
	return bytes.Compare(a, b)
}

// checkIndexPlaced checks, after every tombstone was purged, that the
// expiry index holds exactly the entries of the records that still
// expire, each pointing at its record, and the purge index nothing.
func checkIndexPlaced(t *testing.T, e *Engine, f migFixture) {
	t.Helper()
	want := 0
	for _, r := range f.recs {
		if r.ExpireAt == migLater {
			want++
		}
	}
	got := 0
	for k := range rawKeyspaces(t, e.db) {
		if k[0] == prefixPurge {
			t.Fatalf("purge entry %x left after every purge", k)
		}
		if k[0] != prefixIndex {
			continue
		}
		_, kind, dk, ok := parseIndexKey([]byte(k))
		if !ok || kind != kindExpire || dataKeyToken(dk) != Token(UserKey(dk)) {
			t.Fatalf("index entry %x: kind %c, ok %v, token placed %v", k, kind, ok, ok && dataKeyToken(dk) == Token(UserKey(dk)))
		}
		got++
	}
	if got != want {
		t.Fatalf("%d index entries, want %d", got, want)
	}
}

// TestMigrateResumes: whatever part of a migration an interrupted Open
// did, the next Open finishes it to the same store.
func TestMigrateResumes(t *testing.T) {
	tests := []struct {
		name string
		// moved picks the keys the interrupted Open moved.
		moved func(i int) bool
	}{
		{"marker only", func(int) bool { return false }},
		{"every other key", func(i int) bool { return i%2 == 0 }},
		{"data only", nil},
		{"everything but the version", func(int) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock(migT0)
			fs := vfs.NewMem()
			f, want := layout1Store(t, fs, clock)
			interrupt(t, fs, tt.moved)

			e := mustOpen(t, migConfig(fs, clock))
			if got := layoutOf(t, e); !bytes.Equal(got, []byte{layoutVersion}) {
				t.Fatalf("layout = %v", got)
			}
			if d := stateOf(t, e).diff(want); d != "" {
				t.Fatalf("resumed migration: %s", d)
			}
			checkFixture(t, e, f)
		})
	}
}

// interrupt plays an Open that wrote the migration marker, moved the
// keys that moved picks (by their order in each keyspace; nil: the data
// keyspace only) and then died.
func interrupt(t *testing.T, fs vfs.FS, moved func(i int) bool) {
	t.Helper()
	db, err := openRaw(fs)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(metaLayoutKey, layoutMigrating, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	for pi, p := range layout1Passes {
		b := db.NewBatch()
		keys := slices.Sorted(maps.Keys(rawKeyspaces(t, db)))
		i := 0
		for _, k := range keys {
			if k[0] != p.lower[0] {
				continue
			}
			pick := moved == nil && pi == 0 || moved != nil && moved(i)
			i++
			if !pick {
				continue
			}
			v, closer, err := db.Get([]byte(k))
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.move(db, b, []byte(k), v)
			closer.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Commit(pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// crashAt plays a process that dies just before its n-th WAL write: it
// copies the store's files (the state the dead process leaves) at that
// moment and fails that write and every later one, so the engine stops.
type crashAt struct {
	n     int64
	inner vfs.FS

	writes atomic.Int64
	snap   vfs.FS // the files at the crash; nil if the n-th write never came
	err    error  // from copying them
}

func (c *crashAt) MaybeError(op errorfs.Op, path string) error {
	if op != errorfs.OpFileWrite || !strings.HasSuffix(path, ".log") {
		return nil
	}
	switch w := c.writes.Add(1); {
	case w == c.n:
		// The WAL writer is the only goroutine changing files (the test's
		// memtables do not fill), and it waits here, so the copy is the
		// state of one instant.
		c.snap = vfs.NewMem()
		_, c.err = vfs.Clone(c.inner, c.snap, "db", "db")
		fallthrough
	case w > c.n:
		return errors.New("injected crash")
	}
	return nil
}

// TestMigrateCrash kills a migration at many points, just before one of
// its WAL writes, restarts on the files as they were then, and checks
// that the next Open ends with the store a layout-2 build would have
// written.
func TestMigrateCrash(t *testing.T) {
	clock := newFakeClock(migT0)
	base := vfs.NewMem()
	f, want := layout1Store(t, base, clock)
	stages := map[string]bool{}
	for n := int64(1); n < 150; n += 7 { // a WAL block is 32 KiB: a batch is ~33 writes
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			inner := cloneFS(t, base)
			crash := &crashAt{n: n, inner: inner}
			cfg := migConfig(errorfs.Wrap(inner, crash), clock)
			cfg.MemTableBytes = 64 << 20 // no flush while migrating
			if e, err := Open(cfg); err == nil {
				// The migration ended before the crash; Close may meet it.
				if err := e.Close(); err != nil && !errors.Is(err, ErrWrite) {
					t.Fatal(err)
				}
			} else if !errors.Is(err, ErrWrite) {
				t.Fatalf("Open failed with %v, want ErrWrite", err)
			}
			restarted := crash.snap
			if crash.err != nil {
				t.Fatal(crash.err)
			}
			if restarted == nil { // the migration ended before the crash
				restarted = cloneFS(t, inner)
			}
			stage := migrationStage(t, cloneFS(t, restarted))
			t.Logf("crash at WAL write %d: %s", n, stage)
			stages[stage] = true

			e := mustOpen(t, migConfig(restarted, clock))
			if d := stateOf(t, e).diff(want); d != "" {
				t.Fatalf("after a crash at WAL write %d: %s", n, d)
			}
			checkFixture(t, e, f)
		})
	}
	if len(stages) < 5 {
		t.Fatalf("the crash points left only %d distinct stages of the migration: %v", len(stages), stages)
	}
}

// openRaw opens the store on fs with Pebble alone, without migrating it.
func openRaw(fs vfs.FS) (*pebble.DB, error) {
	return pebble.Open("db", &pebble.Options{FS: fs, Logger: pebbleLogger{log: DefaultConfig().withDefaults().Logger}})
}

func cloneFS(t *testing.T, fs vfs.FS) vfs.FS {
	t.Helper()
	out := vfs.NewMem()
	if _, err := vfs.Clone(fs, out, "db", "db"); err != nil {
		t.Fatal(err)
	}
	return out
}

// migrationStage describes how far the migration of the store on fs got:
// its layout value and, per keyspace, how many of the keys that move have
// moved, as "layout [1 2]: d 40/90 x 0/36 h 0/75" (x: the expiry and the
// purge index, whose entries the same pass moves).
func migrationStage(t *testing.T, fs vfs.FS) string {
	t.Helper()
	db, err := openRaw(fs)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	moved, all := map[byte]int{}, map[byte]int{}
	for k := range rawKeyspaces(t, db) {
		var tok uint64
		var key []byte
		switch k[0] {
		case prefixData:
			tok, key = dataKeyToken([]byte(k)), []byte(k[dataKeyHeader:])
		case prefixIndex, prefixPurge:
			due, kind, dk, _ := parseIndexKey([]byte(k))
			key = UserKey(dk)
			dst := appendIndexKey(nil, due, kind, AppendDataKey(nil, key))
			if bytes.Equal(layout1Key(dst), dst) {
				continue // never moves
			}
			all['x']++
			if bytes.Equal([]byte(k), dst) {
				moved['x']++
			}
			continue
		default:
			_, tok, key, _ = parseHintKey([]byte(k))
		}
		if xxhash.Sum64(key) == Token(key) {
			continue
		}
		all[k[0]]++
		if tok == Token(key) {
			moved[k[0]]++
		}
	}
	v, closer, err := db.Get(metaLayoutKey)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	return fmt.Sprintf("layout %v: d %d/%d x %d/%d h %d/%d", v, moved['d'], all['d'],
		moved['x'], all['x'], moved['h'], all['h'])
}

// TestMigrateMergesAtDestination: should a key be at both its old and its
// new position (a store changed outside the migration's rules), the move
// keeps the newer record, and for hints the older createdMs.
func TestMigrateMergesAtDestination(t *testing.T) {
	enc := func(r Record) []byte { return r.AppendEncode(nil) }
	hint := func(created int64, r Record) []byte { return appendHintValue(nil, created, r) }
	older, newer := val(ver(5, 0, 1), "old"), val(ver(6, 0, 1), "new")
	tests := []struct {
		name              string
		moved, held, want []byte
		found             bool
	}{
		{"nothing held", hint(7, older), nil, hint(7, older), false},
		{"moved newer", hint(9, newer), hint(7, older), hint(7, newer), true},
		{"held newer", hint(7, older), hint(9, newer), hint(7, newer), true},
		{"held newer and older", hint(9, older), hint(7, newer), hint(7, newer), true},
		{"held undecodable", hint(9, older), []byte("junk-junk"), hint(9, older), true},
		{"held short", hint(9, older), []byte("x"), hint(9, older), true},
	}
	for _, tt := range tests {
		if got := mergeHintValues(tt.moved, tt.held, tt.found); !bytes.Equal(got, tt.want) {
			t.Errorf("%s: mergeHintValues = %x, want %x", tt.name, got, tt.want)
		}
	}
	if !newerRecord(enc(newer), enc(older)) || newerRecord(enc(older), enc(newer)) || newerRecord(enc(older), enc(older)) {
		t.Error("newerRecord does not order versions")
	}
	if !newerRecord(enc(older), []byte{0}) || newerRecord([]byte{0}, enc(older)) {
		t.Error("newerRecord: an undecodable record must lose")
	}

	// Through Open: an older copy left at the old position loses to the
	// moved record, a newer one wins.
	for _, leftNewer := range []bool{false, true} {
		clock := newFakeClock(migT0)
		fs := vfs.NewMem()
		e, err := Open(migConfig(fs, clock))
		if err != nil {
			t.Fatal(err)
		}
		const key = "{tag}k"
		mustApply(t, e, key, newer)
		left := older
		if leftNewer {
			left = val(ver(7, 0, 1), "left")
		}
		old := append(binary.BigEndian.AppendUint64([]byte{prefixData}, xxhash.Sum64String(key)), key...)
		if err := errors.Join(e.db.Set(old, enc(left), nil), e.db.Set(metaLayoutKey, layoutMigrating, nil), e.Close()); err != nil {
			t.Fatal(err)
		}
		e = mustOpen(t, migConfig(fs, clock))
		want := newer
		if leftNewer {
			want = left
		}
		if got, ok := mustLookup(t, e, key); !ok || !recordsEqual(got, want) {
			t.Fatalf("left newer %v: Lookup = %+v, want %+v", leftNewer, got, want)
		}
		if n := len(rawKeyspaces(t, e.db)); n != 1 {
			t.Fatalf("left newer %v: %d keys stored, want 1", leftNewer, n)
		}
	}
}

// TestLayoutRefused: layouts this build does not know are refused.
func TestLayoutRefused(t *testing.T) {
	for _, v := range [][]byte{{}, {0}, {3}, {2, 3}, {1, 3}, {2, 1}} {
		fs := vfs.NewMem()
		cfg := memConfig(fs)
		e, err := Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(e.db.Set(metaLayoutKey, v, nil), e.Close()); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(cfg); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open with layout %v = %v, want ErrCorrupt", v, err)
		}
	}
}
