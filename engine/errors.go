package engine

import "errors"

// Sentinel errors. Errors returned by the engine wrap one of these with %w,
// so callers compare with errors.Is.
var (
	// ErrClosed is returned by every operation after Close.
	ErrClosed = errors.New("engine: closed")
	// ErrCorrupt is returned when stored bytes cannot be decoded.
	ErrCorrupt = errors.New("engine: corrupt record")
	// ErrWrite is returned when a write could not be made durable in the
	// way the fsync mode promises. It wraps the underlying storage error.
	// After the first ErrWrite the engine refuses further writes (reads
	// keep working) until it is reopened; see doc.go.
	ErrWrite = errors.New("engine: write failed")
	// ErrInvalidConfig is returned by Config.Validate and Open.
	ErrInvalidConfig = errors.New("engine: invalid config")
	// ErrInvalidHint is returned for a malformed hint request: a target
	// that is not 1..255 bytes, or mismatched argument lengths.
	ErrInvalidHint = errors.New("engine: invalid hint")
	// ErrInvalidMeta is returned for an empty metadata name.
	ErrInvalidMeta = errors.New("engine: invalid metadata name")
)
