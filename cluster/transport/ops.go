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
//	48-63    node-wide operations (DBSIZE, FLUSHALL)
//	64-255   unassigned
//
// Every operation code of the replica transport is declared here, in one
// place, whichever package serves it (this one, cluster, antientropy), so
// that no two features can take the same code; Mux.Handle panics if a
// code is registered twice.
const (
	// OpPing asks for the peer's wall clock; see Ping.
	OpPing uint8 = 1
	// OpApply applies a batch of records; see Apply.
	OpApply uint8 = 2
	// OpRead reads a batch of records; see Read.
	OpRead uint8 = 3
)

// Sloppy quorum and hinted handoff (cluster), in the hinted handoff range.
const (
	// OpApplyHinted asks the peer to keep records as hints for an owner
	// that is down. Payload: uvarint length + target id, then an OpApply
	// request; the answer is an OpApply response.
	OpApplyHinted uint8 = 16
	// OpApplyNoted is OpApply for an owner whose fellow owner is being
	// replaced: the peer also notes the keys for anti-entropy.
	OpApplyNoted uint8 = 17
	// OpReadHinted reads the hints the peer holds for an owner it stands
	// in for. Payload: uvarint length + target id, then an OpRead
	// request; the answer is an OpRead response.
	OpReadHinted uint8 = 18
	// OpDeliverHints is OpApply for hints a holder hands to their target:
	// the target learns that the holder has hints for it and counts
	// itself behind until the holder has none left (catchup.go).
	// Payload: uvarint length + holder id, then an OpApply request.
	OpDeliverHints uint8 = 20
	// OpHintsFor asks a peer how many hints it holds for the caller and
	// whether it holds data of its own (cluster's catch-up). Payload: the
	// caller's node id. Answer: the hint count (uvarint), then one byte, 1
	// if the peer stores live records.
	OpHintsFor uint8 = 19
)

// Anti-entropy's exchange (antientropy), in its range.
const (
	// OpRoots answers a RootsRequest with a RootsResponse.
	OpRoots uint8 = 32
	// OpNodes answers a NodesRequest with a NodesResponse.
	OpNodes uint8 = 33
	// OpEntries answers an EntriesRequest with an EntriesResponse whose
	// entries carry no Size, as nodes before OpEntriesSized expect.
	OpEntries uint8 = 34
	// OpEntriesSized is OpEntries with every entry's Size, by which the
	// asking side sizes its pull requests. A peer that answers it with
	// transport.ErrUnknownOp is asked with OpEntries instead.
	OpEntriesSized uint8 = 35
)

// Node-wide operations (DBSIZE, FLUSHALL; cluster), in the unassigned
// range.
const (
	// OpNodeCount returns the peer's live record count (8 bytes BE).
	OpNodeCount uint8 = 48
	// OpNodeDropAll makes the peer drop every record.
	OpNodeDropAll uint8 = 49
)

// Mux is a Handler that dispatches on the operation code. Register every
// operation with Handle before the Server starts; Mux is not safe for
// concurrent Handle and Serve.
type Mux struct {
	handlers [256]Handler
}

// NewMux returns an empty Mux; every operation answers ErrUnknownOp.
func NewMux() *Mux { return &Mux{} }

// Handle registers h for op. It panics if op already has a handler: two
// features must never share an operation code.
func (m *Mux) Handle(op uint8, h Handler) {
	if m.handlers[op] != nil {
		panic(fmt.Sprintf("transport: operation %d registered twice", op))
	}
	m.handlers[op] = h
}

// Serve implements Handler.
func (m *Mux) Serve(ctx context.Context, op uint8, payload []byte) ([]byte, error) {
	h := m.handlers[op]
	if h == nil {
		return nil, fmt.Errorf("%w: %d", ErrUnknownOp, op)
	}
	return h.Serve(ctx, op, payload)
}
