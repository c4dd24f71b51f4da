package layout

import "errors"

// Errors Apply returns; the layout is unchanged when it does.
var (
	// ErrBusy: another topology operation is in progress (one at a time).
	ErrBusy = errors.New("layout: another topology operation is in progress")
	// ErrNotBootstrapped: the layout has no cluster yet.
	ErrNotBootstrapped = errors.New("layout: no cluster has been bootstrapped")
	// ErrBootstrapped: Bootstrap of a layout that has a cluster.
	ErrBootstrapped = errors.New("layout: the cluster is already bootstrapped")
	// ErrKnownID: a join or replacement claims an id the layout knows.
	ErrKnownID = errors.New("layout: node id is already known to the cluster")
	// ErrUnknownNode: the command names a node the layout does not know.
	ErrUnknownNode = errors.New("layout: unknown node")
	// ErrBadState: the node is not in a state the command applies to.
	ErrBadState = errors.New("layout: node is in the wrong state")
	// ErrStale: the command was made for an operation or stage that is
	// no longer current.
	ErrStale = errors.New("layout: stale operation or stage")
	// ErrNotDone: the stage cannot advance yet (members still stream).
	ErrNotDone = errors.New("layout: members are still streaming")
	// ErrBadCommand: the command does not decode or lacks a field.
	ErrBadCommand = errors.New("layout: bad command")
	// ErrTooFew: the change would leave the cluster without a member
	// that owns ranges.
	ErrTooFew = errors.New("layout: the last member cannot leave")
)
