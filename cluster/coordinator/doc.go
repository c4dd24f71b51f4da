// Package coordinator serves a node's RESP requests as quorum operations
// over each key's replicas: it plans which replicas a request asks, sends
// one batch to each in parallel, counts the answers against the key's
// quorum, falls back to stand-ins for failed owners (sloppy quorum), and
// repairs stale replicas it read from.
//
// Every request loads the node's topology once (Config.Topology, package
// topology): the ring that places its keys, the replica that reaches each
// node, and who is healthy right now. It plans, falls back and replies
// with that one view, so a membership change in the middle of a request
// never mixes two rings.
//
// Sloppy quorum (sloppy.go). A key's owners are the first N distinct
// nodes of its preference list. With Config.Sloppy a request uses the
// first N healthy nodes instead: every healthy owner, and in place of
// each unhealthy owner the next healthy node beyond the first N, which
// keeps the write as a hint naming the owner it stands in for (hinted
// handoff gives it back when the owner returns). While the topology says
// the node must be strict (it is catching up, or on the small side of a
// cut, or was a moment ago) requests use the owners alone.
//
// # How a request flows
//
// Write (SET, DEL, MSET, ...: Put). The coordinator stamps every mutation
// with its own HLC version, asks the request's topology for each key's N
// replicas, and groups the records into ONE batch per replica. All
// batches go out in parallel, bounded by the request timeout: a peer's
// batch joins the next merged request to that peer (replica.Batching) and
// its answer comes back through a callback, so no goroutine waits for it;
// the local node's batch goes straight to the engine.
// A per-key tally (quorum.Tally per key) counts acknowledgements; the
// client gets its reply as soon as every key has W acks. Once some key
// can no longer reach W, the coordinator only waits for the replicas it
// has not heard from yet (at most until the timeout) and answers
// NOQUORUM with exactly how many acknowledged: those keep the write.
// Replicas still working after a successful reply finish (or hit the
// timeout) on their own: the write keeps spreading, nothing waits for
// them, and since every call ends with the request's timeout (a merged
// request to a peer may run on, but its callers are answered when their
// own deadline passes) and answers into a buffered channel, nothing
// leaks.
//
// Read (GET, MGET, EXISTS, ...: Get). The keys are grouped per replica
// the same way. A read asks R replicas of each key first: this node when
// it holds the key, then the others in turn from one read to the next.
// The key's remaining replicas are asked too once one of those fails or
// has not answered within Config.ReadSpeculation (speculative retry), so
// a paused replica costs a read that delay, not its timeout. Each answer is
// folded into the newest record per key (highest version; tombstones and
// expired records take part, so a delete beats older values) and counted
// in the tally; once every key has R answers the coordinator repairs the
// repliers that returned an older version or nothing, waits for those
// repairs (so a value a quorum read returned is on enough replicas that
// the next quorum read sees it too: monotonic reads), and replies.
// Replicas that answer after the reply are folded in as their answers
// arrive; once the last one is in (or failed at the timeout) the newest
// record is resolved again over every answer and whoever is stale is
// repaired by a background goroutine. Those goroutines are bounded
// (Config.RepairWorkers; beyond it late repair is skipped and counted)
// and stop on Close.
//
// Consistency. R and W come from Config unless the request's context
// carries a per-connection override (WithConsistency): ONE, QUORUM
// (majority) or ALL of the N replicas. Either way the requirement is
// never lowered to the replicas a key has or this node can reach: a
// cluster with fewer than N members, or a node cut off from the others,
// answers NOQUORUM instead of acknowledging what fewer replicas hold.
//
// Versions. Every write is stamped by this node's HLC. A read lets the
// clock observe the versions it returns, so a read-modify-write (INCR,
// APPEND, SET GET) through one coordinator always stamps a version newer
// than the one it read, even if this node's clock runs behind the
// writer's. Two coordinators doing read-modify-writes of one key
// concurrently are not serialized: the newest version wins.
//
// DBSIZE and FLUSHALL address every member, not a key's replicas: see Len
// and Flush.
//
// WAIT. A write whose context carries a store.Receipt reports every
// replica's acknowledgement to it, those that arrive after the reply
// included, until the write's deadline.
//
// SCAN (scan.go) reads the keyspace in token order, one range of the
// ring at a time, from the range's replicas: each answers a page of its
// records (keys and versions, tombstones included) from the cursor's
// position, and the step merges R answers by version up to the smallest
// position a page stopped at, so no replica's key before it is skipped.
// The cursor is that position in steps of 1<<engine.PageBits tokens,
// which engine pages never split.
package coordinator
