package store

// Item is the visible state of one key.
type Item struct {
	Value    []byte
	ExpireAt int64 // absolute Unix milliseconds; 0 means no expiry
	Found    bool
	// Version is the version of the newest record the store holds for
	// the key, live or not (a delete's tombstone, an expired value); the
	// zero Version when it holds none. Every write changes it: WATCH
	// compares it.
	Version Version
}

// Version identifies one write of a key: the hybrid logical clock
// stamp of the store (engine.Version's fields). Only equality matters to
// the server.
type Version struct {
	Wall    int64
	Logical uint32
	Node    uint64
}

// Mutation is one write: a new value with an absolute expiry, or a delete.
type Mutation struct {
	Key      []byte
	Value    []byte
	ExpireAt int64 // absolute Unix milliseconds; 0 means no expiry
	Delete   bool
}

// DBCount is one database's figures: its live keys, how many of them
// have an expiry, and the sum of those expiries in Unix seconds (their
// average less now is INFO's avg_ttl).
type DBCount struct {
	Keys, Expires, ExpireSum int64
}

// InfoSection is one "# Name" block of the INFO reply.
type InfoSection struct {
	Name   string
	Fields [][2]string
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
	// Role is the node's place in the layout: joining, normal, leaving,
	// removing, replacing, left, or none (not a member).
	Role   string
	VNodes int
	Share  float64 // fraction of the ring this node is primary for
}

// LocalRecord is one replica's stored record, for RINGCACHE LOCALGET.
type LocalRecord struct {
	Value     []byte
	Version   string // engine.Version.String()
	ExpireAt  int64  // absolute Unix milliseconds; 0 means none
	Tombstone bool
}
