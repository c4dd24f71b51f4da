package coordinator

import (
	"errors"
	"fmt"

	"github.com/ringcache/ringcache/cluster/replica"
	"github.com/ringcache/ringcache/cluster/transport"
)

// Sentinel errors of the coordinator. Errors it returns wrap one of these
// with %w, so callers compare with errors.Is.
var (
	// ErrNoQuorum is wrapped by every *QuorumError: fewer replicas than
	// the consistency level requires answered before the timeout.
	ErrNoQuorum = errors.New("coordinator: not enough replicas")
	// ErrClosed is returned by every Coordinator method after Close.
	ErrClosed = errors.New("coordinator: closed")
	// ErrInvalidConfig wraps every Config.Validate failure.
	ErrInvalidConfig = errors.New("coordinator: invalid config")
	// ErrNoPlacement is returned when there is no ring yet, or the ring
	// places a key on no node at all.
	ErrNoPlacement = errors.New("coordinator: no placement for key")
	// ErrUnknownPeer is the failure recorded for a node id the topology
	// has no replica for (a member that left, or whose address is not
	// known yet).
	ErrUnknownPeer = errors.New("coordinator: unknown peer")
	// ErrPartialFlush is returned by Flush when some members could not be
	// flushed; the others were.
	ErrPartialFlush = errors.New("coordinator: flush incomplete")
	// ErrConcurrentWrite is returned by Put for a read-modify-write
	// (store.IsReadModifyWrite) when a replica held a newer version of a
	// key than the one stamped: a write the command did not read landed
	// meanwhile. The command's write loses to it (last-write-wins).
	ErrConcurrentWrite error = concurrentWriteError{}
)

type concurrentWriteError struct{}

func (concurrentWriteError) Error() string {
	return "coordinator: a newer write of the key landed while the command ran"
}

// RESPError implements the server's RESPError.
func (concurrentWriteError) RESPError() string {
	return "TRYAGAIN a newer write of the key landed while the command ran; its write loses to it, retry"
}

// The wire codes of the coordinator's sentinels a peer's answer may wrap
// (see transport.RegisterError). Codes are fixed: a node decodes what its
// peers of the same version send.
func init() {
	transport.RegisterError(66, ErrClosed)
	transport.RegisterError(68, ErrUnknownPeer)
}

// ValueTooLargeError reports a write refused because one of its keys and
// values together exceed Config.MaxRecordBytes, the largest record one
// replica frame carries. It implements the server's RESPError, so the
// client reads a plain -ERR that names the limit.
type ValueTooLargeError struct {
	// Size is the key's and the value's bytes together.
	Size int
	// Limit is Config.MaxRecordBytes.
	Limit int
}

// Error implements error.
func (e *ValueTooLargeError) Error() string { return "cluster: " + e.RESPError() }

// Unwrap makes errors.Is(err, ErrValueTooLarge) true.
func (e *ValueTooLargeError) Unwrap() error { return replica.ErrValueTooLarge }

// RESPError returns the reply line without the leading '-'.
func (e *ValueTooLargeError) RESPError() string {
	return fmt.Sprintf("ERR value too large for the cluster: key and value of %d bytes, the limit is %d bytes (cluster frame size)", e.Size, e.Limit)
}

// QuorumError reports a read or write that did not reach its quorum.
// It implements the server's RESPError so the client sees a -NOQUORUM
// reply that says how far the request got.
type QuorumError struct {
	// Write is true for a write, false for a read.
	Write bool
	// Got is how many replicas acknowledged (write) or replied (read) for
	// the key that fell furthest short.
	Got int
	// Need is how many that key required.
	Need int
}

// Error implements error.
func (e *QuorumError) Error() string { return "cluster: " + e.RESPError() }

// Unwrap makes errors.Is(err, ErrNoQuorum) true.
func (e *QuorumError) Unwrap() error { return ErrNoQuorum }

// RESPError returns the reply line without the leading '-'. A failed
// write says that it may still be present on some replicas: the
// replicas that did acknowledge keep it, and read repair may spread it.
func (e *QuorumError) RESPError() string {
	if e.Write {
		return fmt.Sprintf("NOQUORUM not enough replicas acknowledged the write: %d of %d required (the write may be present on some replicas)", e.Got, e.Need)
	}
	return fmt.Sprintf("NOQUORUM not enough replicas replied to the read: %d of %d required", e.Got, e.Need)
}
