package transport

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"
)

// PingHandler answers OpPing with the wall clock of now (nil: time.Now),
// in Unix milliseconds.
func PingHandler(now func() time.Time) Handler {
	if now == nil {
		now = time.Now
	}
	return HandlerFunc(func(context.Context, uint8, []byte) ([]byte, error) {
		return binary.BigEndian.AppendUint64(nil, uint64(now().UnixMilli())), nil
	})
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
