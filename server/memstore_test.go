package server

import (
	"context"
	"sync"
	"time"

	"github.com/ringcache/ringcache/server/store"
)

// memStore is an in-memory Store for tests with the same visible
// semantics as the real stores: expired items are not Found and do not
// count in Len. It copies keys and values, so callers may reuse buffers.
type memStore struct {
	now func() time.Time

	mu   sync.Mutex
	data map[string]store.Item // guarded by mu; deletes keep a Version
	// writes stamps each write's Version (guarded by mu).
	writes int64

	// getHook and putHook, when set, run before Get/Put (fault injection).
	getHook func(keys [][]byte) error
	putHook func(muts []store.Mutation) error
	// ctxHook, when set, sees the context of every call, named by op
	// ("get", "put", "len", "flush").
	ctxHook func(op string, ctx context.Context)
}

func (m *memStore) sawCtx(op string, ctx context.Context) {
	if m.ctxHook != nil {
		m.ctxHook(op, ctx)
	}
}

func newMemStore(now func() time.Time) *memStore {
	if now == nil {
		now = time.Now
	}
	return &memStore{now: now, data: map[string]store.Item{}}
}

func (m *memStore) live(it store.Item, nowMs int64) bool {
	return it.Found && (it.ExpireAt == 0 || it.ExpireAt > nowMs)
}

func (m *memStore) Get(ctx context.Context, keys [][]byte) ([]store.Item, error) {
	m.sawCtx("get", ctx)
	if m.getHook != nil {
		if err := m.getHook(keys); err != nil {
			return nil, err
		}
	}
	nowMs := m.now().UnixMilli()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]store.Item, len(keys))
	for i, k := range keys {
		if it, ok := m.data[string(k)]; ok && m.live(it, nowMs) {
			out[i] = it
		} else if ok {
			out[i] = store.Item{Version: it.Version}
		}
	}
	return out, nil
}

func (m *memStore) Put(ctx context.Context, muts []store.Mutation) error {
	m.sawCtx("put", ctx)
	if m.putHook != nil {
		if err := m.putHook(muts); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, mu := range muts {
		m.writes++
		v := store.Version{Wall: m.writes}
		if mu.Delete {
			m.data[string(mu.Key)] = store.Item{Version: v}
			continue
		}
		m.data[string(mu.Key)] = store.Item{
			Value:    append([]byte{}, mu.Value...),
			ExpireAt: mu.ExpireAt,
			Found:    true,
			Version:  v,
		}
	}
	return nil
}

func (m *memStore) Len(ctx context.Context) (int64, error) {
	m.sawCtx("len", ctx)
	nowMs := m.now().UnixMilli()
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for _, it := range m.data {
		if m.live(it, nowMs) {
			n++
		}
	}
	return n, nil
}

func (m *memStore) Flush(ctx context.Context) error {
	m.sawCtx("flush", ctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data = map[string]store.Item{}
	return nil
}
