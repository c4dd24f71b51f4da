package bench

import "errors"

// Sentinel errors. Callers compare with errors.Is; the returned errors wrap
// these with detail.
var (
	// ErrInvalidConfig reports a Config or CompareConfig that fails Validate.
	ErrInvalidConfig = errors.New("bench: invalid config")
	// ErrParse reports redis-benchmark output that could not be understood.
	ErrParse = errors.New("bench: cannot parse redis-benchmark output")
	// ErrNoLatency reports redis-benchmark --csv output without latency
	// columns (redis-benchmark before 7.0); the caller falls back to the
	// human-readable output.
	ErrNoLatency = errors.New("bench: csv output has no latency columns")
	// ErrTargetStart reports a server process that did not start or did not
	// answer PING in time.
	ErrTargetStart = errors.New("bench: target did not start")
	// ErrKeyCount reports that the RSS load did not leave the expected number
	// of keys in the server.
	ErrKeyCount = errors.New("bench: unexpected key count")
)
