// Package membership tells a ringcache node which nodes form the cluster,
// where to reach them and whether they are up. It runs
// github.com/hashicorp/memberlist (SWIM gossip with failure detection) on
// its own port and turns its events into a sorted list of Members, with
// their liveness, which OnChange reports. Who owns which ranges is not
// decided here but by the cluster's layout (package layout); gossip tells
// who is alive, where members listen, and (the node state in the
// metadata) which nodes are members of a cluster already.
//
// Seeds. A node joins through its seeds: gossip addresses of any nodes
// already in the cluster. One reachable seed is enough; the join is a
// full-state exchange, and gossip spreads the newcomer from there. Start
// never waits for a seed: while the node is alone and no seed answers, a
// background loop retries with exponential backoff. Every node can be
// given the same seed list; a node skips its own address.
//
// The member list is persisted (Config.Store, LoadRoster). Every member
// this node has seen stays in the list with its addresses and vnode
// count until it leaves for good; dead members stay, and a gossip list
// that lacks a member does not remove it. The list is written whenever a
// member is added, moves or leaves (not on liveness changes) and on
// Close, and a restarted node is given it back (Config.Known): its
// members are Dead until gossip reports them, and the join loop targets
// them as well as the seeds. So a node seeded only with itself, or whose
// seeds are down, finds the cluster again through the members it knew.
//
// Stopping is not leaving. Close stops gossip with no goodbye: the others
// see the node fail (Dead), exactly as after a crash, and see it Alive
// again when it returns. Leave is the explicit, permanent departure: it
// advertises NodeLeaving and broadcasts memberlist's leave, so the others
// report the node Left and the ring drops it.
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
// brings them back together. So every RejoinInterval (1s) the join loop
// joins each seed that is not an alive member and each known member it
// sees dead (not those that left for good). As soon as one node of
// one group reaches a member of the other, the two exchange their full
// lists, each learns that the other declared it dead and refutes that,
// and the cluster is whole again within a second or two of the cut
// healing.
//
// Timing. The defaults are tuned for a LAN cluster of a few to a few
// dozen nodes: probes every 500ms with a 300ms timeout, a suspicion that
// lasts 2s once two other members confirmed it and at most 6s otherwise
// (for up to 10 members), a full state exchange with a random member
// every 5s, and a dead member's id may come back from a new address after
// 2s. A killed node is declared dead within about 3s; a restarted node,
// or one whose gossip was cut and healed, is seen alive by every member
// within about a second. A node that is itself cut off takes longer to
// declare the others dead (memberlist's Lifeguard awareness stretches
// its probe interval up to 8x when its own probes go unanswered).
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
// goodbye), otherwise Dead. A goodbye that missed this node reaches it
// later through the periodic full-state exchange: each node sends the runs
// (id and boot id) of the members it knows left, and a member this node
// holds Dead in that same run becomes Left (leftstate.go). Dead members
// stay in the list: a failure is presumed transient and the member keeps
// its place in the ring. Suspect
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
