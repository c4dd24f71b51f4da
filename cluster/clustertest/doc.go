// Package clustertest runs a real ringcache cluster inside one test
// process: n cluster.Nodes on free 127.0.0.1 ports, each with its own
// Pebble engine in t.TempDir(), real memberlist gossip with intervals
// short enough for tests, the real replica transport, and a real RESP
// server in front of each node, so tests talk to any node with go-redis.
//
// Faults are injected behind the transport: every node's client to every
// peer is wrapped (cluster.NodeConfig.WrapCaller) by a Faults value that
// can cut the calls between two groups of nodes (Partition), never answer
// calls to a node (Drop), or delay them (Delay). These faults act on
// replica RPCs only; gossip keeps flowing, so a partitioned node is still
// an alive member and keeps its keys: exactly the situation in which a
// quorum must hold or fail. Gossip has faults of its own: every node's
// gossip transport is wrapped as well (cluster.NodeConfig.WrapGossip), and
// CutGossip and IsolateGossip drop the gossip from some nodes to others,
// one way or both, as a firewall would.
//
// Nodes are addressed by index. A node's listeners (client, replica RPC,
// gossip) get free ports below the kernel's ephemeral range on its first
// start (bench/loopback), where no outgoing connection or port-0 bind can
// take them while the node is stopped, and keep them for the node's
// lifetime, so Stop followed by Restart brings the node back with the
// same id, the same data directory and the same addresses. Stop is a graceful stop, not a leave:
// the others see the node dead and keep it in the ring, and a restarted
// node starts with the member list it persisted. Leave is the permanent
// departure: the others see the node Left and take it out of the ring.
//
// Every wait is a deadline-bounded retry (Eventually), never a bare
// sleep, and everything is stopped by t.Cleanup.
package clustertest
