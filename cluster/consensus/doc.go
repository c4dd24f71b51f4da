// Package consensus is a small replicated log: every member applies the
// same commands in the same order to its StateMachine, and a command is
// applied only once a majority of the members has it, so a minority
// cannot change the state. It runs go.etcd.io/raft/v3 (the Raft
// implementation etcd and CockroachDB use) and adds what raft leaves to
// its user: persistence in the engine's metadata, message delivery over
// a Transport, proposals that wait for their own result, snapshots, and
// a group that follows the state machine.
//
// The cluster's layout (package layout) is the one state it replicates:
// who owns which tokens, and the topology operation in progress. The data
// path never goes through it.
//
// Persistence (storage.go). Every Ready is saved before its messages
// leave — hard state, new entries (replacing an overwritten tail) and
// snapshot in one atomic metadata batch — and raft works on a
// MemoryStorage mirroring the disk. Open loads the disk, restores the
// machine from the snapshot and applies the committed entries after it,
// so the state a member had is there before it starts; raft delivers
// those entries again after Start and only their group changes are
// applied then. Every SnapshotEvery entries the machine's state is
// snapshotted and the log truncated behind it.
//
// Proposals. Propose prefixes the command with a random proposal id and
// waits until this member applies the entry carrying it, returning the
// machine's result. Followers forward proposals to the leader; while
// there is none (an election, or no quorum) Propose retries until its
// context ends (ErrNoLeader). A proposal lost with a leader is proposed
// again after two election timeouts, so a command may be applied twice:
// the layout's commands are refused harmlessly when repeated. Every
// attempt carries a deadline (proposal.go), and the leader drops a
// forwarded one that arrives after it: a message a partition held up
// cannot apply a command whose proposer was told it failed.
//
// The group follows the machine. Voters says which members should vote;
// on every tick the leader proposes the first difference (an addition
// before a removal, one at a time, as raft allows). A new member starts
// with no log and no group (Start without bootstrap) and waits for the
// leader to add it and send it the log, or a snapshot: the leader sends
// the state as of now (freshSnapshot), not the last stored snapshot,
// which may predate the member and which the member would refuse.
//
// Messages go out through one goroutine per destination with a bounded
// queue, so a dead member never stalls the loop; what is dropped raft
// sends again. The clock is logical (Tick every TickInterval): election
// after ElectionTicks without the leader, heartbeats every
// HeartbeatTicks, with PreVote and CheckQuorum so a member cut off and
// back does not depose a working leader.
package consensus
