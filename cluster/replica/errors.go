package replica

import (
	"errors"

	"github.com/ringcache/ringcache/cluster/transport"
)

// Sentinel errors of the replicas. A remote replica's failure keeps its
// sentinel across the wire (see the codes registered below), so
// errors.Is holds on the caller whether the replica is local or not.
var (
	// ErrNoHints is returned by a replica asked to keep hints when it
	// cannot (hinted handoff is off there, or the hint was refused).
	ErrNoHints = errors.New("replica: hint not kept")
	// ErrShortReply is returned when a replica answers a read with a
	// different number of records than keys asked.
	ErrShortReply = errors.New("replica: answered the wrong number of records")
	// ErrValueTooLarge is returned for a record whose key and value
	// cannot travel in one replica frame: a Batching replica refuses it
	// before anything is sent (wrapping transport.ErrFrameTooLarge as
	// well), and the coordinator refuses such a write with it at once.
	ErrValueTooLarge = errors.New("replica: value too large for the cluster")
)

// The wire codes of this package's sentinels (see
// transport.RegisterError). Codes are fixed: a node decodes what its
// peers of the same version send.
func init() {
	transport.RegisterError(64, ErrNoHints)
	transport.RegisterError(65, ErrValueTooLarge)
	transport.RegisterError(67, ErrShortReply)
}
