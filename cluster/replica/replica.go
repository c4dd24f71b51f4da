package replica

import (
	"context"

	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
)

// Replica is one node's store as the coordinator sees it: the local
// engine, or a peer behind the transport. Apply and Read take batches,
// one call per replica per request; every method must return once ctx is
// done.
type Replica interface {
	// Apply stores req.Recs[i] under req.Keys[i] with last-write-wins, or
	// keeps them as hints, as req says. A nil error acknowledges every
	// record; a record that lost to a newer stored version is
	// acknowledged too (the replica holds newer data), and newer tells
	// which: nil when none did, else newer[i] is the version stored under
	// req.Keys[i] (or the flush floor, engine.Engine.DropAllAt) where it
	// is newer than req.Recs[i]'s (zero elsewhere).
	// A writer uses it to stamp its write again above that version;
	// repair and handoff ignore it. A replica that cannot keep hints
	// (hinted handoff off, window passed, queue full) returns an error
	// wrapping ErrNoHints.
	Apply(ctx context.Context, req ApplyRequest) (newer []engine.Version, err error)
	// Read returns the stored record of every key, tombstones and expired
	// records included (ReadReply), or the hints held, as req says. The
	// caller owns the returned slices and may modify them.
	Read(ctx context.Context, req ReadRequest) (ReadReply, error)
	// Scan returns a page of the records stored in a token span,
	// tombstones and expired records included, without their values
	// (engine.Engine.ScanPage): SCAN reads the keyspace with it.
	Scan(ctx context.Context, req ScanRequest) (ScanReply, error)
	// Count returns the node's number of live records (DBSIZE).
	Count(ctx context.Context) (int64, error)
	// ClassCounts returns the node's figures per key class (database):
	// engine.Engine.ClassCounts, or every live record in class 0 when
	// the engine keeps no classes.
	ClassCounts(ctx context.Context) ([]engine.ClassCount, error)
	// DropAll deletes every record the node stores (FLUSHALL) and
	// raises its flush floor to floor: from then on it stores no record
	// older than that (engine.Engine.DropAllAt).
	DropAll(ctx context.Context, floor engine.Version) error
}

// ApplyRequest is one batch of records for one replica.
type ApplyRequest struct {
	Keys [][]byte
	Recs []engine.Record
	// Hint, when set, names an owner of the keys that is down: the
	// replica keeps the records as hints for it, answers reads with them
	// and hands them to it once it is back (sloppy quorum).
	Hint string
	// From, when set, names a node handing over hints it held for this
	// replica: the replica counts itself behind until that holder has
	// none left (catch-up).
	From string
	// Noted marks an owner's write whose fellow owner of these keys is
	// being replaced by a stand-in: the replica also notes the keys'
	// token ranges as dirty, so that anti-entropy checks them first
	// should the stand-in's hints be lost.
	Noted bool
	// Epoch is the layout epoch a coordinator planned the write with: a
	// replica that knows a later one refuses it (ErrStaleEpoch). 0 for
	// writes that are not a coordinator's (hints, repair, streaming).
	Epoch uint64
}

// ReadRequest is one batch of keys for one replica.
type ReadRequest struct {
	Keys [][]byte
	// Hint, when set, names an owner of the keys the replica stands in
	// for: it answers with the hints it holds (Found[i] reports a hint
	// for Keys[i], for any of its owners), not with data of its own. A
	// stand-in's answer counts toward a read quorum only for the keys it
	// holds hints for: of the others it knows nothing.
	Hint string
	// Epoch is as in ApplyRequest.
	Epoch uint64
}

// ScanRequest asks for a page of the records of a token span; its
// encoding is the transport's.
type ScanRequest = transport.ScanRequest

// ScanReply is a page: the records' keys and versions, where the next
// page starts, and whether the replica is behind (catching up).
type ScanReply = transport.ScanResponse

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

// Async is implemented by replicas that answer without holding
// the caller's goroutine (Batching); the coordinator finds it by
// type assertion and then needs no goroutine per replica call. The
// callback runs exactly once, on another goroutine, once the call is
// answered or failed, at the latest when its context ends, and must not
// block.
type Async interface {
	ApplyAsync(ctx context.Context, req ApplyRequest, done func(ApplyReply))
	ReadAsync(ctx context.Context, req ReadRequest, done func(ReadReply, error))
}
