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
	// OpPing asks for the peer's wall clock; see Ping and PingHandler.
	OpPing uint8 = 1
	// OpApply applies a batch of records: plain writes, hints kept for an
	// owner that is down, hints handed over by their holder, or an
	// owner's write noted for anti-entropy, as its header says
	// (AppendApplyRequest). The answer is an apply response.
	OpApply uint8 = 2
	// OpRead reads a batch of records, or the hints held for an owner as
	// its header says (AppendReadRequest). The answer is a read response.
	OpRead uint8 = 3
	// OpScan reads a page of the records of a token span, for SCAN
	// (AppendScanRequest). The answer is a scan response.
	OpScan uint8 = 4
)

// Hinted handoff (cluster), in its range. 16-18 and 20 were the hinted
// and noted variants of OpApply and OpRead, now flags of theirs.
const (
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
	// OpFloor exchanges flush floors, first in every exchange: the
	// request is the asking replica's floor (AppendFloor), the answer the
	// peer's, after it raised its own to the asker's if that was higher
	// (engine.Engine.RaiseFloor). A member a FLUSHALL missed so catches up
	// with it. A peer that answers transport.ErrUnknownOp keeps no floor
	// it could give.
	OpFloor uint8 = 36
)

// Node-wide operations (DBSIZE, FLUSHALL; cluster), in the unassigned
// range.
const (
	// OpNodeCount returns the peer's live record count (8 bytes BE).
	OpNodeCount uint8 = 48
	// OpNodeDropAll makes the peer drop every record. The request is the
	// flush floor (AppendFloor; empty from nodes before it: no floor).
	OpNodeDropAll uint8 = 49
	// OpNodeClassCounts returns the peer's figures per key class
	// (database): AppendClassCounts.
	OpNodeClassCounts uint8 = 50
)

// The cluster layout (cluster), in its range.
const (
	// OpLayoutMessage carries one consensus message (a raft message,
	// protobuf-encoded) to the member it is for. Answer: empty.
	OpLayoutMessage uint8 = 64
	// OpLayoutPropose asks a member of the layout's group to propose a
	// layout command (JSON) and answers once it was applied: empty, or
	// the error the layout refused it with.
	OpLayoutPropose uint8 = 65
	// OpLayoutEpoch asks for the layout epoch the peer's requests use
	// (8 bytes BE).
	OpLayoutEpoch uint8 = 66
	// OpLayoutTransfers asks for the peer's streaming of the topology
	// operation in progress (JSON: the cluster's StreamFigures).
	OpLayoutTransfers uint8 = 67
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

// Requests at a key's primary (cluster, for the RESP server), in the
// unassigned range.
const (
	// OpForward carries read-modify-write commands to their keys'
	// primary. The payload and the answer are the RESP server's own
	// encoding, opaque to the cluster (server.Router).
	OpForward uint8 = 80
)
