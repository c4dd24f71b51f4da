package antientropy

import (
	"context"
	"fmt"

	"github.com/ringcache/ringcache/cluster/transport"
)

// Ops returns the operations a node serves with Service.
func Ops() []uint8 {
	return []uint8{transport.OpFloor, transport.OpRoots, transport.OpNodes, transport.OpEntries, transport.OpEntriesSized}
}

// maxServedLeaves bounds the leaves one EntriesRequest may name, so a
// peer cannot make this node scan and send everything in one answer.
const maxServedLeaves = 4096

// Service answers a peer's side of the exchange from the local store. Its
// Serve method has the transport handler's signature; the node registers
// it for each of Ops.
type Service struct {
	store Store
}

// NewService returns the service over store.
func NewService(store Store) *Service { return &Service{store: store} }

// Serve answers one exchange request.
func (s *Service) Serve(ctx context.Context, op uint8, payload []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch op {
	case transport.OpFloor:
		floor, err := transport.DecodeFloor(payload)
		if err != nil {
			return nil, err
		}
		if _, err := s.store.RaiseFloor(floor); err != nil {
			return nil, fmt.Errorf("antientropy: raise floor: %w", err)
		}
		return transport.AppendFloor(nil, s.store.Floor()), nil
	case transport.OpRoots:
		req, err := DecodeRootsRequest(payload)
		if err != nil {
			return nil, err
		}
		if len(req.Ranges) > rootsPerRequest {
			return nil, fmt.Errorf("%w: %d ranges in one request (limit %d)", ErrBadRequest, len(req.Ranges), rootsPerRequest)
		}
		ts, err := trees(s.store, req.Ranges)
		if err != nil {
			return nil, err
		}
		roots := make([]uint64, len(ts))
		for i, t := range ts {
			roots[i] = t.Root()
		}
		return AppendRootsResponse(nil, RootsResponse{Roots: roots}), nil
	case transport.OpNodes:
		req, err := DecodeNodesRequest(payload)
		if err != nil {
			return nil, err
		}
		t, err := tree(s.store, req.Range)
		if err != nil {
			return nil, err
		}
		hs, err := t.Hashes(req.Level, req.Indices)
		if err != nil {
			return nil, err
		}
		return AppendNodesResponse(nil, NodesResponse{Hashes: hs}), nil
	case transport.OpEntries, transport.OpEntriesSized:
		req, err := DecodeEntriesRequest(payload)
		if err != nil {
			return nil, err
		}
		if len(req.Leaves) > maxServedLeaves {
			return nil, fmt.Errorf("%w: %d leaves in one request (limit %d)", ErrBadRequest, len(req.Leaves), maxServedLeaves)
		}
		es, err := entries(s.store, req.Range, req.Leaves)
		if err != nil {
			return nil, err
		}
		if op == transport.OpEntries {
			for i := range es {
				es[i].Size = 0
			}
		}
		return AppendEntriesResponse(nil, EntriesResponse{Entries: es}), nil
	}
	return nil, fmt.Errorf("%w: operation %d", ErrBadRequest, op)
}
