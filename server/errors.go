package server

import "errors"

var (
	// ErrServerClosed is returned by Serve and ListenAndServe after
	// Shutdown, like http.ErrServerClosed.
	ErrServerClosed = errors.New("server: closed")
	// ErrInvalidConfig wraps every Config.Validate failure.
	ErrInvalidConfig = errors.New("server: invalid config")
	// ErrNilStore is returned by New without a Store.
	ErrNilStore = errors.New("server: nil store")
	// errProtocol marks a connection closed by the input validator.
	errProtocol = errors.New("server: protocol error")
	// errDraining makes a connection stop reading during Shutdown.
	errDraining = errors.New("server: shutting down")
)

// RESPError is implemented by errors that carry their own RESP error line
// (without the leading '-'), such as a store's "NOQUORUM ..." error. The
// dispatcher writes it verbatim; any other error becomes "ERR " + Error().
type RESPError interface {
	RESPError() string
}

// replyError is an error reply produced by a handler: msg is the full line
// after '-', e.g. "ERR syntax error".
type replyError struct{ msg string }

func (e *replyError) Error() string        { return e.msg }
func (e *replyError) RESPError() string    { return e.msg }
func newReplyError(msg string) *replyError { return &replyError{msg: msg} }

// Fixed replies shared by many commands; Redis's exact texts.
var (
	errSyntax       = newReplyError("ERR syntax error")
	errNotInMulti   = newReplyError("ERR Command not allowed inside a transaction")
	errNotInteger   = newReplyError("ERR value is not an integer or out of range")
	errOverflow     = newReplyError("ERR increment or decrement would overflow")
	errDecrOverflow = newReplyError("ERR decrement would overflow")
	errNoAuth       = newReplyError("NOAUTH Authentication required.")
	errOOM          = newReplyError("OOM command not allowed when used memory > 'maxmemory'.")
	errWrongPass    = newReplyError("WRONGPASS invalid username-password pair or user is disabled.")
	errNoPassword   = newReplyError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
	errNoProto      = newReplyError("NOPROTO unsupported protocol version")
	errDBIndex      = newReplyError("ERR DB index is out of range")
	errStringSize   = newReplyError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
	errExpireCompat = newReplyError("ERR NX and XX, GT or LT options at the same time are not compatible")
	errGTLTCompat   = newReplyError("ERR GT and LT options at the same time are not compatible")
	errInternal     = newReplyError("ERR internal error")
)

// errInvalidExpire is Redis's "invalid expire time in 'set' command".
func errInvalidExpire(cmd string) *replyError {
	return newReplyError("ERR invalid expire time in '" + cmd + "' command")
}

// replyText returns the RESP error line for err, the one mapping from Go
// errors to replies.
func replyText(err error) string {
	var re RESPError
	if errors.As(err, &re) {
		return re.RESPError()
	}
	return "ERR " + err.Error()
}

// errStoreReply reports a Store that broke its contract (wrong item count).
var errStoreReply = newReplyError("ERR store returned a malformed reply")
