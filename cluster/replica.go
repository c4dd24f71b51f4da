package cluster

import (
	"context"

	"github.com/ringcache/ringcache/engine"
)

// Placement maps a key's token (engine.Token: the key's xxhash64) to its
// replicas. It is an immutable snapshot of the ring; on a membership
// change the owner builds a new one and calls Coordinator.SetPlacement.
type Placement interface {
	// AppendPreference appends to dst the ids of the first n distinct
	// nodes that hold token, in preference order, and returns the
	// extended slice. Fewer than n when the cluster has fewer nodes.
	AppendPreference(dst []string, token uint64, n int) []string
}

// Replica is one node's store as the coordinator sees it: the local
// engine, or a peer behind the transport. Both methods take batches, one
// call per replica per request, and must return once ctx is done.
type Replica interface {
	// Apply stores recs[i] under keys[i] with last-write-wins. A nil
	// error acknowledges every record (a record that lost to a newer
	// stored version is acknowledged too: the replica holds newer data).
	Apply(ctx context.Context, keys [][]byte, recs []engine.Record) error
	// Read returns the stored record of every key, tombstones and expired
	// records included, with found[i] false where nothing is stored. The
	// caller owns the returned slices and may modify them.
	Read(ctx context.Context, keys [][]byte) (recs []engine.Record, found []bool, err error)
}

// Peers resolves a node id (from a Placement or Members) to its Replica.
// The local node's id resolves to the engine-backed replica.
type Peers func(id string) (Replica, bool)

// Members lists the nodes that DBSIZE and FLUSHALL address: every member
// the node believes is part of the cluster, itself included.
type Members interface {
	MemberIDs() []string
}

// MembersFunc adapts a function to Members.
type MembersFunc func() []string

// MemberIDs implements Members.
func (f MembersFunc) MemberIDs() []string { return f() }

// NodeAdmin is implemented by replicas that answer for their whole node
// (DBSIZE, FLUSHALL). The coordinator finds it by type assertion, as
// database/sql finds optional driver interfaces.
type NodeAdmin interface {
	// Count returns the node's number of live records.
	Count(ctx context.Context) (int64, error)
	// DropAll deletes every record the node stores.
	DropAll(ctx context.Context) error
}
