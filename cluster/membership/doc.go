// Package membership tells a ringcache node which nodes form the cluster,
// where to reach them and whether they are up. It runs
// github.com/hashicorp/memberlist (SWIM gossip with failure detection) on
// its own port and turns its events into a sorted list of Members; the
// coordinator builds the consistent-hash ring from that list and rebuilds
// it when OnChange reports a new one.
//
// Seeds. A node joins through its seeds: gossip addresses of any nodes
// already in the cluster. One reachable seed is enough; the join is a
// full-state exchange, and gossip spreads the newcomer from there. Start
// never waits for a seed: while the node is alone and no seed answers, a
// background loop retries with exponential backoff. Every node can be
// given the same seed list; a node skips its own address.
//
// Metadata. Each node advertises, in memberlist's per-node metadata (at
// most 512 bytes), its node id, the address clients use, the replica RPC
// address, its virtual node count and its ring state (joining, normal,
// leaving). The encoding is compact and versioned: a version byte, then
// varint-prefixed fields; fields appended later are ignored by older
// readers. A peer whose metadata does not decode, or names a node other
// than the peer, is logged and ignored; it never enters the member list.
//
// Rejoin and partition healing. A network partition can leave two groups
// that each declared the other dead and, once memberlist forgets dead
// nodes, each believe they are the whole cluster; gossip alone never
// brings them back together. So every RejoinInterval the join loop checks
// whether each seed is an alive member and joins those that are not. As
// soon as one node of one group reaches a seed in the other, the two
// exchange their full lists and the cluster is whole again.
//
// Conflicts. The node id is memberlist's node name and must be unique: the
// ring places data by it. An id that a live member already holds at one
// address is refused when it shows up at another: the alive and merge
// delegates reject it (so such a node's Join fails, and gossip about it is
// dropped) and log it once; memberlist's own conflict notification is
// logged too. A node that left, or is dead, may come back at a new
// address.
//
// States. Alive, Dead and Left come from memberlist's events; a member
// that advertised the leaving state before it disappeared is Left (it said
// goodbye), otherwise Dead. Dead members stay in the list: a failure is
// presumed transient and the member keeps its place in the ring. Suspect
// is this node's own view: memberlist keeps its suspicion state private,
// so a member is Suspect from the moment this node's probe of it fails
// (memberlist logs that, and the log adapter watches for it) until one of
// its probes succeeds again or the member is declared dead.
//
// Encryption. With a Secret, gossip is encrypted and authenticated with
// AES-256-GCM under the SHA-256 of the secret, and unencrypted traffic is
// refused; a node with another secret cannot join. Every packet also
// carries the ClusterName as memberlist's label, so two clusters sharing a
// network ignore each other.
package membership
