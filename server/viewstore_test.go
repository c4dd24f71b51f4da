package server

import (
	"context"
	"sync"

	"github.com/ringcache/ringcache/server/store"
)

// viewStore is a memStore that also implements ClusterView and
// InfoProvider with canned answers, for the RINGCACHE and INFO tests.
type viewStore struct {
	*memStore
	nodes   []store.NodeInfo
	owners  map[string][]string
	records map[string]store.LocalRecord
	info    []store.InfoSection
	// localErr, when set, is LocalGet's error.
	localErr error

	mu struct {
		sync.Mutex
		localCtxs []context.Context // the context of every LocalGet
	}
}

func newViewStore() *viewStore {
	return &viewStore{memStore: newMemStore(nil), owners: map[string][]string{}, records: map[string]store.LocalRecord{}}
}

func (v *viewStore) Nodes() []store.NodeInfo { return v.nodes }

func (v *viewStore) Owners(key []byte) []string { return v.owners[string(key)] }

func (v *viewStore) LocalGet(ctx context.Context, key []byte) (store.LocalRecord, bool, error) {
	v.mu.Lock()
	v.mu.localCtxs = append(v.mu.localCtxs, ctx)
	v.mu.Unlock()
	if v.localErr != nil {
		return store.LocalRecord{}, false, v.localErr
	}
	r, ok := v.records[string(key)]
	return r, ok, nil
}

func (v *viewStore) InfoSections() []store.InfoSection { return v.info }

func (v *viewStore) lastLocalCtx() context.Context {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.mu.localCtxs) == 0 {
		return nil
	}
	return v.mu.localCtxs[len(v.mu.localCtxs)-1]
}

var (
	_ ClusterView  = (*viewStore)(nil)
	_ InfoProvider = (*viewStore)(nil)
)
