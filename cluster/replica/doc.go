// Package replica is one node's store as a coordinator sees it: the one
// Replica interface, its local implementation over the engine, its remote
// implementation over the cluster transport, and the batching that merges
// many requests' calls to one peer into few frames.
//
// Every replica, local or remote, answers four calls: Apply (records to
// store with last-write-wins, or to keep as hints for an owner that is
// down, as the ApplyRequest's fields say), Read (the stored records, or
// the hints held), Count and DropAll. Local calls the engine directly with
// no copy of the batch; Remote encodes the same requests as the
// transport's OpApply and OpRead frames, and NewHandler serves a Local to
// peers with the same codecs, so a request means the same on both sides.
// A remote failure keeps its sentinel across the wire: errors.Is(err,
// ErrNoHints) holds on the caller whether the stand-in was local or not.
//
// Batching sits in front of a Remote. Concurrent calls to one peer queue
// and go out merged, a few requests in flight per kind, so under load one
// frame, one system call and one Pebble commit on the peer serve many
// client requests. Its ApplyAsync and ReadAsync (the Async interface)
// answer through a callback, so the coordinator needs no goroutine per
// replica call. No request exceeds the peer's frame: calls are merged only
// while their records fit, one call's records go in several requests when
// they do not, a record too large for any frame is refused at once
// (ErrValueTooLarge), and a read whose answer cannot fit is asked again in
// halves (split.go).
//
// Local also keeps the node's part of hinted handoff and catch-up: a
// hinted Apply goes to the hint store (LocalHints), an owner's write whose
// fellow owner is being replaced by a stand-in is noted for anti-entropy
// (Noter), and reads report Behind while the node may still lack writes it
// missed (Catching).
package replica
