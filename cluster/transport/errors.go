package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
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
// error frame (or in one item of a batch answer). It wraps ErrRemote, and
// the sentinel its code names (RegisterError): errors.Is(err, ErrNoHints)
// holds on the caller when the peer's error wrapped ErrNoHints.
type RemoteError struct {
	// Op is the operation the request carried.
	Op uint8
	// Code is the registered code of the sentinel the peer's error
	// wrapped; 0 when it wrapped none.
	Code uint16
	// Msg is the handler's error message as the peer formatted it.
	Msg string
}

func (e *RemoteError) Error() string { return "transport: remote error: " + e.Msg }

// Unwrap makes errors.Is(err, ErrRemote) hold.
func (e *RemoteError) Unwrap() error { return ErrRemote }

// Is makes errors.Is(err, sentinel) hold for the sentinel registered
// under e.Code.
func (e *RemoteError) Is(target error) bool {
	return e.Code != 0 && codedError(e.Code) == target
}

// Codes of the transport's own sentinels; 1 to 63 are the transport's,
// the layers above register theirs from 64 on.
const (
	codeFrameTooLarge = 1
	codeUnknownOp     = 2
	codeExpired       = 3
	codeMalformed     = 4
)

func init() {
	RegisterError(codeFrameTooLarge, ErrFrameTooLarge)
	RegisterError(codeUnknownOp, ErrUnknownOp)
	RegisterError(codeExpired, ErrExpired)
	RegisterError(codeMalformed, ErrMalformed)
}

// errorCodes maps wire codes to sentinels, in ascending code order.
var errorCodes struct {
	sync.RWMutex
	codes []uint16
	errs  []error
}

// RegisterError gives the sentinel err a code that travels on the wire:
// a handler error that wraps err reaches the caller as a *RemoteError for
// which errors.Is(remote, err) holds. Register from an init function, the
// same code and sentinel on every node. A zero code, or a code or
// sentinel registered twice, panics: two sentinels on one code would
// silently change an error's meaning.
func RegisterError(code uint16, err error) {
	errorCodes.Lock()
	defer errorCodes.Unlock()
	if code == 0 || err == nil {
		panic("transport: RegisterError with a zero code or a nil error")
	}
	for i, c := range errorCodes.codes {
		if c == code || errorCodes.errs[i] == err {
			panic(fmt.Sprintf("transport: error code %d or %q registered twice", code, err))
		}
	}
	i, _ := slices.BinarySearch(errorCodes.codes, code)
	errorCodes.codes = slices.Insert(errorCodes.codes, i, code)
	errorCodes.errs = slices.Insert(errorCodes.errs, i, err)
}

// errorCode returns the code of the registered sentinel err wraps (the
// lowest code when it wraps several), 0 when it wraps none.
func errorCode(err error) uint16 {
	errorCodes.RLock()
	defer errorCodes.RUnlock()
	for i, s := range errorCodes.errs {
		if errors.Is(err, s) {
			return errorCodes.codes[i]
		}
	}
	return 0
}

// codedError returns the sentinel registered under code, nil if none.
func codedError(code uint16) error {
	errorCodes.RLock()
	defer errorCodes.RUnlock()
	if i, ok := slices.BinarySearch(errorCodes.codes, code); ok {
		return errorCodes.errs[i]
	}
	return nil
}

// NewRemoteError returns what a caller gets when a peer's handler for op
// returns err: the error as it comes out of the wire, coded.
func NewRemoteError(op uint8, err error) *RemoteError {
	return decodeError(op, appendError(nil, err))
}

// appendError appends the wire form of err: its code and its message. A
// *RemoteError relayed from another peer keeps its message rather than
// gaining a second prefix.
func appendError(dst []byte, err error) []byte {
	msg := err.Error()
	if re, ok := err.(*RemoteError); ok {
		msg = re.Msg
	}
	dst = binary.AppendUvarint(dst, uint64(errorCode(err)))
	return append(dst, msg...)
}

// decodeError turns the wire form of an error into a *RemoteError for op.
func decodeError(op uint8, b []byte) *RemoteError {
	code, n := binary.Uvarint(b)
	if n <= 0 || code > math.MaxUint16 {
		return &RemoteError{Op: op, Msg: string(b)}
	}
	return &RemoteError{Op: op, Code: uint16(code), Msg: string(b[n:])}
}
