// Package layout is the cluster's topology as its consensus log holds
// it: which members own which ring tokens, in which state, the one
// topology operation in progress and its stage, and the epoch that
// numbers every change. It is pure: Apply takes a layout and a command
// and returns the next layout or an error, the same on every member, so
// the log (package consensus) can replicate commands and every member
// reaches the same layout.
//
// Ownership changes only here. Gossip says who is alive; a member that
// is down keeps its tokens. A member's tokens are chosen once, when it
// joins (ring.JoinTokens: it takes ranges from the most loaded members,
// and no other boundary moves), and are kept until it leaves; a
// replacement takes over the tokens of the member it replaces.
//
// Operations. Join, Leave, Remove and Replace each move ranges from the
// current ring (the members that own ranges now) to the next one (what
// they will own when the operation completes): Rings returns both. One
// operation runs at a time (ErrBusy for a second). Each goes through
// the stages
//
//	write-both/read-old  writes go to the old and the new replicas, reads to the old
//	streaming            the same, while the members gaining ranges pull them
//	write-both/read-new  writes to both, reads to the new replicas
//	use-new              reads and writes to the new replicas only
//
// and completes into the next ring; Joining members become Normal and
// departing ones Left. Each stage begins a new epoch; the member driving
// the operation advances it (CmdAdvance) only when every live member has
// seen that epoch, so no coordinator still routes by the stage before
// the one before. Streaming ends only when every gaining member reported
// (CmdStreamed). An operation that has not reached read-new can be
// rolled back (CmdAbort): the old replicas hold every write.
package layout
