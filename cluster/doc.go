// Package cluster is a running cluster member, the Node: it wires gossip
// membership, the replica transport, hinted handoff, anti-entropy and the
// clock-skew check around the local engine, publishes the topology every
// request works with, and serves the RESP server's Store through the
// quorum coordinator.
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
// A cluster member is a Node (node.go). It serves its engine to peers over
// the replica transport (subpackage transport), gossips with memberlist
// (subpackage membership) through the configured seeds and the members it
// knew, and publishes its topology (subpackage topology: the members,
// the consistent-hash ring built from those that have not left, the
// replica reaching each, and who is healthy) through one atomic pointer
// whenever membership or a peer's health changes. Each request loads it
// once and works with that one view from planning to reply.
//
// Ownership is the layout (subpackage layout): every member with the
// ring tokens it was given when it joined and its state, and the one
// topology operation in progress. The layout is replicated by a Raft log
// (subpackage consensus, node_layout.go) whose members are the layout's
// members; a change applies once a majority has it. Gossip only says who
// is alive. A new node joins through a member it finds in gossip, or a
// seed founds a cluster (node_join.go); a join, leave, removal or
// replacement moves ranges through the layout's stages, the leader
// advancing each once every live member's requests use its epoch, the
// members gaining ranges streaming them from the old replicas
// (node_transition.go); once the operation is done, each node drops the
// ranges it no longer replicates (node_cleanup.go). A join whose new node
// stays down is rolled back. Requests carry their layout epoch, and a replica
// refuses one older than its own, so no coordinator routes by a stage the
// cluster has left.
//
// Stopping is not leaving. A member that stops, crashes or is cut off
// keeps its tokens (a failure is presumed transient): requests go to the
// first N healthy nodes of a key's preference list instead
// (coordinator/sloppy.go), a substitute keeping the write as a hint for
// the owner it stands in for, which the hint manager (subpackage handoff)
// hands over once the owner is back (node_handoff.go). Merkle
// anti-entropy (package antientropy, wired in node_antientropy.go)
// repairs what hints could not. A node that reaches no other ring member
// by gossip is isolated (node_isolation.go): it refuses requests with a
// NOQUORUM that says so rather than serve as a cluster of one; a node
// that is not a member of a cluster refuses them with CLUSTERDOWN.
//
// A key's primary (node_forward.go) is the first owner of its preference
// list that gossip reports alive; the RESP server runs
// read-modify-write commands there, and the Node carries them over the
// replica transport (OpForward) as bytes it does not interpret. After a
// stall of its process, or a restart that the others noticed, a node
// stands back from the role for a grace period, until the others see
// it alive again, so that two nodes do not both act as the primary.
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
// (*ValueTooLargeError, an -ERR naming the limit); the single-node store
// (server/local) keeps only the server's proto-max-bulk-len. The replica.Batching
// (package replica) keeps every request within the
// frame: merged calls only while their records fit, one call's records in
// several requests when they do not, a record that fits in no frame
// refused at once; reads whose answer a peer cannot fit are asked again in
// halves. Hint replay and anti-entropy bound their batches in bytes too, so
// a large value never stalls a queue or a range.
//
// # Packages
//
//	cluster               the Node: wires membership, transport, handoff,
//	                      anti-entropy and the clock-skew check around the
//	                      local engine, publishes the topology, serves INFO
//	cluster/coordinator   quorum reads and writes: planning, fan-out,
//	                      tallies, sloppy quorum, read repair
//	cluster/topology      the immutable snapshot a request works with, and
//	                      the pure health judgements
//	cluster/layout        the layout: tokens, states, operations, epochs
//	cluster/consensus     the Raft log replicating the layout
//	cluster/replica       the Replica interface: local, remote, batching,
//	                      and the handler serving the local one to peers
//	cluster/transport     framed RPC between nodes: ops, codecs, errors
//	cluster/membership    gossip (memberlist), the persisted member list
//	cluster/ring          the consistent-hash ring and its ranges
//	cluster/quorum        pure decisions: tallies, levels, newest version
//	cluster/handoff       hints kept for others and their replay
//	cluster/stall         notices this process was stopped (a pause)
//	cluster/clustertest   the in-process cluster harness the tests use
//
// # The path of a SET
//
// From the RESP handler to Pebble on a peer, function by function:
//
//	server.(*Server).handle              redcon's handler; a run of plain SETs
//	server.(*Server).runBatch            becomes one batch of mutations
//	server.(*Server).writeBatch          key stripes shared, Store.Put
//	cluster.(*Node).Put                  refuses while isolated
//	coordinator.(*Coordinator).Put       stamps, restamps a superseded write
//	coordinator.(*Coordinator).plan      loads the topology once; one batch
//	                                     per replica (sloppy.go)
//	coordinator.(*Coordinator).write     flight, tally, fallbacks, hints
//	coordinator.(*Coordinator).launchAll the local batch inline, the others:
//	coordinator.(*Coordinator).launchBatch
//	coordinator.batchCall.start          applyBatch, so:
//	coordinator.startApply               the batch as an ApplyRequest
//	replica.(*Batching).ApplyAsync       merges concurrent writes
//	replica.(*Batching).sendApplies      one request per frame
//	replica.(*Remote).Apply              encodes OpApply (transport.AppendApplyRequest)
//	cluster.healthCaller.Call            records the peer's health
//	transport.(*Client).Call             picks a connection
//	transport.(*clientConn).roundTrip    queues the frame, awaits the answer
//	  ... the wire ...
//	transport.(*serverConn).readLoop     reads the frame
//	transport.(*serverConn).handle       runs the handler under the budget
//	transport.(*Mux).Serve               by op code
//	replica.NewHandler (OpApply)         decodes (transport.DecodeApplyRequest)
//	replica.(*Local).Apply               hints, delivery or own data
//	engine.(*Engine).ApplyBatchNewer     last-write-wins, one Pebble batch
//
// The coordinator's own copy goes from launchAll straight to
// replica.(*Local).Apply. The hops through interfaces are server.Store,
// replica.Async (asserted on the replica.Replica the request's topology
// holds for the node), transport.Caller and transport.Handler; the rest
// resolve by go-to-definition.
//
// # What a Node wires together
//
// A Node is one running cluster member: it wires the pieces of this
// package and its subpackages together around the local engine.
//
//   - The replica transport server listens on ClusterListen and serves the
//     local engine to peers (replica.NewHandler: apply and read, each with
//     flags for hints and noted writes, ping, count, drop-all, hints-for,
//     anti-entropy exchange). Every replica, local or remote, is one
//     Replica interface: Apply(ApplyRequest), Read(ReadRequest), Count,
//     DropAll.
//   - Membership gossips on GossipListen and advertises the node's id,
//     client address, cluster address, vnodes and whether it is a member
//     of a cluster. Every change of the member list or of the layout
//     publishes a new topology (node_topology.go), its rings taken from
//     the layout's stage, which the coordinator reads (Config.Topology).
//     Dead and suspect members keep their tokens: a failure is presumed
//     transient, so a dead owner keeps its keys while substitutes hold its
//     writes as hints (node_handoff.go).
//   - The layout outlives the process: its log is persisted in the
//     engine's metadata, and StartNode restores it before gossip reports
//     anything, so a restarted node starts with the ring the cluster has
//     (its digest equals the others' from the first request on). Gossip
//     persists the member list too, so the node rejoins the members it
//     knew as well as its seeds.
//   - Stopping is not leaving. Close stops gossip without a goodbye: the
//     other members see this node dead and see it alive again when it
//     returns, so a restart or a crash never moves ownership. Leave (and
//     RINGCACHE LEAVE, REMOVE, --replace) are the operations that do. A
//     node says goodbye only once the layout has it Left: a Leave that
//     fails or runs out of time stops it as Close does.
//   - A node that reaches no other ring member by gossip is isolated
//     (node_isolation.go) and refuses requests instead of serving them as
//     if it were the whole cluster.
//   - The repairer compares the ranges this node replicates with their
//     other replicas (node_antientropy.go); the transport serves the peers'
//     side of that exchange.
//   - The Coordinator serves the RESP server's Store calls as quorum
//     operations. The topology maps each peer to a replica.Batching over
//     a replica.Remote over a transport client, created when the member
//     first appears with its cluster address and closed when it leaves or
//     moves to another address. NodeConfig.WrapCaller lets a test harness
//     put a fault-injecting Caller between this node and each peer.
//
// Clock safety (skew.go). Versions are hybrid logical clock stamps, so a
// node whose wall clock runs ahead of its peers' wins every conflict with
// writes they make meanwhile: a later write through a peer can be lost to
// an earlier one. The node therefore pings every alive peer every
// SkewInterval, estimates the peer's clock offset from the round trip
// (transport.Ping), and when this node is ahead by more than MaxClockSkew
// beyond the measurement's uncertainty it logs a warning (at most once per
// peer per SkewWarnEvery). The latest estimate per peer is in Stats and in
// INFO (cluster_max_clock_skew_ms). The node keeps serving: refusing
// writes would turn a clock problem into an outage.
//
// Close stops the gossip first (silently: peers declare the node dead),
// then the skew loop, the coordinator (waiting for the requests in
// flight), the peer clients and the transport server. Leave does the same
// after announcing the departure. The engine belongs to the caller and
// stays open.
package cluster
