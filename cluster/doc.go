// Package cluster decides which versions win and, in a cluster, who holds
// a key and how many must answer.
//
// A ringcache write is versioned by a hybrid logical clock (engine/hlc): the
// version's Wall part follows the machine's clock in milliseconds, its
// Logical part orders writes stamped within one millisecond or after the
// clock stepped back, and the writer's node id hash breaks ties, so two
// distinct writes never carry the same version. Every replica resolves
// conflicts the same way, last-write-wins on that version (see
// engine.Version.Compare), which makes applying a write idempotent and
// order-independent: the property that replication, hint replay and repair
// rest on.
//
// Local is the single-node store behind the RESP server: it stamps each
// write with a fresh version and applies it to the local engine. If a
// stored record carries a version from the future (written under a clock
// that ran ahead), the write is not dropped: the clock learns that version
// and the write is applied again with a newer one. The cluster coordinator
// implements the same server.Store interface with quorum reads and writes
// over each key's replicas.
//
// A cluster member is a Node (node.go). It serves its engine to peers over
// the replica transport (subpackage transport), gossips with memberlist
// (subpackage membership) through the configured seeds and the members it
// knew, and rebuilds the consistent-hash ring (subpackage ring) from the
// members that have not left whenever membership changes, installing it
// in the Coordinator with one atomic swap.
//
// Stopping is not leaving. The ring holds every member that ever joined
// and has not left for good: a member is added when gossip first reports
// it and removed only when it leaves explicitly (Node.Leave). Membership
// persists that list in the engine, so a restarted node builds the same
// ring before gossip reports anything, and rejoins the members it knew
// even when its seeds are down or are itself. A member that stops,
// crashes or is cut off keeps its place in the ring (a failure is
// presumed transient): requests go to the first N healthy nodes of a key's
// preference list instead (sloppy.go), a substitute keeping the write as
// a hint for the owner it stands in for, which the hint manager
// (subpackage handoff) hands over once the owner is back
// (node_handoff.go). Merkle anti-entropy (package antientropy, wired in
// node_antientropy.go) repairs what hints could not. A node that reaches
// no other ring member by gossip is isolated (node_isolation.go): it
// refuses requests with a NOQUORUM that says so rather than serve as a
// cluster of one.
//
// Peer clients are created on first use and closed when a peer leaves or
// moves. The clock-skew check (skew.go) pings alive peers every
// SkewInterval and warns, rate-limited, when this node's clock is ahead of
// a peer's by more than MaxClockSkew beyond the ping's uncertainty. INFO
// and the operator commands answer from what the node holds and never
// wait for a peer (INFO's key count is a cached DBSIZE estimate,
// node_keys.go).
//
// The largest value. A record moves between nodes in one transport frame
// (Transport.MaxFrameBytes, 64 MiB by default), so a cluster stores at most
// transport.MaxRecordBytes of key and value together: 67,043,328 bytes by
// default. The coordinator refuses a larger write before anything is sent
// (*ValueTooLargeError, an -ERR naming the limit); the single-node Local
// store keeps only the server's proto-max-bulk-len. The BatchingReplica
// (replica_batch.go, replica_split.go) keeps every request within the
// frame: merged calls only while their records fit, one call's records in
// several requests when they do not, a record that fits in no frame
// refused at once; reads whose answer a peer cannot fit are asked again in
// halves. Hint replay and anti-entropy bound their batches in bytes too, so
// a large value never stalls a queue or a range.
//
// The subpackage quorum holds the pure decisions (tallies, consistency
// levels, newest-version resolution); clustertest is the in-process
// cluster harness the tests use.
package cluster
