package script

import (
	"errors"
	"strings"
)

// Error replies whose text is fixed by Redis 7.0. Each is the complete RESP
// error line, so a handler can write it as it is.
const (
	// ReplyBusy answers every command but SCRIPT KILL and SHUTDOWN NOSAVE
	// while Busy is true.
	ReplyBusy = "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
	// ReplyNoScript answers EVALSHA of a script that is not cached.
	ReplyNoScript = "-NOSCRIPT No matching script. Please use EVAL.\r\n"
	// ReplyNotBusy answers SCRIPT KILL when no script is busy.
	ReplyNotBusy = "-NOTBUSY No scripts in execution right now.\r\n"
	// ReplyUnkillable answers SCRIPT KILL when the busy script has written.
	ReplyUnkillable = "-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n"
)

// Sentinel errors. Every error this package returns also has a
// RESPError() string method giving Redis's reply for it; see RESPError.
var (
	// ErrNoScript is returned by EvalSHA for a SHA1 that is not cached.
	ErrNoScript error = &replyError{msg: "script: no matching script", reply: ReplyNoScript}
	// ErrNotBusy is returned by Kill when no script is busy.
	ErrNotBusy error = &replyError{msg: "script: no script is busy", reply: ReplyNotBusy}
	// ErrUnkillable is returned by Kill when a busy script has called a
	// write command: stopping it would leave a half-applied script.
	ErrUnkillable error = &replyError{msg: "script: busy script has written", reply: ReplyUnkillable}
	// ErrCompile wraps the error of a script that does not compile, or
	// whose shebang line is invalid.
	ErrCompile = errors.New("script: invalid script")
	// ErrConfig wraps the complaint of Config.Validate.
	ErrConfig = errors.New("script: invalid config")
)

// replyError is an error that knows the RESP error reply Redis sends for
// it. For a wrapping error, wrapped is the sentinel it wraps.
type replyError struct {
	msg     string
	reply   string
	wrapped error
}

func (e *replyError) Error() string        { return e.msg }
func (e *replyError) Unwrap() error        { return e.wrapped }
func (e *replyError) RESPError() string    { return e.reply }
func (e *replyError) Is(target error) bool { return target == e }

// compileError wraps ErrCompile with the reply Redis gives for it: text is
// the reply's message without the leading '-' and the CRLF.
func compileError(text string) error {
	return &replyError{msg: ErrCompile.Error() + ": " + text, reply: errorReply(text), wrapped: ErrCompile}
}

// RESPError returns the RESP error reply (with '-' and CRLF) for an error
// returned by this package, and a generic "-ERR <text>" for any other.
func RESPError(err error) string {
	var r interface{ RESPError() string }
	if errors.As(err, &r) {
		return r.RESPError()
	}
	return errorReply("ERR " + err.Error())
}

// errorReply makes an error reply of text as Redis's addReplyErrorFormat
// does: newlines inside become spaces, so the reply stays one line, and
// a text that does not start with '-' gets one.
func errorReply(text string) string {
	text = strings.TrimRight(text, "\r\n")
	text = oneLine(text)
	if !strings.HasPrefix(text, "-") {
		text = "-" + text
	}
	return text + "\r\n"
}

// Texts of errors raised inside scripts, as Redis 7.0.15 words them.
const (
	msgUnknownCommand = "Unknown Redis command called from script"
	msgWrongArity     = "Wrong number of args calling Redis command from script"
	msgNoScript       = "This Redis command is not allowed from script"
	msgReadOnly       = "Write commands are not allowed from read-only scripts."
	msgArgType        = "Lua redis lib command arguments must be strings or integers"
	msgNoArgs         = "Please specify at least one argument for this redis lib call"
	msgReadonlyTable  = "Attempt to modify a readonly table"
	msgKilled         = "Script killed by user with SCRIPT KILL..."
	msgWriteFlagRO    = "ERR Can not execute a script with write flag using *_ro command."
)
