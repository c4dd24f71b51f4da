// Package transport carries requests between cluster nodes: the replica
// RPC that the coordinator uses to apply and read records on a key's
// replicas, and that hinted handoff and anti-entropy extend with their own
// operations.
//
// # Framing
//
// Everything on the wire is a frame: a 16-byte header (payload length,
// kind, operation code, two reserved bytes, request id) and a payload. The
// kinds are request, response, error and auth. The framing never looks
// inside a payload and dispatches on the operation code only, so new
// operations (hint delivery, Merkle exchange) need no protocol change; op
// code ranges are reserved per feature in ops.go. Requests carry a
// client-chosen id, unique and increasing per connection, and the answer
// (a response, or an error frame carrying the handler's error) echoes it,
// so any number of requests can be in flight on one connection and be
// answered in any order. Id 0 is for frames about the connection itself.
// Payloads are bounded by Config.MaxFrameBytes on both sides.
//
// # Errors across the wire
//
// A handler's error travels as a code and a message: the code names the
// sentinel the error wrapped, from a registry every node fills the same
// way at init (RegisterError; this package's own sentinels take codes 1
// to 63, the layers above register theirs from 64). The caller gets a
// *RemoteError that wraps ErrRemote and satisfies errors.Is for that
// sentinel, so a coordinator tells a stand-in that refused a hint
// (replica.ErrNoHints) from one that failed, as if the call were local.
//
// # The replica protocol
//
// OpApply and OpRead carry a batch of records or keys for one replica
// after a header of flags: kept as hints for an owner, handed over by a
// hint holder, noted for anti-entropy; read from the hints held for an
// owner. One request type per direction, whatever the flags, so one
// codec (batch.go) and one handler serve every variant. Op codes of
// every feature are declared in ops.go.
//
// # Batching
//
// Cluster throughput is decided here: with one write syscall per replica
// request a node spends its time in the kernel. Each connection therefore
// has a single writer goroutine. Callers append whole frames to a shared
// buffer and return to waiting; the writer swaps that buffer out and
// hands it to one Write, while the frames queued meanwhile collect in the
// other buffer for the next one. With one caller a frame goes out
// immediately; with fifty, one syscall carries dozens of frames. Servers
// answer the same way: requests on one connection run concurrently (at
// most Config.MaxInFlightPerConn) and their responses coalesce. Stats
// counts writes so the effect can be measured (see BenchmarkCallParallel).
//
// A Client is the pool for one peer: Config.ConnsPerPeer connections,
// opened on first use and reopened after a failure by a dial loop that
// backs off exponentially with jitter. While a peer is down Call fails
// fast with ErrUnavailable instead of queueing; when a connection dies,
// every call in flight on it returns ErrConnLost at once. A Call whose
// ctx ends is forgotten, and its response, if it comes, is dropped.
//
// # Handshake and authentication
//
// A connection starts with a hello from the client (magic, protocol
// version, cluster name, nonce), so a peer that is not a ringcache node
// of this cluster is turned away before it can send a request. With
// Config.Secret set, the server's challenge carries its own nonce and an
// HMAC-SHA256 proof over the client's nonce; the client checks it and
// answers with an HMAC over the server's nonce. Both proofs include the
// cluster name and a per-direction label, so neither side can be
// impersonated by replaying the other's proof. Only after the proof is
// accepted does the server read requests.
//
// # Misbehaving peers
//
// Any bytes from a peer are untrusted. A bad magic or version, an unknown
// frame kind, set reserved bytes, a length above the limit, an auth frame
// after the handshake, or a response for an id that was never issued make
// the receiver send an error frame saying why (id 0) and close the
// connection; on a client every call in flight on it fails. A peer that
// stops in the middle of a frame is disconnected after Config.ReadTimeout,
// one that stops reading after Config.WriteTimeout, and the handshake is
// bounded by Config.DialTimeout, so no peer can hold a goroutine forever.
// Payload decoders (batch.go) check every length against the bytes left
// and never allocate more than the payload they were given.
//
// # The largest record
//
// A frame carries one whole request or answer, so a record moves in one
// frame or not at all (limits.go). MaxRecordBytes(MaxFrameBytes) is the
// largest key plus value that fits whatever carries it (an apply, a hinted
// apply with its target, a read answer): the frame less 64 KiB, 67,043,328
// bytes with the default 64 MiB frames. Callers check before they build a
// request: the coordinator refuses larger writes, the batching replica
// cuts merged requests to the frame (ApplyItemLen, MaxApplyItemsBytes),
// hint replay and anti-entropy size their batches in bytes. A request over
// the frame is refused by Call without being sent; an answer over it is
// refused by the peer's server with an error frame, which surfaces as a
// *RemoteError that errors.Is(err, ErrFrameTooLarge) recognises, as it
// recognises ErrUnknownOp (both are coded), so callers can split or fall
// back.
//
// # Closing
//
// Server.Close closes the listeners and every connection, cancels the
// handlers' contexts, and waits for the server's goroutines at most
// Config.CloseTimeout (2s): a handler that ignores its context (stuck in a
// disk, a lock, a bug) is left to finish on its own, its answer dropped,
// and Close returns ErrCloseTimeout. A node's shutdown therefore never
// waits on what a peer asked it to do.
package transport
