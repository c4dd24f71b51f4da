package server

import (
	"context"

	"github.com/ringcache/ringcache/server/store"
)

// Store is what the command handlers read from and write to. The
// single-node store (server/local) applies to the local engine; the cluster
// coordinator implements the same methods as quorum operations.
//
// Implementations stamp versions themselves; the server only speaks in
// values and absolute expiry times.
//
// A Store may keep the keys and values it is given after it returns (a
// read repair or a replica's write finishing in the background): the
// server never changes or reuses their bytes.
type Store interface {
	// Get returns one store.Item per key, in order. A missing, deleted or
	// expired key has Found false.
	Get(ctx context.Context, keys [][]byte) ([]store.Item, error)
	// Put applies the mutations. When it returns nil every mutation is
	// acknowledged with the store's durability.
	Put(ctx context.Context, muts []store.Mutation) error
	// Len returns the number of live keys (DBSIZE).
	Len(ctx context.Context) (int64, error)
	// Flush deletes every key (FLUSHDB/FLUSHALL).
	Flush(ctx context.Context) error
}

// LatestReader is implemented by stores whose Get may answer from some of
// a key's copies only (the cluster coordinator reads R of N replicas).
// GetLatest reads every copy it can reach and answers with the newest:
// the commands that write what they read (INCR, APPEND, SET NX/XX/GET,
// GETDEL, GETEX, EXPIRE, PERSIST, SETNX) use it, found by type assertion,
// so that they build on the newest version and not on a stale one.
type LatestReader interface {
	GetLatest(ctx context.Context, keys [][]byte) ([]store.Item, error)
}

// Scanner is implemented by stores that can list their keys (SCAN, KEYS,
// RANDOMKEY). Keys are listed in an order that does not change as keys
// come and go: the order of their tokens on the ring. Scan returns, from
// cursor (0: the start), live keys (about count of them: count is a
// hint, as in Redis) and the cursor of the next call, 0 at the end. A
// key present from the first call to the last is returned at least
// once. Cursors are below 2^53.
type Scanner interface {
	Scan(ctx context.Context, cursor uint64, count int) (keys [][]byte, next uint64, err error)
}

// InfoProvider is implemented by stores that add sections to INFO. Each
// section is a name ("Ringcache", "Keyspace", ...) and its field lines.
type InfoProvider interface {
	InfoSections() []store.InfoSection
}

// DBCounter is implemented by stores that count keys per database
// (store keys sorted by KeyDatabase): DBSIZE and FLUSHDB of one database
// use it. DBCounts returns one entry per database, index = database.
type DBCounter interface {
	DBCounts(ctx context.Context) ([]store.DBCount, error)
}

// KeyEstimator is implemented by stores whose DBCounts is remote or slow
// (a cluster's asks every member). INFO's Keyspace section uses
// DBEstimates instead; it must answer at once, without I/O.
type KeyEstimator interface {
	DBEstimates() []store.DBCount
}

// ClusterView is implemented by stores that can describe the cluster; the
// RINGCACHE NODES, OWNERS and LOCALGET commands use it.
type ClusterView interface {
	// Nodes lists every known member, sorted by id.
	Nodes() []store.NodeInfo
	// Owners returns the ids of the key's preference list, in order.
	Owners(key []byte) []string
	// LocalGet returns this node's own stored record of key, with no
	// quorum: tombstones and expired records included.
	LocalGet(ctx context.Context, key []byte) (store.LocalRecord, bool, error)
}

// HintsView is implemented by stores that keep hints for other nodes
// (hinted handoff); RINGCACHE HINTS uses it.
type HintsView interface {
	// Hints returns one entry per target node, sorted by target.
	Hints() []store.HintInfo
}

// TopologyAdmin is implemented by stores whose membership changes by
// explicit operations: RINGCACHE JOIN, LEAVE, REMOVE and TRANSFERS.
type TopologyAdmin interface {
	// Join starts this node's join of its seeds' cluster.
	Join(ctx context.Context) error
	// StartLeave starts this node's departure; the process exits once
	// its ranges moved.
	StartLeave(ctx context.Context) error
	// Remove starts the removal of a dead member; force goes ahead with
	// fewer surviving replicas than a read quorum.
	Remove(ctx context.Context, id string, force bool) error
	// Transfers describes the operation in progress and this node's
	// part in it, as name/value pairs.
	Transfers() [][2]string
}

// Repairer is implemented by stores that run anti-entropy; RINGCACHE
// REPAIR uses it.
type Repairer interface {
	// Repair runs one full repair round now and summarizes it.
	Repair(ctx context.Context) (store.RepairSummary, error)
}
