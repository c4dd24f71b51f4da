package hlc

import (
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/ringcache/ringcache/engine"
)

// Clock is a hybrid logical clock; see the package comment.
type Clock struct {
	node uint64
	now  func() time.Time

	mu struct {
		sync.Mutex
		// last is the newest version issued or observed; every Now()
		// result is strictly greater.
		last engine.Version
	}
}

// NodeHash is the tie-break a node id contributes to its versions.
func NodeHash(nodeID string) uint64 { return xxhash.Sum64String(nodeID) }

// New returns a clock stamping versions for nodeID. now is the physical
// clock; nil means time.Now.
func New(nodeID string, now func() time.Time) *Clock {
	if now == nil {
		now = time.Now
	}
	return &Clock{node: NodeHash(nodeID), now: now}
}

// microShift places the microseconds within a millisecond (0-999, 10
// bits) in the top bits of Logical; the 22 bits below count versions.
const microShift = 22

// physical returns the physical clock's reading as a version of this node.
func (c *Clock) physical() engine.Version {
	t := c.now()
	micros := uint32(t.Nanosecond()/1000) % 1000
	return engine.Version{Wall: t.UnixMilli(), Logical: micros << microShift, Node: c.node}
}

// Now returns a new version, strictly newer than any returned or observed.
func (c *Clock) Now() engine.Version {
	phys := c.physical()
	c.mu.Lock()
	defer c.mu.Unlock()
	last := c.mu.last
	v := phys
	if phys.Wall < last.Wall || (phys.Wall == last.Wall && phys.Logical <= last.Logical) {
		v.Wall = last.Wall
		v.Logical = last.Logical + 1
		if v.Logical == 0 { // the logical counter wrapped: move to the next millisecond
			v.Wall++
		}
	}
	c.mu.last = v
	return v
}

// Peek returns the clock's reading without issuing a version: the newer
// of the physical clock and the newest version issued or observed. It is
// what a node sends its peers with every message, so that their clocks
// move past it (Observe).
func (c *Clock) Peek() engine.Version {
	phys := c.physical()
	c.mu.Lock()
	defer c.mu.Unlock()
	if phys.Compare(c.mu.last) > 0 {
		return phys
	}
	return c.mu.last
}

// Observe tells the clock about a version seen elsewhere (a stored record,
// a peer's write), so later Now() results order after it.
func (c *Clock) Observe(v engine.Version) {
	c.mu.Lock()
	if v.Compare(c.mu.last) > 0 {
		c.mu.last = engine.Version{Wall: v.Wall, Logical: v.Logical, Node: c.node}
	}
	c.mu.Unlock()
}
