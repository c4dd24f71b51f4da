package cluster

import (
	"github.com/ringcache/ringcache/cluster/replica"
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

// HintHolder keeps records for an owner whose write call failed, to hand
// them over when it is back. The coordinator holds hints through it.
type HintHolder interface {
	Hold(target string, keys [][]byte, recs []engine.Record) error
}

// Peers resolves a node id (from a Placement or Members) to its Replica.
// The local node's id resolves to the engine-backed replica.
type Peers func(id string) (replica.Replica, bool)

// Members lists the nodes that DBSIZE and FLUSHALL address: every member
// the node believes is part of the cluster, itself included.
type Members interface {
	MemberIDs() []string
}

// MembersFunc adapts a function to Members.
type MembersFunc func() []string

// MemberIDs implements Members.
func (f MembersFunc) MemberIDs() []string { return f() }
