package local

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/engine/hlc"
	"github.com/ringcache/ringcache/server/store"
)

// Store is the single-node store: it stamps each write with a version from
// the node's clock and applies it to the local engine. A cluster node
// implements the same server.Store methods as quorum operations over the
// key's replicas.
type Store struct {
	eng   *engine.Engine
	clock *hlc.Clock
	now   func() time.Time

	// bufs recycles the per-call slices of Get and Put.
	bufs sync.Pool

	// node is this node's identity for the ClusterView methods; never nil
	// after New. Swapped whole so SetNode may run while serving (the
	// client address is often known only once the listener is bound).
	node atomic.Pointer[nodeInfo]
}

// nodeInfo is what RINGCACHE NODES shows about a single node.
type nodeInfo struct{ id, clientAddr string }

// DefaultNodeID is the node id a Store reports until SetNode names it.
const DefaultNodeID = "local"

type scratch struct {
	keys  [][]byte
	recs  []engine.Record
	found []bool
}

// New returns a store over eng whose versions come from clock. now is
// the clock used to decide expiry (nil: time.Now).
func New(eng *engine.Engine, clock *hlc.Clock, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	l := &Store{eng: eng, clock: clock, now: now}
	clock.Observe(eng.Floor()) // stamp above a flush this store took part in
	l.bufs.New = func() any { return new(scratch) }
	l.node.Store(&nodeInfo{id: DefaultNodeID})
	return l
}

// SetNode sets the node id and client address (host:port) that the
// ClusterView methods report. Safe to call at any time.
func (l *Store) SetNode(id, clientAddr string) {
	l.node.Store(&nodeInfo{id: id, clientAddr: clientAddr})
}

// Get implements server.Store.
func (l *Store) Get(_ context.Context, keys [][]byte) ([]store.Item, error) {
	b := l.bufs.Get().(*scratch)
	defer l.bufs.Put(b)
	b.recs = grow(b.recs, len(keys))
	b.found = grow(b.found, len(keys))
	if err := l.eng.LookupBatch(keys, b.recs, b.found); err != nil {
		return nil, err
	}
	nowMs := l.now().UnixMilli()
	items := make([]store.Item, len(keys))
	for i := range keys {
		r := b.recs[i]
		if b.found[i] {
			items[i].Version = store.Version(r.Version)
		}
		if b.found[i] && r.Live(nowMs) {
			items[i] = store.Item{Value: r.Value, ExpireAt: r.ExpireAt, Found: true, Version: store.Version(r.Version)}
		}
		b.recs[i] = engine.Record{} // do not keep values alive in the pool
	}
	return items, nil
}

// Put implements server.Store. Each mutation gets its own version, newer
// than anything this node stored before.
func (l *Store) Put(_ context.Context, muts []store.Mutation) error {
	b := l.bufs.Get().(*scratch)
	defer l.bufs.Put(b)
	b.keys = grow(b.keys, len(muts))
	b.recs = grow(b.recs, len(muts))
	for i, m := range muts {
		b.keys[i] = m.Key
		b.recs[i] = Record(m, l.clock.Now())
	}
	applied, err := l.eng.ApplyBatch(b.keys, b.recs)
	if err == nil && applied < len(muts) {
		err = l.restamp(b.keys, b.recs)
	}
	clear(b.keys)
	clear(b.recs)
	return err
}

