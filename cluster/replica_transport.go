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

// RemoteReplica is a peer reached through the replica transport: one
// OpApply or OpRead request per batch. It implements Replica and
// NodeAdmin.
type RemoteReplica struct {
	c transport.Caller
}

// NewRemoteReplica returns the replica behind c (a *transport.Client, or
// a wrapper around one).
func NewRemoteReplica(c transport.Caller) *RemoteReplica { return &RemoteReplica{c: c} }

// Apply implements Replica with OpApply. A record the peer reports as
// superseded (it holds a newer version) is a success, reported in newer;
// any per-record error fails the batch.
func (r *RemoteReplica) Apply(ctx context.Context, keys [][]byte, recs []engine.Record) ([]engine.Version, error) {
	return r.applyOp(ctx, transport.OpApply, nil, keys, recs)
}

// ApplyHinted implements SloppyReplica with transport.OpApplyHinted.
func (r *RemoteReplica) ApplyHinted(ctx context.Context, target string, keys [][]byte, recs []engine.Record) ([]engine.Version, error) {
	payload := binary.AppendUvarint(nil, uint64(len(target)))
	payload = append(payload, target...)
	return r.applyOp(ctx, transport.OpApplyHinted, payload, keys, recs)
}

// DeliverHints applies hints this node (holder) held for the peer, with
// transport.OpDeliverHints. A newer version held by the peer is no failure.
func (r *RemoteReplica) DeliverHints(ctx context.Context, holder string, keys [][]byte, recs []engine.Record) error {
	payload := binary.AppendUvarint(nil, uint64(len(holder)))
	payload = append(payload, holder...)
	_, err := r.applyOp(ctx, transport.OpDeliverHints, payload, keys, recs)
	return err
}

// ApplyNoted implements SloppyReplica with transport.OpApplyNoted.
func (r *RemoteReplica) ApplyNoted(ctx context.Context, keys [][]byte, recs []engine.Record) ([]engine.Version, error) {
	return r.applyOp(ctx, transport.OpApplyNoted, nil, keys, recs)
}

// applyOp sends an apply request under op, after prefix, and returns the
// newer versions the peer reported (nil if none).
func (r *RemoteReplica) applyOp(ctx context.Context, op uint8, prefix []byte, keys [][]byte, recs []engine.Record) ([]engine.Version, error) {
	items := make([]transport.ApplyItem, len(keys))
	for i := range keys {
		items[i] = transport.ApplyItem{Key: keys[i], Record: recs[i]}
	}
	resp, err := r.c.Call(ctx, op, transport.AppendApplyRequest(prefix, items))
	if err != nil {
		return nil, err
	}
	res, err := transport.DecodeApplyResponse(resp)
	if err != nil {
		return nil, err
	}
	if len(res) != len(items) {
		return nil, fmt.Errorf("cluster: %d apply results for %d items: %w", len(res), len(items), transport.ErrMalformed)
	}
	var newer []engine.Version
	for i := range res {
		if res[i].Err != nil {
			return nil, fmt.Errorf("cluster: apply %q: %w", keys[i], res[i].Err)
		}
		if !res[i].Applied && !res[i].Newer.IsZero() {
			if newer == nil {
				newer = make([]engine.Version, len(res))
			}
			newer[i] = res[i].Newer
		}
	}
	return newer, nil
}

// Read implements Replica.
func (r *RemoteReplica) Read(ctx context.Context, keys [][]byte) (ReadReply, error) {
	res, err := transport.Read(ctx, r.c, keys)
	if err != nil {
		return ReadReply{}, err
	}
	return readReply(res), nil
}

// ReadHinted implements SloppyReplica with transport.OpReadHinted.
func (r *RemoteReplica) ReadHinted(ctx context.Context, target string, keys [][]byte) (ReadReply, error) {
	payload := binary.AppendUvarint(nil, uint64(len(target)))
	payload = append(payload, target...)
	resp, err := r.c.Call(ctx, transport.OpReadHinted, transport.AppendReadRequest(payload, keys))
	if err != nil {
		return ReadReply{}, err
	}
	res, err := transport.DecodeReadResponse(resp)
	if err != nil {
		return ReadReply{}, err
	}
	if len(res) != len(keys) {
		return ReadReply{}, fmt.Errorf("cluster: %d hinted read results for %d keys: %w", len(res), len(keys), transport.ErrMalformed)
	}
	return readReply(res), nil
}

// readReply turns transport read results into a ReadReply; the replica is
// Behind if it said so for any key.
func readReply(res []transport.ReadResult) ReadReply {
	r := ReadReply{Recs: make([]engine.Record, len(res)), Found: make([]bool, len(res))}
	for i := range res {
		r.Recs[i], r.Found[i] = res[i].Record, res[i].Found
		r.Behind = r.Behind || res[i].Behind
	}
	return r
}

// readResults turns a ReadReply into transport read results.
func readResults(r ReadReply) []transport.ReadResult {
	res := make([]transport.ReadResult, len(r.Recs))
	for i := range res {
		res[i] = transport.ReadResult{Found: r.Found[i], Behind: r.Behind, Record: r.Recs[i]}
	}
	return res
}

// Count implements NodeAdmin with transport.OpNodeCount.
func (r *RemoteReplica) Count(ctx context.Context) (int64, error) {
	resp, err := r.c.Call(ctx, transport.OpNodeCount, nil)
	if err != nil {
		return 0, err
	}
	if len(resp) != 8 {
		return 0, fmt.Errorf("cluster: count response of %d bytes: %w", len(resp), transport.ErrMalformed)
	}
	return int64(binary.BigEndian.Uint64(resp)), nil
}

