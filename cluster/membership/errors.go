package membership

import "errors"

var (
	// ErrInvalidConfig is wrapped by every Config.Validate failure.
	ErrInvalidConfig = errors.New("membership: invalid config")
	// ErrBadMeta is wrapped when a peer's node metadata cannot be decoded
	// or contradicts its gossip identity; the peer is ignored.
	ErrBadMeta = errors.New("membership: bad node metadata")
	// ErrMetaTooLarge is returned when the local node's metadata does not
	// fit memberlist's per-node limit (memberlist.MetaMaxSize bytes).
	ErrMetaTooLarge = errors.New("membership: node metadata too large")
	// ErrConflict is wrapped when a node id is claimed by a second gossip
	// address while the first is still a live member; the newcomer is
	// refused.
	ErrConflict = errors.New("membership: node id conflict")
	// ErrBadRoster is wrapped when the persisted member list (see
	// LoadRoster) cannot be decoded.
	ErrBadRoster = errors.New("membership: bad persisted member list")
	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("membership: closed")
)