// restamp handles writes that lost to a stored version from the future (a
// record written under a clock that ran ahead of ours) or to the engine's
// flush floor (a data directory a cluster member flushed): the clock
// learns that version and the write is applied again with a newer one, so
// an acknowledged write is never silently dropped.
func (l *Store) restamp(keys [][]byte, recs []engine.Record) error {
	for i, key := range keys {
		for {
			newer, done, err := l.lostTo(key, recs[i].Version)
			if err != nil {
				return err
			}
			if done {
				break
			}
			l.clock.Observe(newer)
			recs[i].Version = l.clock.Now()
			if _, err := l.eng.Apply(key, recs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// lostTo tells what the write of key stamped v lost to: the newer version
// stored (a record or a tombstone) or, when nothing is stored and v is
// below it, the flush floor. done reports that it lost to nothing: v is
// what is stored, or the write applied and its record is gone since (an
// eviction, or the reclaimer's purge).
func (l *Store) lostTo(key []byte, v engine.Version) (newer engine.Version, done bool, err error) {
	cur, ok, err := l.eng.Lookup(key)
	switch {
	case err != nil:
		return engine.Version{}, false, err
	case !ok:
		floor := l.eng.Floor()
		return floor, v.Compare(floor) > 0, nil
	case cur.Version == v:
		return v, true, nil
	case cur.Version.Compare(v) < 0:
		return engine.Version{}, false, fmt.Errorf("local: stored version %v older than unapplied write %v", cur.Version, v)
	}
	return cur.Version, false, nil
}

// Record is mutation m as the engine stores it, stamped with v: on one
// node or on a cluster member (whose coordinator stamps with it too).
func Record(m store.Mutation, v engine.Version) engine.Record {
	if m.Delete {
		return engine.Record{Version: v, Tombstone: true}
	}
	return engine.Record{Value: m.Value, Version: v, ExpireAt: m.ExpireAt}
}

// Len implements server.Store.
func (l *Store) Len(context.Context) (int64, error) {
	return l.eng.Count(l.now().UnixMilli())
}

// Flush implements server.Store.
func (l *Store) Flush(context.Context) error { return l.eng.DropAll() }

// DBCounts implements server.DBCounter: the engine's figures per key
// class (database), or every key in database 0 when it keeps no classes.
func (l *Store) DBCounts(context.Context) ([]store.DBCount, error) {
	now := l.now().UnixMilli()
	cs, err := l.eng.ClassCounts(now)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		n, err := l.eng.Count(now)
		return []store.DBCount{{Keys: n}}, err
	}
	out := make([]store.DBCount, len(cs))
	for i, c := range cs {
		out[i] = store.DBCount{Keys: c.Keys, Expires: c.Expires, ExpireSum: c.ExpireSum}
	}
	return out, nil
}

// Scan implements server.Scanner: a page of the engine's live keys from
// the cursor's token position (cursor << engine.PageBits), at least
// count records (or to the end).
func (l *Store) Scan(_ context.Context, cursor uint64, count int) ([][]byte, uint64, error) {
	if cursor >= 1<<(64-engine.PageBits) {
		return nil, 0, nil // past the end: no cursor of ours
	}
	now := l.now().UnixMilli()
	var keys [][]byte
	next, more, err := l.eng.ScanPage(engine.Span{Start: cursor << engine.PageBits}, count, func(k []byte, r engine.Record) error {
		if !r.Tombstone && (r.ExpireAt == 0 || r.ExpireAt > now) {
			keys = append(keys, bytes.Clone(k))
		}
		return nil
	})
	if err != nil || !more {
		return keys, 0, err
	}
	return keys, next >> engine.PageBits, nil
}

// InfoSections implements server.InfoProvider with the engine's figures.
func (l *Store) InfoSections() []store.InfoSection {
	return EngineInfo(l.eng)
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// A single node is the whole cluster: it is the only member, alive, owns
// every key and holds all of the keyspace. It has no ring, so it reports 0
// virtual nodes.

// Nodes implements server.ClusterView with this node alone.
func (l *Store) Nodes() []store.NodeInfo {
	n := l.node.Load()
	return []store.NodeInfo{{ID: n.id, ClientAddr: n.clientAddr, State: "alive", VNodes: 0, Share: 1}}
}

// Owners implements server.ClusterView: every key is this node's.
func (l *Store) Owners([]byte) []string { return []string{l.node.Load().id} }

// LocalGet implements server.ClusterView with the engine's record as
// stored: tombstones and expired records included.
func (l *Store) LocalGet(ctx context.Context, key []byte) (store.LocalRecord, bool, error) {
	return Lookup(ctx, l.eng, key)
}

// Lookup is RINGCACHE LOCALGET, on one node or on a cluster member (whose
// Node answers with it too): the record eng stores under key, tombstones
// and expired records included (a tombstone with no value), with no
// quorum.
func Lookup(ctx context.Context, eng *engine.Engine, key []byte) (store.LocalRecord, bool, error) {
	if err := ctx.Err(); err != nil {
		return store.LocalRecord{}, false, err
	}
	r, ok, err := eng.Lookup(key)
	if err != nil || !ok {
		return store.LocalRecord{}, false, err
	}
	rec := store.LocalRecord{Version: r.Version.String(), ExpireAt: r.ExpireAt, Tombstone: r.Tombstone}
	if !r.Tombstone {
		rec.Value = r.Value
	}
	return rec, true, nil
}

// EngineInfo is the INFO "Engine" section, on one node or on a cluster
// member: every figure of the engine's
// Stats, as engine_<name>.
func EngineInfo(eng *engine.Engine) []store.InfoSection {
	stats := eng.Stats().Numbers()
	fields := make([][2]string, len(stats))
	for i, st := range stats {
		fields[i] = [2]string{"engine_" + st.Name, strconv.FormatFloat(st.Value, 'f', -1, 64)}
	}
	return []store.InfoSection{{Name: "Engine", Fields: fields}}
}
