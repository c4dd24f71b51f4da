// Package antientropy compares the replicas of each key range with Merkle
// trees and repairs only the keys that differ. Its core is pure: leaf
// arithmetic, tree building, the top-down diff, entry comparison and the
// exchange messages' codec, with no I/O, goroutines or clock; the caller
// supplies bucket digests, scans and the network round trips.
//
// # Leaves are the engine's digest buckets
//
// The engine's key layout orders data keys by the 64-bit token of the
// user key (engine.Token: xxhash64 of its hash tag, or of the whole key),
// so one token range of the ring is one contiguous scan
// (engine.Engine.Scan). The engine also keeps 1<<BucketBits digest
// buckets, bucket b holding the tokens with t>>(64-BucketBits) == b, and
// maintains each bucket's hash incrementally on every write: the XOR of
// one element hash per stored record (tombstones and expired records
// included). XOR makes a bucket independent of write order and lets a
// replaced record be taken out by XOR-ing its hash again; the element hash
// covers the key and the record's version (and its expiry and tombstone
// flag), never the value, because equal versions mean the same write, and
// it makes a stale copy hash differently from the current one.
//
// A range tree's leaves are those buckets (Leaves): the buckets a range
// (Start, End] touches, in ring order from Start+1. Ring boundaries
// rarely fall on bucket boundaries, so a range's first and last leaf can
// be partial, holding only the bucket's tokens inside the range; for
// those the caller hashes exactly [Lo, Hi] by scanning, every other leaf
// is the engine's bucket hash as is. Trees are therefore assembled on
// demand: a ring change costs no rescan beyond the partial edge buckets
// of the ranges that moved, and nothing is kept per range between rounds.
// Both replicas derive the same leaves from the same range, which is what
// lets them compare trees position by position.
//
// # Trees
//
// A Tree has a fixed fanout of 16 (Fanout) over the leaf hashes; its
// shape depends only on the number of leaves. An inner node's hash is
// xxhash64 of its children's hashes, 8 bytes big-endian each, in order, so
// unlike the XOR inside a leaf it depends on positions: records that moved
// between leaves show up. A whole ring of 65536 leaves makes 5 levels.
//
// # The exchange
//
// Two replicas of a set of ranges compare them in steps, each one round
// trip that the caller carries with the messages of messages.go:
//
//  0. Floors: each side tells the other its flush floor (the version
//     below which a FLUSHALL left nothing; transport.OpFloor) and the
//     side whose floor is lower raises it and drops its records older
//     than it (Store.RaiseFloor): a replica that a FLUSHALL missed
//     catches up with it before the trees are compared, instead of
//     offering the flushed records for ever. A peer that does not know
//     the step is compared without it. A large store's drop may outlast
//     the request on the side that serves it; that exchange fails, the
//     drop goes on, and the next one compares.
//  1. Roots: RootsRequest names the ranges, RootsResponse returns each
//     range's root hash. Equal roots end the comparison of that range.
//  2. Descend: for a range whose roots differ, Diff walks the local tree
//     top-down and asks, one NodesRequest per level, for the remote hashes
//     of the children of the nodes that differ, so a range with k
//     differing leaves costs at most Fanout*k hashes per level.
//  3. Entries: EntriesRequest asks for the entries (key, version, expiry,
//     tombstone) of the differing leaves; Reconcile merges them with the
//     local entries of the same leaves and returns the keys to push (local
//     newer or missing remotely) and to pull (remote newer or missing
//     locally).
//  4. Repair: pushed and pulled records go through the normal
//     last-write-wins apply path on the receiving replica, so a repair
//     racing a client write, or a repair applied twice, is harmless, and
//     entries with equal versions transfer nothing.
//
// Replicas compare live data while it changes. A tree that changed
// between steps only makes a round find fewer or more differences; a
// difference missed now is found by the next round, and a repair of a key
// that was meanwhile overwritten loses to the newer version on apply.
// Records whose versions are equal but whose element hashes differ (an
// expired record already turned into a tombstone on one replica only)
// keep their leaf differing until the other replica's reclaimer does the
// same; Reconcile transfers nothing for them.
//
// # Tombstone purge
//
// A round notes, per range and peer, when each exchange that synced the
// range started: a proof that the peer held, from then on, everything this
// node held then, or something newer. The engine asks
// Repairer.PurgeAllowed before it purges a tombstone past its grace
// period, and the answer is yes only when every other replica of the range
// has a proof that started after the tombstone was written and after this
// node stored it. The second condition matters for a tombstone that
// arrived late: one repaired in from a third replica after this node and a
// peer had synced while neither held it is not on that peer, and purging
// it there would let the peer's older value come back through the next
// round. The engine notes the arrival only where the tombstone replaced a
// record the node held; where it held nothing for the key (a peer hands
// back a tombstone this node has just purged), any copy a peer held at
// their last exchange would have come here, and counting from the arrival
// would only keep the replicas handing the tombstone back and forth. A
// copy that reached a peer after that exchange (a late hint or read
// repair), or one too large to transfer (below), is not covered: unless a
// replica that stored the tombstone over its own copy carries it there
// first, the value can read back from that peer, and come back through
// repair once the others have purged the tombstone.
//
// # Large records
//
// Pushed and pulled records travel in replica requests, one transport
// frame each, so repair batches are bounded in bytes as well as records
// (Limits): at most 512 records and Limits.BatchBytes (4 MiB) of keys and
// values, a larger record alone. The local side knows its records' sizes
// from the entries it scans; the peer reports its own in the entries it
// answers (Entry.Size, asked with transport.OpEntriesSized; a peer of an older
// version answers that with transport.ErrUnknownOp and is asked with
// transport.OpEntries, without sizes, its pulls then cut by record count and halved
// whenever an answer does not fit in a frame). A record larger than a
// frame carries (Limits.MaxRecordBytes) is neither pushed nor pulled: it
// is counted (Result.KeysTooLarge, Stats.KeysTooLarge, a warning per
// round) and the rest of its range is repaired. The range still counts as
// synced for the tombstone purge unless the record left behind is a
// tombstone. Building trees reads the partial edge leaves of all ranges of
// a request in one ascending pass (Store.ScanSpans), so a record of tens
// of megabytes is read once per request, not once per nearby leaf.
package antientropy
