// Package hlc stamps record versions (engine.Version) with a hybrid
// logical clock, so that last-write-wins orders writes as they happened
// across nodes whose clocks roughly agree.
//
// A Clock hands out versions that are newer than every version it handed
// out or observed before, and stay close to wall time: Wall is the larger
// of the physical clock and the newest version seen, and Logical orders
// versions within one millisecond. A node shares one Clock between
// everything that stamps versions (the coordinator, the single-node
// store), and every version it learns from a peer (replica frames carry
// the sender's clock; read answers carry versions) goes through Observe,
// so a write stamped after another was seen is newer than it.
//
// The physical reading fills Logical too: its top bits hold the
// microseconds within the millisecond (microShift), the rest counts
// versions stamped within one microsecond, or after the physical clock
// stood still or stepped back. Two writes stamped by two nodes whose
// clocks agree are therefore ordered as they happened as soon as they are
// a microsecond apart, not only a millisecond apart: a client that writes
// a key through one node and then through another, a millisecond later or
// less, does not see the second write lose because of a tie broken by
// node id. The encoding of a Version is unchanged: Wall stays in
// milliseconds.
//
// Ties (equal Wall and Logical) are broken by Node, the hash of the node
// id (NodeHash): deterministic, so every replica picks the same winner.
package hlc
