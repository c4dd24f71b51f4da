package server

import (
	"time"
)

// cmdWait answers WAIT numreplicas timeout: how many replicas hold the
// connection's last write, waiting until numreplicas do, timeout
// milliseconds pass (0: no limit), or the write can gain no more (its
// replicas have all answered, or its request timeout passed). The count
// is that of the write's key with the fewest copies. Stores without
// replicas answer 0, as Redis without replicas does, and so does a
// connection that has written nothing yet.
func cmdWait(x *call) error {
	n, ok := parseInt64(x.args[1])
	if !ok {
		return errNotInteger
	}
	ms, ok := parseInt64(x.args[2])
	if !ok {
		return newReplyError("ERR timeout is not an integer or out of range")
	}
	if ms < 0 {
		return newReplyError("ERR timeout is negative")
	}
	var limit <-chan time.Time
	if ms > 0 {
		t := time.NewTimer(time.Duration(ms) * time.Millisecond)
		defer t.Stop()
		limit = t.C
	}
	for {
		acks, deadline, changed, tracked := x.c.receipt.State()
		wait := time.Until(deadline)
		if tracked && int64(acks) < n && wait > 0 && awaitChange(changed, wait, limit, x.s.closingCh) {
			continue
		}
		x.conn.WriteInt(acks)
		return nil
	}
}

// awaitChange waits until changed is closed or d passes (true: look
// again), or until limit fires or stop is closed (false).
func awaitChange(changed <-chan struct{}, d time.Duration, limit <-chan time.Time, stop <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-changed:
	case <-t.C:
	case <-limit:
		return false
	case <-stop:
		return false
	}
	return true
}
