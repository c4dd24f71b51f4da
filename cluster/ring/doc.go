// Package ring places keys on cluster members: a consistent-hash ring on
// xxhash64 with virtual nodes, as in Dynamo.
//
// A key's position (token) is engine.Token of the key (the xxhash64 of
// its Redis Cluster hash tag if it has one, else of the whole key), the
// value the engine orders records by, so a token range on the ring is a
// contiguous range of the engine's keyspace, and keys that share a tag
// share a preference list. The ring takes tokens, not keys: there is one
// token function, the engine's. Each member owns VNodes
// tokens (default 128). A key belongs to the first token at or after its
// own, wrapping past the top, and its N replicas are the first N distinct
// members met walking clockwise from there: its preference list. Walk
// yields every member in that order, so a sloppy quorum can skip
// unhealthy members and take the next ones.
//
// Every member must compute the same ring from the member list alone, and
// a restarted member must get its tokens back. A member's raw tokens are
// therefore xxhash64("<id>#<i>"), functions of its id. Raw random tokens
// balance poorly, though: with 128 per node the largest of 3 to 10 members
// typically owns 1.2x to 1.3x, and in bad draws over 1.6x, what the
// smallest owns. New therefore runs a deterministic balancing pass over
// the sorted member set (balance.go): a diffusion that nudges token
// positions, never their order, until every member's primary share is
// within 0.1% of its weight (VNodes / total VNodes). The walk order of
// members, and so every key's replica set modulo boundary shifts, is the
// raw ring's.
//
// The price is that a token's final position depends on the whole member
// set, not on its node id alone: given the same member list every node
// computes the same positions, and a restarted node gets its tokens back,
// but a membership change shifts other members' boundaries slightly. The
// tests measure that a join moves the primary of about 1.1/(n+1) to
// 1.2/(n+1) of the token space (under 1.4/(n+1) in the worst member sets
// tried), against 1/(n+1) for pure consistent hashing, while the spread
// of ownership drops to 1.002x.
//
// Tokens chosen once and kept (join.go). A ring can also be built from
// tokens recorded earlier (FromTokens), exactly as recorded; JoinTokens
// chooses a joining member's tokens once, each one splitting a range of
// the member that owns the most for its weight, so a join moves only the
// ranges the new member takes, exactly its share of the token space, and
// no other member's boundary moves. The tests report the ownership spread
// after 1 to 10 joins into a 3-member ring: 1.005 to 1.008, with 3/(n+1)
// of the N=3 replica sets moving (the least a join can move). This is
// what the cluster's topology will record when membership changes become
// explicit operations; today's rings still come from New. Moves compares
// two rings range by range: the plan of a topology change, each moved
// range with its old and new replicas (who must receive it, from whom).
//
// A Ring is an immutable snapshot: build a new one with New on every
// membership change and swap the pointer atomically. The hot path,
// AppendPreference, is a binary search plus a copy from a per-token table
// of the first few distinct members, and does not allocate. Ranges and
// ReplicaRanges expose the arcs between consecutive tokens with their
// replica sets, the unit anti-entropy compares replicas by; Digest lets
// members detect that they disagree about the ring.
package ring
