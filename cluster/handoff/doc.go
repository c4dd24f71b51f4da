// Package handoff keeps the writes a node holds for owners that are down
// (hints) and hands them over when those owners return: the persisted
// half of sloppy quorum.
//
// A coordinator that finds one of a key's owners unhealthy sends the
// write to the next healthy node instead, naming the owner; that node's
// Manager stores the record as a hint (Hold). Hints live in the engine's
// own keyspace, grouped by target node, written with the same durability
// as data, so an acknowledged hinted write survives a crash or SIGKILL of
// its holder just as a plain write does. Several hints for one key
// collapse to the newest version as they are stored.
//
// Delivery. The Manager's loop replays a target's hints when the target
// is seen alive (Wake, called on the membership event) and on a periodic
// retry. Replay streams the target's queue in batches over the replica
// transport (Cluster.Deliver), throttled to ReplayRate bytes per second;
// the target applies them with the normal last-write-wins merge, so a
// stale hint never overwrites newer data and a hinted delete arrives as
// a tombstone. Only after the target acknowledged a batch are its hints
// deleted, and only if no newer hint for the same key arrived meanwhile.
// A target that left the cluster for good is Gone: its hints go to the
// keys' current owners instead (Cluster.Handover).
//
// Limits. A target's down-since time is set when it is first seen down
// (or its first hint is stored) and cleared only once it is alive again
// and its queue is empty; it is persisted, so restarts and gossip flaps
// do not reset it. Once a target has been down longer than MaxWindow no
// new hints are stored for it: anti-entropy repairs what it missed, as
// in Cassandra's max_hint_window. MaxBytes caps each target's queue. A
// refused hint is counted as dropped and the write is not acknowledged
// by the holder, so the coordinator does not count it toward the quorum.
//
// Sizes. A hint travels in one replica frame or not at all, so a record
// larger than MaxRecordBytes (the frame's limit, transport.MaxRecordBytes)
// is refused by Hold (ErrTooLarge) and, found in a queue (stored before
// the limit, or by a node with larger frames), dropped with a log line
// and counted in Dropped and TooLarge: it never stands ahead of the hints
// behind it. Batches hold at most BatchKeys hints and BatchBytes of keys
// and records (a single larger hint goes alone), and replay is throttled
// for a hint's whole size. A delivery refused for its size
// (transport.ErrFrameTooLarge) is split in halves and each half sent; a
// single hint refused so is dropped. Only other failures (the target
// unreachable, a timeout) stop a replay, to be retried.
//
// Reads. A holder answers reads with the hints it holds (Merge): a client
// that wrote a key while its owner was down reads it back from the first
// N healthy nodes, which include the holder.
package handoff
