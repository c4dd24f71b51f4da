// Package topology is the snapshot of the cluster that a node publishes
// and every request reads: who the members are, the consistent-hash ring
// built from them, the replica that reaches each of them, and which of
// them this node believes unhealthy.
//
// A Topology is immutable. The node builds a new one (New) whenever its
// member list changes, and derives one (WithHealth) whenever what it
// learned of its peers beyond gossip changes: a replica call failed or
// succeeded again, a peer asked it for its hints, it started or stopped
// catching up, it was cut off. It publishes each in a Current (one atomic
// pointer); a request loads it once and plans, falls back and replies
// with that one view, so a membership change in the middle of a request
// never mixes two rings.
//
// The judgements are pure functions of a snapshot and the time they are
// made at, tested on their own: Unhealthy (the nodes a request avoids:
// down in gossip unless they asked for their hints lately, or failing
// calls within Health.Retry), MinoritySide (more than half of the others
// out of reach: this node is on the small side of a cut), Strict (use the
// owners alone: catching up, cut off, or on the small side) and
// Isolation (no other member reachable by gossip). Because the time is an
// argument, a snapshot stays right as failures and "heard" marks age,
// without a republish.
//
// The ring comes from the cluster's layout (package layout) when the
// node has one: during a topology operation, Ring is the ring requests
// read from and Also the other ring a write must also reach W replicas of
// (write-both stages), and Epoch the layout epoch requests carry. A
// topology without a layout has a static ring of its members (tests and
// tools). A liveness change keeps the ring, and with it the replica
// ranges computed from it (ReplicaRanges): only the layout moves
// ownership.
package topology
