package cluster

import (
	"log/slog"
	"testing"
	"time"
)

// TestStandsBackAfterRestart walks the primary hold of a restarted node
// through its join exchanges: held from the start until one tells (at
// most restartHoldMax), released by a first one that found it not
// counted down, held again for primaryGrace by any that found it counted
// down. The hold runs on the monotonic clock from the node's start.
func TestStandsBackAfterRestart(t *testing.T) {
	start := time.Now()
	at := start
	n := &Node{cfg: NodeConfig{HealthRetry: time.Second}, log: slog.New(slog.DiscardHandler),
		now: func() time.Time { return at }, started: start}
	if n.standsBack(at) {
		t.Fatal("a node that never set a hold stands back")
	}

	// A restart: held from the start, until a join exchange tells.
	n.holdPrimary(restartHoldMax)
	if !n.standsBack(at.Add(10 * time.Second)) {
		t.Fatal("a restarted node takes the role before its first join exchange")
	}
	if n.standsBack(at.Add(restartHoldMax)) {
		t.Fatal("a restarted node that no join reached still stands back after restartHoldMax")
	}
	n.joined(false)
	if n.standsBack(at) {
		t.Fatal("a first join exchange that found the node not counted down left it standing back")
	}

	// A later exchange that finds it counted down (after a cut): held
	// again, and a later one that does not leaves the hold as it is.
	at = at.Add(time.Minute)
	n.joined(true)
	if !n.standsBack(at.Add(n.primaryGrace() - time.Millisecond)) {
		t.Fatal("a join exchange that found the node counted down did not hold it back")
	}
	n.joined(false)
	if !n.standsBack(at.Add(time.Second)) {
		t.Fatal("a later join exchange released the hold of a counted-down node early")
	}
	if n.standsBack(at.Add(n.primaryGrace())) {
		t.Fatal("the hold outlived primaryGrace")
	}
}
