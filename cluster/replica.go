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
	// error acknowledges every record; a record that lost to a newer
	// stored version is acknowledged too (the replica holds newer data),
	// and newer tells which: nil when none did, else newer[i] is the
	// version stored under keys[i] where it is newer than recs[i]'s (zero
	// elsewhere). A writer uses it to stamp its write again above that
	// version; repair and handoff ignore it.
	Apply(ctx context.Context, keys [][]byte, recs []engine.Record) (newer []engine.Version, err error)
	// Read returns the stored record of every key, tombstones and expired
	// records included (ReadReply). The caller owns the returned slices
	// and may modify them.
	Read(ctx context.Context, keys [][]byte) (ReadReply, error)
}

// ApplyReply is the outcome of an asynchronous apply: Replica.Apply's two
// results.
type ApplyReply struct {
	Newer []engine.Version
	Err   error
}

// ReadReply is a replica's answer to a read of some keys.
type ReadReply struct {
	// Recs[i] is the record stored under keys[i]; Found[i] is false where
	// nothing is.
	Recs  []engine.Record
	Found []bool
	// Behind reports that the replica knows it may lack recent writes: it
	// is back from an outage and hints for it are still being delivered,
	// or it lost its data and has not been repaired yet. Its records take
	// part in choosing the newest version, but it is not counted as one
	// of the replies a quorum read waits for.
	Behind bool
}

// AsyncReplica is implemented by replicas that answer without holding
// the caller's goroutine (BatchingReplica); the coordinator finds it by
// type assertion and then needs no goroutine per replica call. The
// callback runs exactly once, on another goroutine, once the call is
// answered or failed, at the latest when its context ends, and must not
// block.
type AsyncReplica interface {
	ApplyAsync(ctx context.Context, keys [][]byte, recs []engine.Record, done func(ApplyReply))
	ReadAsync(ctx context.Context, keys [][]byte, done func(ReadReply, error))
}

// SloppyReplica is implemented by replicas that take part in sloppy
// quorum; the coordinator finds it by type assertion.
type SloppyReplica interface {
	// ApplyHinted keeps recs as hints for target, an owner of the keys
	// that is down: the replica answers reads with them and hands them to
	// target once it is back. A nil error acknowledges every record as
	// durably as Apply does, and newer reports the records that lost to a
	// newer hint held for target, as Apply does; a replica that cannot
	// keep them (hinted handoff off, window passed, queue full) returns an
	// error wrapping ErrNoHints.
	ApplyHinted(ctx context.Context, target string, keys [][]byte, recs []engine.Record) (newer []engine.Version, err error)
	// ApplyNoted is Apply for an owner whose fellow owner of these keys is
	// being replaced by a substitute: the replica also notes the keys'
	// token ranges as dirty, so that anti-entropy checks them first should
	// the substitute's hints be lost.
	ApplyNoted(ctx context.Context, keys [][]byte, recs []engine.Record) (newer []engine.Version, err error)
	// ReadHinted reads the hints the replica holds, as a stand-in for
	// target (an owner of the keys): Found[i] reports a hint for keys[i]
	// (for any of its owners). A stand-in's answer counts toward a read
	// quorum only for the keys it holds hints for: of the others it knows
	// nothing.
	ReadHinted(ctx context.Context, target string, keys [][]byte) (ReadReply, error)
}

// HintHolder keeps records for an owner whose write call failed, to hand
// them over when it is back. The coordinator holds hints through it.
type HintHolder interface {
	Hold(target string, keys [][]byte, recs []engine.Record) error
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
