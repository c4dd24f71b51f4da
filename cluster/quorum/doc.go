// Package quorum holds the pure decisions of a Dynamo-style quorum
// request: how many replicas must answer, whether the replies so far have
// won or lost, and which reply of a read is newest and which replicas need
// read repair. Nothing here does I/O, keeps time or starts goroutines, so
// the coordinator, which owns the network and the timeouts, stays a thin
// loop around these types and they can be tested exhaustively.
//
// A Level (ONE, QUORUM, ALL) turns into a count with Required(n). With N
// replicas, a write acknowledged by W and a read answered by R overlap in
// at least one replica whenever R + W > N, which QUORUM on both sides
// guarantees; that overlap is what makes a quorum read see the latest
// acknowledged quorum write.
//
// A Tally counts replies to one request. It reports Won as soon as need
// replicas succeeded and Lost as soon as the failures leave too few
// outstanding replicas to get there, so a coordinator answers a client
// (or gives up) without waiting for the slowest replica or the timeout.
//
// Compare orders the replies of a read by version (engine.Version, a
// hybrid logical clock stamp with the writer as tie-break): no record is
// older than any record, and expiry and tombstones do not change the
// order, because they are part of the write that carries the version.
// The coordinator keeps the newest record per key as answers arrive, and
// every replier holding an older record, or none, is stale and is sent
// the newest record: read repair. The newest record is repaired onto
// stale replicas even when it is a tombstone or has expired, so an older
// value cannot resurface when the newer record is purged.
package quorum
