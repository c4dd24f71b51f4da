package transport

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"
)

// Replica is what a node serves to its peers: the storage side of OpApply
// and OpRead. The cluster package implements it over the local engine.
type Replica interface {
	// ApplyBatch applies each record with last-write-wins and returns one
	// result per item, in order. A returned error fails the whole request.
	ApplyBatch(ctx context.Context, items []ApplyItem) ([]ApplyResult, error)
	// ReadBatch returns one result per key, in order, tombstones and
	// expired records included (the coordinator resolves versions).
	ReadBatch(ctx context.Context, keys [][]byte) ([]ReadResult, error)
}

// NewReplicaMux returns a Mux serving OpPing from now (nil: time.Now) and
// OpApply and OpRead from r. Later operations are added with Handle.
func NewReplicaMux(r Replica, now func() time.Time) *Mux {
	if now == nil {
		now = time.Now
	}
	m := NewMux()
	m.Handle(OpPing, HandlerFunc(func(context.Context, uint8, []byte) ([]byte, error) {
		return binary.BigEndian.AppendUint64(nil, uint64(now().UnixMilli())), nil
	}))
	m.Handle(OpApply, HandlerFunc(func(ctx context.Context, _ uint8, p []byte) ([]byte, error) {
		items, err := DecodeApplyRequest(p)
		if err != nil {
			return nil, err
		}
		res, err := r.ApplyBatch(ctx, items)
		if err != nil {
			return nil, err
		}
		if len(res) != len(items) {
			return nil, fmt.Errorf("transport: replica returned %d results for %d items", len(res), len(items))
		}
		return AppendApplyResponse(nil, res), nil
	}))
	m.Handle(OpRead, HandlerFunc(func(ctx context.Context, _ uint8, p []byte) ([]byte, error) {
		keys, err := DecodeReadRequest(p)
		if err != nil {
			return nil, err
		}
		res, err := r.ReadBatch(ctx, keys)
		if err != nil {
			return nil, err
		}
		if len(res) != len(keys) {
			return nil, fmt.Errorf("transport: replica returned %d results for %d keys", len(res), len(keys))
		}
		return AppendReadResponse(nil, res), nil
	}))
	return m
}

// Apply sends items to a replica in one OpApply request and returns one
// result per item, in order.
func Apply(ctx context.Context, c Caller, items []ApplyItem) ([]ApplyResult, error) {
	resp, err := c.Call(ctx, OpApply, AppendApplyRequest(nil, items))
	if err != nil {
		return nil, err
	}
	res, err := DecodeApplyResponse(resp)
	if err != nil {
		return nil, err
	}
	if len(res) != len(items) {
		return nil, fmt.Errorf("%w: %d apply results for %d items", ErrMalformed, len(res), len(items))
	}
	return res, nil
}

// Read asks a replica for keys in one OpRead request and returns one
// result per key, in order. Record values alias the response buffer,
// which is not reused.
func Read(ctx context.Context, c Caller, keys [][]byte) ([]ReadResult, error) {
	resp, err := c.Call(ctx, OpRead, AppendReadRequest(nil, keys))
	if err != nil {
		return nil, err
	}
	res, err := DecodeReadResponse(resp)
	if err != nil {
		return nil, err
	}
	if len(res) != len(keys) {
		return nil, fmt.Errorf("%w: %d read results for %d keys", ErrMalformed, len(res), len(keys))
	}
	return res, nil
}

// PingResult is a peer's clock reading and the round trip that carried it.
type PingResult struct {
	// PeerMs is the peer's wall clock in Unix milliseconds.
	PeerMs int64
	// RTT is the round-trip time of the ping.
	RTT time.Duration
	// Offset estimates how far the peer's clock is ahead of ours (negative:
	// behind), assuming the reading was taken halfway through the round
	// trip; its error is at most RTT/2 plus a millisecond of rounding.
	Offset time.Duration
}

// Ping asks the peer for its wall clock, the input to clock-skew checks.
func Ping(ctx context.Context, c Caller) (PingResult, error) {
	start := time.Now()
	resp, err := c.Call(ctx, OpPing, nil)
	rtt := time.Since(start)
	if err != nil {
		return PingResult{}, err
	}
	if len(resp) != 8 {
		return PingResult{}, fmt.Errorf("%w: ping response of %d bytes", ErrMalformed, len(resp))
	}
	peer := int64(binary.BigEndian.Uint64(resp))
	mid := start.Add(rtt / 2).UnixMilli()
	return PingResult{PeerMs: peer, RTT: rtt, Offset: time.Duration(peer-mid) * time.Millisecond}, nil
}
