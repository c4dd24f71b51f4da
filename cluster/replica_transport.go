package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/ringcache/ringcache/antientropy"
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

// Sloppy quorum operations, in the transport's hinted handoff range.
const (
	// OpApplyHinted asks the peer to keep records as hints for an owner
	// that is down. Payload: uvarint length + target id, then an OpApply
	// request; the answer is an OpApply response.
	OpApplyHinted uint8 = 16
	// OpApplyNoted is OpApply for an owner whose fellow owner is being
	// replaced: the peer also notes the keys for anti-entropy.
	OpApplyNoted uint8 = 17
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

// ApplyHinted implements SloppyReplica with OpApplyHinted.
func (r *RemoteReplica) ApplyHinted(ctx context.Context, target string, keys [][]byte, recs []engine.Record) error {
	payload := binary.AppendUvarint(nil, uint64(len(target)))
	payload = append(payload, target...)
	return r.applyOp(ctx, OpApplyHinted, payload, keys, recs)
}

// ApplyNoted implements SloppyReplica with OpApplyNoted.
func (r *RemoteReplica) ApplyNoted(ctx context.Context, keys [][]byte, recs []engine.Record) error {
	return r.applyOp(ctx, OpApplyNoted, nil, keys, recs)
}

// applyOp sends an apply request under op, after prefix.
func (r *RemoteReplica) applyOp(ctx context.Context, op uint8, prefix []byte, keys [][]byte, recs []engine.Record) error {
	items := make([]transport.ApplyItem, len(keys))
	for i := range keys {
		items[i] = transport.ApplyItem{Key: keys[i], Record: recs[i]}
	}
	resp, err := r.c.Call(ctx, op, transport.AppendApplyRequest(prefix, items))
	if err != nil {
		return err
	}
	res, err := transport.DecodeApplyResponse(resp)
	if err != nil {
		return err
	}
	if len(res) != len(items) {
		return fmt.Errorf("cluster: %d apply results for %d items: %w", len(res), len(items), transport.ErrMalformed)
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
// transport.NewReplicaMux), OpNodeCount, OpNodeDropAll, the sloppy quorum
// operations, and the peer's side of the anti-entropy exchange. now is
// the clock OpPing reports (nil: time.Now).
func NewReplicaHandler(l *LocalReplica, now func() time.Time) *transport.Mux {
	m := transport.NewReplicaMux(l, now)
	svc := antientropy.NewService(l.eng)
	for _, op := range antientropy.Ops() {
		m.Handle(op, transport.HandlerFunc(svc.Serve))
	}
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
	m.Handle(OpApplyHinted, transport.HandlerFunc(func(ctx context.Context, _ uint8, p []byte) ([]byte, error) {
		target, rest, err := decodeTarget(p)
		if err != nil {
			return nil, err
		}
		return serveApply(rest, func(keys [][]byte, recs []engine.Record) error {
			return l.ApplyHinted(ctx, target, keys, recs)
		})
	}))
	m.Handle(OpApplyNoted, transport.HandlerFunc(func(ctx context.Context, _ uint8, p []byte) ([]byte, error) {
		return serveApply(p, func(keys [][]byte, recs []engine.Record) error {
			return l.ApplyNoted(ctx, keys, recs)
		})
	}))
	return m
}

// decodeTarget splits a hinted request into its target id and the rest.
func decodeTarget(p []byte) (string, []byte, error) {
	n, w := binary.Uvarint(p)
	if w <= 0 || n == 0 || n > 255 || uint64(len(p)-w) < n {
		return "", nil, fmt.Errorf("cluster: hinted apply target: %w", transport.ErrMalformed)
	}
	return string(p[w : w+int(n)]), p[w+int(n):], nil
}

// serveApply decodes an apply request, runs apply over it and encodes
// the answer: every item applied, or the error for the whole request.
func serveApply(p []byte, apply func(keys [][]byte, recs []engine.Record) error) ([]byte, error) {
	items, err := transport.DecodeApplyRequest(p)
	if err != nil {
		return nil, err
	}
	keys := make([][]byte, len(items))
	recs := make([]engine.Record, len(items))
	for i := range items {
		keys[i], recs[i] = items[i].Key, items[i].Record
	}
	if err := apply(keys, recs); err != nil {
		return nil, err
	}
	res := make([]transport.ApplyResult, len(items))
	for i := range res {
		res[i].Applied = true
	}
	return transport.AppendApplyResponse(nil, res), nil
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
