package cluster

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ringcache/ringcache/cluster/transport"
)

// A peer's answer that it does not know an operation (a node of an older
// version) or a call the caller canceled does not count against the
// peer's health; a timeout or a local unknown operation does.
func TestRecordOutcome(t *testing.T) {
	var failed, succeeded int
	p := &peerSet{failed: func(string, time.Time) { failed++ }, succeeded: func(string) { succeeded++ }}
	pc := &peerConn{id: "peer"}
	for _, c := range []struct {
		err  error
		fail bool
	}{
		{nil, false},
		{fmt.Errorf("antientropy: floor: %w", &transport.RemoteError{Op: transport.OpFloor, Code: 2, Msg: "unknown op"}), false},
		{context.Canceled, false},
		{context.DeadlineExceeded, true},
		{transport.ErrUnknownOp, true},
		{errors.New("connection reset"), true},
	} {
		failed = 0
		p.recordOutcome(pc, c.err, time.Now())
		if got := failed == 1; got != c.fail {
			t.Errorf("recordOutcome(%v): counted as a failure %v, want %v", c.err, got, c.fail)
		}
	}
	if succeeded != 1 {
		t.Errorf("successes counted %d, want 1", succeeded)
	}
}