// DropAll implements NodeAdmin with transport.OpNodeDropAll.
func (r *RemoteReplica) DropAll(ctx context.Context) error {
	_, err := r.c.Call(ctx, transport.OpNodeDropAll, nil)
	return err
}

// NewReplicaHandler returns the transport handler that serves this
// node's replica to peers: OpPing, OpApply and OpRead (through
// transport.NewReplicaMux), transport.OpNodeCount, transport.OpNodeDropAll, the sloppy quorum
// operations, and the peer's side of the anti-entropy exchange. now is
// the clock OpPing reports (nil: time.Now).
func NewReplicaHandler(l *LocalReplica, now func() time.Time) *transport.Mux {
	m := transport.NewReplicaMux(l, now)
	svc := antientropy.NewService(l.eng)
	for _, op := range antientropy.Ops() {
		m.Handle(op, transport.HandlerFunc(svc.Serve))
	}
	m.Handle(transport.OpNodeCount, transport.HandlerFunc(func(ctx context.Context, _ uint8, _ []byte) ([]byte, error) {
		n, err := l.Count(ctx)
		if err != nil {
			return nil, err
		}
		return binary.BigEndian.AppendUint64(nil, uint64(n)), nil
	}))
	m.Handle(transport.OpHintsFor, transport.HandlerFunc(func(ctx context.Context, _ uint8, p []byte) ([]byte, error) {
		if len(p) == 0 || len(p) > 255 {
			return nil, fmt.Errorf("cluster: hints-for target: %w", transport.ErrMalformed)
		}
		l.asked(string(p))
		q := l.eng.HintQueue(string(p))
		return appendHintsFor(nil, q.Count, l.eng.LiveRecords() > 0), nil
	}))
	m.Handle(transport.OpNodeDropAll, transport.HandlerFunc(func(ctx context.Context, _ uint8, _ []byte) ([]byte, error) {
		return nil, l.DropAll(ctx)
	}))
	m.Handle(transport.OpApplyHinted, transport.HandlerFunc(func(ctx context.Context, _ uint8, p []byte) ([]byte, error) {
		target, rest, err := decodeTarget(p)
		if err != nil {
			return nil, err
		}
		return serveApply(rest, func(keys [][]byte, recs []engine.Record) ([]engine.Version, error) {
			return l.ApplyHinted(ctx, target, keys, recs)
		})
	}))
	m.Handle(transport.OpDeliverHints, transport.HandlerFunc(func(ctx context.Context, _ uint8, p []byte) ([]byte, error) {
		holder, rest, err := decodeTarget(p)
		if err != nil {
			return nil, err
		}
		l.hintsFrom(holder)
		return serveApply(rest, func(keys [][]byte, recs []engine.Record) ([]engine.Version, error) {
			return l.Apply(ctx, keys, recs)
		})
	}))
	m.Handle(transport.OpReadHinted, transport.HandlerFunc(func(ctx context.Context, _ uint8, p []byte) ([]byte, error) {
		target, rest, err := decodeTarget(p)
		if err != nil {
			return nil, err
		}
		keys, err := transport.DecodeReadRequest(rest)
		if err != nil {
			return nil, err
		}
		r, err := l.ReadHinted(ctx, target, keys)
		if err != nil {
			return nil, err
		}
		return transport.AppendReadResponse(nil, readResults(r)), nil
	}))
	m.Handle(transport.OpApplyNoted, transport.HandlerFunc(func(ctx context.Context, _ uint8, p []byte) ([]byte, error) {
		return serveApply(p, func(keys [][]byte, recs []engine.Record) ([]engine.Version, error) {
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
// the answer: every item applied or superseded by the newer version the
// replica holds, or the error for the whole request.
func serveApply(p []byte, apply func(keys [][]byte, recs []engine.Record) ([]engine.Version, error)) ([]byte, error) {
	items, err := transport.DecodeApplyRequest(p)
	if err != nil {
		return nil, err
	}
	keys := make([][]byte, len(items))
	recs := make([]engine.Record, len(items))
	for i := range items {
		keys[i], recs[i] = items[i].Key, items[i].Record
	}
	newer, err := apply(keys, recs)
	if err != nil {
		return nil, err
	}
	return transport.AppendApplyResponse(nil, applyResults(len(items), newer)), nil
}

// applyResults turns Replica.Apply's newer into per-item results.
func applyResults(n int, newer []engine.Version) []transport.ApplyResult {
	res := make([]transport.ApplyResult, n)
	for i := range res {
		res[i].Applied = newer == nil || newer[i].IsZero()
		if !res[i].Applied {
			res[i].Newer = newer[i]
		}
	}
	return res
}

// ApplyBatch implements transport.Replica with one engine batch: an item
// is Applied unless the replica holds a newer version, which it reports.
// Both mean success to last-write-wins replication.
func (l *LocalReplica) ApplyBatch(ctx context.Context, items []transport.ApplyItem) ([]transport.ApplyResult, error) {
	keys := make([][]byte, len(items))
	recs := make([]engine.Record, len(items))
	for i := range items {
		keys[i], recs[i] = items[i].Key, items[i].Record
	}
	newer, err := l.Apply(ctx, keys, recs)
	if err != nil {
		return nil, err
	}
	return applyResults(len(items), newer), nil
}

// ReadBatch implements transport.Replica.
func (l *LocalReplica) ReadBatch(ctx context.Context, keys [][]byte) ([]transport.ReadResult, error) {
	r, err := l.Read(ctx, keys)
	if err != nil {
		return nil, err
	}
	return readResults(r), nil
}
