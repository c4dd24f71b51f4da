package consensus

import "errors"

var (
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("consensus: closed")
	// ErrNotStarted: Propose before Start.
	ErrNotStarted = errors.New("consensus: not started")
	// ErrStarted: Start called twice.
	ErrStarted = errors.New("consensus: already started")
	// ErrNoLeader: no leader accepted the proposal before the context
	// ended (the group has no quorum, or is electing).
	ErrNoLeader = errors.New("consensus: no leader accepted the proposal")
	// ErrBadMessage: a message from a peer does not decode.
	ErrBadMessage = errors.New("consensus: bad message")
	// ErrCorrupt: the persisted log does not decode.
	ErrCorrupt = errors.New("consensus: persisted log is corrupt")
)
