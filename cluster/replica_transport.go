package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
)

// Node-wide operations (DBSIZE, FLUSHALL) on the replica transport, in
// its unassigned range of operation codes.
const (
	// OpNodeCount returns the peer's live record count (8 bytes BE).
	OpNodeCount uint8 = 48
	// OpNodeDropAll makes the peer drop every record.
	OpNodeDropAll uint8 = 49
)

// RemoteReplica is a peer reached through the replica transport: one
// OpApply or OpRead request per batch. It implements Replica and
// NodeAdmin.
type RemoteReplica struct {
	c transport.Caller
}

// NewRemoteReplica returns the replica behind c (a *transport.Client, or
// a wrapper around one).
func NewRemoteReplica(c transport.Caller) *RemoteReplica { return &RemoteReplica{c: c} }

// Apply implements Replica. A record the peer reports as superseded (it
// holds a newer version) is a success; any per-record error fails the
// batch.
func (r *RemoteReplica) Apply(ctx context.Context, keys [][]byte, recs []engine.Record) error {
	items := make([]transport.ApplyItem, len(keys))
	for i := range keys {
		items[i] = transport.ApplyItem{Key: keys[i], Record: recs[i]}
	}
	res, err := transport.Apply(ctx, r.c, items)
	if err != nil {
		return err
	}
	for i := range res {
		if res[i].Err != nil {
			return fmt.Errorf("cluster: apply %q: %w", keys[i], res[i].Err)
		}
	}
	return nil
}

// Read implements Replica.
func (r *RemoteReplica) Read(ctx context.Context, keys [][]byte) ([]engine.Record, []bool, error) {
	res, err := transport.Read(ctx, r.c, keys)
	if err != nil {
		return nil, nil, err
	}
	recs := make([]engine.Record, len(res))
	found := make([]bool, len(res))
	for i := range res {
		recs[i], found[i] = res[i].Record, res[i].Found
	}
	return recs, found, nil
}

// Count implements NodeAdmin with OpNodeCount.
func (r *RemoteReplica) Count(ctx context.Context) (int64, error) {
	resp, err := r.c.Call(ctx, OpNodeCount, nil)
	if err != nil {
		return 0, err
	}
	if len(resp) != 8 {
		return 0, fmt.Errorf("cluster: count response of %d bytes: %w", len(resp), transport.ErrMalformed)
	}
	return int64(binary.BigEndian.Uint64(resp)), nil
}

// DropAll implements NodeAdmin with OpNodeDropAll.
func (r *RemoteReplica) DropAll(ctx context.Context) error {
	_, err := r.c.Call(ctx, OpNodeDropAll, nil)
	return err
}

// NewReplicaHandler returns the transport handler that serves this
// node's replica to peers: OpPing, OpApply and OpRead (through
// transport.NewReplicaMux), plus OpNodeCount and OpNodeDropAll. now is
// the clock OpPing reports (nil: time.Now).
func NewReplicaHandler(l *LocalReplica, now func() time.Time) *transport.Mux {
	m := transport.NewReplicaMux(l, now)
	m.Handle(OpNodeCount, transport.HandlerFunc(func(ctx context.Context, _ uint8, _ []byte) ([]byte, error) {
		n, err := l.Count(ctx)
		if err != nil {
			return nil, err
		}
		return binary.BigEndian.AppendUint64(nil, uint64(n)), nil
	}))
	m.Handle(OpNodeDropAll, transport.HandlerFunc(func(ctx context.Context, _ uint8, _ []byte) ([]byte, error) {
		return nil, l.DropAll(ctx)
	}))
	return m
}

// ApplyBatch implements transport.Replica with one engine batch. The
// engine reports how many records replaced stored ones, not which: when
// all did, every item says Applied; otherwise every item says superseded.
// Both mean success to last-write-wins replication.
func (l *LocalReplica) ApplyBatch(ctx context.Context, items []transport.ApplyItem) ([]transport.ApplyResult, error) {
	keys := make([][]byte, len(items))
	recs := make([]engine.Record, len(items))
	for i := range items {
		keys[i], recs[i] = items[i].Key, items[i].Record
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	applied, err := l.eng.ApplyBatch(keys, recs)
	if err != nil {
		return nil, err
	}
	res := make([]transport.ApplyResult, len(items))
	for i := range res {
		res[i].Applied = applied == len(items)
	}
	return res, nil
}

// ReadBatch implements transport.Replica.
func (l *LocalReplica) ReadBatch(ctx context.Context, keys [][]byte) ([]transport.ReadResult, error) {
	recs, found, err := l.Read(ctx, keys)
	if err != nil {
		return nil, err
	}
	res := make([]transport.ReadResult, len(keys))
	for i := range res {
		res[i] = transport.ReadResult{Found: found[i], Record: recs[i]}
	}
	return res, nil
}
