package quorum

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownLevel is returned (wrapped) by Parse for a name that is not a
// consistency level.
var ErrUnknownLevel = errors.New("quorum: unknown consistency level")

// Level is a consistency level: how many of a key's N replicas must answer
// a read or acknowledge a write. The zero Level is not a level; callers
// use it to mean "not overridden, use the configured count".
type Level uint8

// Consistency levels.
const (
	// One needs a single replica: lowest latency, may read stale data.
	One Level = iota + 1
	// Quorum needs a majority, N/2+1. A quorum read and a quorum write of
	// the same key always share a replica, so the read sees the write.
	Quorum
	// All needs every replica: a single down replica fails the request.
	All
)

var levelNames = [...]string{One: "ONE", Quorum: "QUORUM", All: "ALL"}

// Parse returns the level named s (ONE, QUORUM or ALL, any case).
func Parse(s string) (Level, error) {
	for l, name := range levelNames {
		if name != "" && strings.EqualFold(s, name) {
			return Level(l), nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want ONE, QUORUM or ALL)", ErrUnknownLevel, s)
}

// String returns the level's name, as Parse accepts it.
func (l Level) String() string {
	if l.Valid() {
		return levelNames[l]
	}
	return fmt.Sprintf("Level(%d)", uint8(l))
}

// Valid reports whether l is One, Quorum or All.
func (l Level) Valid() bool { return l >= One && l <= All }

// Required returns how many of n replicas the level needs. It is never
// below 1, so a request to no replica at all fails instead of succeeding
// vacuously, and an invalid level counts as All: a caller's mistake
// errs toward consistency, not toward silently weaker guarantees.
func (l Level) Required(n int) int {
	var r int
	switch l {
	case One:
		r = 1
	case Quorum:
		r = n/2 + 1
	default:
		r = n
	}
	return max(r, 1)
}
