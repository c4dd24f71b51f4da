package transport

import (
	"context"
	"fmt"
)

// Operation codes. The framing does not interpret them, so later features
// add operations without a protocol version change. Ranges are reserved
// per feature so that codes stay stable as features land:
//
//	0        invalid
//	1-15     replica basics (ping, apply, read)
//	16-31    hinted handoff (hint delivery)
//	32-47    anti-entropy (Merkle tree exchange, range streaming)
//	48-255   unassigned
const (
	// OpPing asks for the peer's wall clock; see Ping.
	OpPing uint8 = 1
	// OpApply applies a batch of records; see Apply.
	OpApply uint8 = 2
	// OpRead reads a batch of records; see Read.
	OpRead uint8 = 3
)

// Mux is a Handler that dispatches on the operation code. Register every
// operation with Handle before the Server starts; Mux is not safe for
// concurrent Handle and Serve.
type Mux struct {
	handlers [256]Handler
}

// NewMux returns an empty Mux; every operation answers ErrUnknownOp.
func NewMux() *Mux { return &Mux{} }

// Handle registers h for op, replacing any previous handler. A nil h
// unregisters op.
func (m *Mux) Handle(op uint8, h Handler) { m.handlers[op] = h }

// Serve implements Handler.
func (m *Mux) Serve(ctx context.Context, op uint8, payload []byte) ([]byte, error) {
	h := m.handlers[op]
	if h == nil {
		return nil, fmt.Errorf("%w: %d", ErrUnknownOp, op)
	}
	return h.Serve(ctx, op, payload)
}
