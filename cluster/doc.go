// Package cluster decides which versions win and, in a cluster, who holds
// a key and how many must answer.
//
// A ringcache write is versioned by a hybrid logical clock (Clock): the
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
package cluster
