package coordinator

import (
	"context"

	"github.com/ringcache/ringcache/cluster/quorum"
)

// Per-request consistency. A request normally needs the configured R
// (reads) or W (writes) of a key's replicas; a connection can override
// that with a quorum.Level (ONE, QUORUM = majority, ALL), carried in the
// request's context. The zero Level means "no override".

// consistencyKey is the context key of a per-connection override.
type consistencyKey struct{}

type consistency struct{ read, write quorum.Level }

// WithConsistency returns a context whose reads and writes through a
// Coordinator need the given levels instead of the configured R and W.
// A zero level keeps the configured count for that side. The RESP
// server sets it per connection from RINGCACHE CONSISTENCY.
func WithConsistency(ctx context.Context, read, write quorum.Level) context.Context {
	return context.WithValue(ctx, consistencyKey{}, consistency{read: read, write: write})
}

// ConsistencyFrom returns the levels set by WithConsistency, zero where
// none was set.
func ConsistencyFrom(ctx context.Context) (read, write quorum.Level) {
	c, _ := ctx.Value(consistencyKey{}).(consistency)
	return c.read, c.write
}

// ConsistencyContext parses two level names (ONE, QUORUM, ALL, any case)
// and returns ctx carrying them: the form a RESP handler can call with
// the command's arguments. The error wraps quorum.ErrUnknownLevel.
func ConsistencyContext(ctx context.Context, read, write string) (context.Context, error) {
	r, err := quorum.Parse(read)
	if err != nil {
		return ctx, err
	}
	w, err := quorum.Parse(write)
	if err != nil {
		return ctx, err
	}
	return WithConsistency(ctx, r, w), nil
}

// required returns how many replicas a request needs: the override's
// count of the configured replication factor n, or configured (R or W)
// without one. It never depends on how many replicas a key has right
// now: a node that sees fewer members than N (a cluster being built, a
// node cut off from the others) still needs W acknowledgements for a
// write and R replies for a read, and answers NOQUORUM rather than
// acknowledging a write that fewer replicas hold.
func required(l quorum.Level, n, configured int) int {
	if l.Valid() {
		return l.Required(n)
	}
	return configured
}
