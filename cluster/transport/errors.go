package transport

import (
	"errors"
	"strings"
)

// Sentinel errors. Errors returned by this package wrap one of these with
// %w, so callers compare with errors.Is.
var (
	// ErrClosed is returned by Call after Client.Close and by Serve after
	// Server.Close.
	ErrClosed = errors.New("transport: closed")
	// ErrUnavailable is returned without contacting the peer while it is
	// unreachable (its last connection attempt failed and the next one is
	// waiting out its backoff). The request was not sent.
	ErrUnavailable = errors.New("transport: peer unavailable")
	// ErrConnLost is returned by a Call whose connection died while the
	// request was in flight. The peer may or may not have executed it.
	ErrConnLost = errors.New("transport: connection lost")
	// ErrRemote is wrapped by every *RemoteError: the peer's handler
	// executed the request and returned an error.
	ErrRemote = errors.New("transport: remote error")
	// ErrProtocol is returned when a peer breaks the framing or the
	// handshake. The connection it came from is closed.
	ErrProtocol = errors.New("transport: protocol error")
	// ErrFrameTooLarge is returned for a frame longer than
	// Config.MaxFrameBytes, whether we were about to send it or a peer
	// announced it.
	ErrFrameTooLarge = errors.New("transport: frame too large")
	// ErrAuth is returned when the handshake fails: wrong cluster name,
	// wrong or missing secret, or a peer that cannot prove it knows it.
	ErrAuth = errors.New("transport: authentication failed")
	// ErrUnknownOp is returned by Mux for an operation code with no handler.
	ErrUnknownOp = errors.New("transport: unknown operation")
	// ErrMalformed is returned by the batch decoders for a payload that is
	// not a valid encoding.
	ErrMalformed = errors.New("transport: malformed payload")
	// ErrExpired is the error a Server answers for a request whose
	// deadline passed before it could run: it was not run.
	ErrExpired = errors.New("transport: request expired before it ran")
	// ErrInvalidConfig is returned by Config.Validate.
	ErrInvalidConfig = errors.New("transport: invalid config")
	// ErrCloseTimeout is returned by Server.Close when handlers were
	// still running Config.CloseTimeout after their contexts were
	// cancelled: Close returned without them, and their answers are
	// dropped.
	ErrCloseTimeout = errors.New("transport: close timed out")
)

// RemoteError is the error a peer's Handler returned, carried back in an
// error frame. It wraps ErrRemote.
type RemoteError struct {
	// Op is the operation the request carried.
	Op uint8
	// Msg is the handler's error message as the peer formatted it.
	Msg string
}

func (e *RemoteError) Error() string { return "transport: remote error: " + e.Msg }

// Unwrap makes errors.Is(err, ErrRemote) hold.
func (e *RemoteError) Unwrap() error { return ErrRemote }

// Is makes errors.Is(err, ErrFrameTooLarge) and errors.Is(err,
// ErrUnknownOp) hold for a peer's transport-level refusal as well: a peer
// whose answer did not fit in a frame (its server says so in the error
// frame), or one that does not know the operation (an older version).
// The peer's message starts with the sentinel's text, which is all an
// error frame carries.
func (e *RemoteError) Is(target error) bool {
	switch target {
	case ErrFrameTooLarge, ErrUnknownOp:
		return strings.HasPrefix(e.Msg, target.Error())
	}
	return false
}
