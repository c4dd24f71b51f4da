package replica

import (
	"errors"

	"github.com/ringcache/ringcache/antientropy"
	"github.com/ringcache/ringcache/cluster/handoff"
	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/engine"
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
	// ErrStaleEpoch is returned by a replica asked by a coordinator
	// whose layout epoch is older than its own: the coordinator routes
	// by a stage the cluster has left, and must catch up and ask again.
	ErrStaleEpoch = errors.New("replica: request planned with a stale layout epoch")
)

// The wire codes of the sentinels a replica's answer may wrap (see
// transport.RegisterError): this package's own, and those of the engine,
// the hint store and anti-entropy, whose errors reach a peer through the
// replica handler. With them, errors.Is(err, engine.ErrClosed) holds on a
// coordinator whose peer's engine is closed, as it would for its own.
// Codes are fixed: a node decodes what its peers of the same version
// send.
func init() {
	for code, err := range map[uint16]error{
		64: ErrNoHints, 65: ErrValueTooLarge, 67: ErrShortReply, 69: ErrStaleEpoch,
		80: engine.ErrClosed, 81: engine.ErrCorrupt, 82: engine.ErrWrite,
		90: handoff.ErrRefused, 91: handoff.ErrClosed,
		96: antientropy.ErrBadRequest, 97: antientropy.ErrBadAnswer, 98: antientropy.ErrMalformed, 99: antientropy.ErrClosed,
	} {
		transport.RegisterError(code, err)
	}
}
