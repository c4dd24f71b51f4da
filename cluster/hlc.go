package cluster

import (
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/ringcache/ringcache/engine"
)

// Clock is a hybrid logical clock. Every version it hands out is newer than
// every version it handed out or observed before, and stays close to wall
// time: Wall is the larger of the physical clock and the newest version seen,
// and Logical counts writes within one millisecond.
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

// NewClock returns a clock stamping versions for nodeID. now is the physical
// clock; nil means time.Now.
func NewClock(nodeID string, now func() time.Time) *Clock {
	if now == nil {
		now = time.Now
	}
	return &Clock{node: NodeHash(nodeID), now: now}
}

// Now returns a new version, strictly newer than any returned or observed.
func (c *Clock) Now() engine.Version {
	phys := c.now().UnixMilli()
	c.mu.Lock()
	defer c.mu.Unlock()
	last := c.mu.last
	v := engine.Version{Wall: phys, Node: c.node}
	if phys <= last.Wall {
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
	phys := c.now().UnixMilli()
	c.mu.Lock()
	defer c.mu.Unlock()
	if phys > c.mu.last.Wall {
		return engine.Version{Wall: phys, Node: c.node}
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
