package server

import "context"

// Store is what the command handlers read from and write to. The
// single-node store (server/local) applies to the local engine; the cluster
// coordinator implements the same methods as quorum operations.
//
// Implementations stamp versions themselves; the server only speaks in
// values and absolute expiry times.
type Store interface {
	// Get returns one Item per key, in order. A missing, deleted or
	// expired key has Found false.
	Get(ctx context.Context, keys [][]byte) ([]Item, error)
	// Put applies the mutations. When it returns nil every mutation is
	// acknowledged with the store's durability.
	Put(ctx context.Context, muts []Mutation) error
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
	GetLatest(ctx context.Context, keys [][]byte) ([]Item, error)
}

// Item is the visible state of one key.
type Item struct {
	Value    []byte
	ExpireAt int64 // absolute Unix milliseconds; 0 means no expiry
	Found    bool
}

// Mutation is one write: a new value with an absolute expiry, or a delete.
type Mutation struct {
	Key      []byte
	Value    []byte
	ExpireAt int64 // absolute Unix milliseconds; 0 means no expiry
	Delete   bool
}

// InfoProvider is implemented by stores that add sections to INFO. Each
// section is a name ("Ringcache", "Keyspace", ...) and its field lines.
type InfoProvider interface {
	InfoSections() []InfoSection
}

// KeyEstimator is implemented by stores whose Len is remote or slow (a
// cluster's DBSIZE asks every member). INFO's Keyspace section uses
// KeysEstimate instead of Len; it must answer at once, without I/O.
type KeyEstimator interface {
	KeysEstimate() int64
}

// InfoSection is one "# Name" block of the INFO reply.
type InfoSection struct {
	Name   string
	Fields [][2]string
}

// ClusterView is implemented by stores that can describe the cluster; the
// RINGCACHE NODES, OWNERS and LOCALGET commands use it.
type ClusterView interface {
	// Nodes lists every known member, sorted by id.
	Nodes() []NodeInfo
	// Owners returns the ids of the key's preference list, in order.
	Owners(key []byte) []string
	// LocalGet returns this node's own stored record of key, with no
	// quorum: tombstones and expired records included.
	LocalGet(ctx context.Context, key []byte) (LocalRecord, bool, error)
}

// HintsView is implemented by stores that keep hints for other nodes
// (hinted handoff); RINGCACHE HINTS uses it.
type HintsView interface {
	// Hints returns one entry per target node, sorted by target.
	Hints() []HintInfo
}

// HintInfo describes the hints held for one target node.
type HintInfo struct {
	Target string
	// Pending and Bytes are the hints held now and their size.
	Pending, Bytes int64
	// OldestAgeMs is the age of the oldest pending hint (0 if none).
	OldestAgeMs int64
	// Delivered and Dropped count hints since the node started.
	Delivered, Dropped int64
}

// Repairer is implemented by stores that run anti-entropy; RINGCACHE
// REPAIR uses it.
type Repairer interface {
	// Repair runs one full repair round now and summarizes it.
	Repair(ctx context.Context) (RepairSummary, error)
}

// RepairSummary is what one repair round did.
type RepairSummary struct {
	RangesCompared, RangesDiffering int64
	LeavesDiffering                 int64
	KeysSent, KeysReceived          int64
	BytesSent, BytesReceived        int64
	// PeersFailed counts the replicas that could not be compared
	// (unreachable, or an exchange that failed).
	PeersFailed int64
	Seconds     float64
}

// NodeInfo describes one member for RINGCACHE NODES.
type NodeInfo struct {
	ID         string
	ClientAddr string
	State      string // alive, suspect, dead, left
	VNodes     int
	Share      float64 // fraction of the ring this node is primary for
}

// LocalRecord is one replica's stored record, for RINGCACHE LOCALGET.
type LocalRecord struct {
	Value     []byte
	Version   string // engine.Version.String()
	ExpireAt  int64  // absolute Unix milliseconds; 0 means none
	Tombstone bool
}
