package replica

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/ringcache/ringcache/antientropy"
	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
)

// Remote is a peer reached through the replica transport: one
// OpApply or OpRead request per batch, whatever its flags. It implements
// Replica.
type Remote struct {
	c transport.Caller
}

// NewRemote returns the replica behind c (a *transport.Client, or
// a wrapper around one).
func NewRemote(c transport.Caller) *Remote { return &Remote{c: c} }

// Apply implements Replica with OpApply. A record the peer reports as
// superseded (it holds a newer version) is a success, reported in newer.
func (r *Remote) Apply(ctx context.Context, req ApplyRequest) ([]engine.Version, error) {
	h := transport.ApplyHeader{Hint: req.Hint, From: req.From, Noted: req.Noted, Epoch: req.Epoch}
	resp, err := r.c.Call(ctx, transport.OpApply, transport.AppendApplyRequest(nil, h, req.Keys, req.Recs))
	if err != nil {
		return nil, err
	}
	return transport.DecodeApplyResponse(resp, len(req.Keys))
}

// Read implements Replica with OpRead. Record values alias the response
// buffer, which is not reused.
func (r *Remote) Read(ctx context.Context, req ReadRequest) (ReadReply, error) {
	resp, err := r.c.Call(ctx, transport.OpRead, transport.AppendReadRequest(nil, transport.ReadHeader{Hint: req.Hint, Epoch: req.Epoch}, req.Keys))
	if err != nil {
		return ReadReply{}, err
	}
	recs, found, behind, err := transport.DecodeReadResponse(resp, len(req.Keys))
	if err != nil {
		return ReadReply{}, err
	}
	return ReadReply{Recs: recs, Found: found, Behind: behind}, nil
}

// Scan implements Replica with transport.OpScan. Keys alias the
// response buffer, which is not reused.
func (r *Remote) Scan(ctx context.Context, req ScanRequest) (ScanReply, error) {
	resp, err := r.c.Call(ctx, transport.OpScan, transport.AppendScanRequest(nil, req))
	if err != nil {
		return ScanReply{}, err
	}
	return transport.DecodeScanResponse(resp)
}

// Count implements Replica with transport.OpNodeCount.
func (r *Remote) Count(ctx context.Context) (int64, error) {
	resp, err := r.c.Call(ctx, transport.OpNodeCount, nil)
	if err != nil {
		return 0, err
	}
	if len(resp) != 8 {
		return 0, fmt.Errorf("cluster: count response of %d bytes: %w", len(resp), transport.ErrMalformed)
	}
	return int64(binary.BigEndian.Uint64(resp)), nil
}

// ClassCounts implements Replica with transport.OpNodeClassCounts.
func (r *Remote) ClassCounts(ctx context.Context) ([]engine.ClassCount, error) {
	resp, err := r.c.Call(ctx, transport.OpNodeClassCounts, nil)
	if err != nil {
		return nil, err
	}
	return transport.DecodeClassCounts(resp)
}

// DropAll implements Replica with transport.OpNodeDropAll.
func (r *Remote) DropAll(ctx context.Context, floor engine.Version) error {
	_, err := r.c.Call(ctx, transport.OpNodeDropAll, transport.AppendFloor(nil, floor))
	return err
}

// NewHandler returns the transport handler that serves this
// node's replica to peers: OpPing (the clock of now, nil: time.Now),
// OpApply, OpRead and OpScan, OpNodeCount and OpNodeDropAll, OpHintsFor, and the
// peer's side of the anti-entropy exchange.
func NewHandler(l *Local, now func() time.Time) *transport.Mux {
	m := transport.NewMux()
	m.Handle(transport.OpPing, transport.PingHandler(now))
	m.Handle(transport.OpApply, transport.HandlerFunc(func(ctx context.Context, _ uint8, p []byte) ([]byte, error) {
		h, keys, recs, err := transport.DecodeApplyRequest(p)
		if err != nil {
			return nil, err
		}
		newer, err := l.Apply(ctx, ApplyRequest{Keys: keys, Recs: recs, Hint: h.Hint, From: h.From, Noted: h.Noted, Epoch: h.Epoch})
		if err != nil {
			return nil, err
		}
		return transport.AppendApplyResponse(nil, len(keys), newer), nil
	}))
	m.Handle(transport.OpRead, transport.HandlerFunc(func(ctx context.Context, _ uint8, p []byte) ([]byte, error) {
		h, keys, err := transport.DecodeReadRequest(p)
		if err != nil {
			return nil, err
		}
		r, err := l.Read(ctx, ReadRequest{Keys: keys, Hint: h.Hint, Epoch: h.Epoch})
		if err != nil {
			return nil, err
		}
		return transport.AppendReadResponse(nil, r.Recs, r.Found, r.Behind), nil
	}))
	m.Handle(transport.OpScan, transport.HandlerFunc(func(ctx context.Context, _ uint8, p []byte) ([]byte, error) {
		req, err := transport.DecodeScanRequest(p)
		if err != nil {
			return nil, err
		}
		r, err := l.Scan(ctx, req)
		if err != nil {
			return nil, err
		}
		return transport.AppendScanResponse(nil, r), nil
	}))
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
	m.Handle(transport.OpNodeClassCounts, transport.HandlerFunc(func(ctx context.Context, _ uint8, _ []byte) ([]byte, error) {
		cs, err := l.ClassCounts(ctx)
		if err != nil {
			return nil, err
		}
		return transport.AppendClassCounts(nil, cs), nil
	}))
	m.Handle(transport.OpNodeDropAll, transport.HandlerFunc(func(ctx context.Context, _ uint8, p []byte) ([]byte, error) {
		floor, err := transport.DecodeFloor(p)
		if err != nil {
			return nil, err
		}
		return nil, l.DropAll(ctx, floor)
	}))
	m.Handle(transport.OpHintsFor, transport.HandlerFunc(func(ctx context.Context, _ uint8, p []byte) ([]byte, error) {
		if len(p) == 0 || len(p) > 255 {
			return nil, fmt.Errorf("cluster: hints-for target: %w", transport.ErrMalformed)
		}
		l.asked(string(p))
		q := l.eng.HintQueue(string(p))
		return transport.AppendHintsForResponse(nil, q.Count, l.eng.LiveRecords() > 0), nil
	}))
	return m
}
