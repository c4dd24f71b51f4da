package membership

import "slices"

// kickNotifier asks the notifier to look at the member list again. It
// never blocks: a pending kick already covers this change.
func (m *Membership) kickNotifier() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// notifyLoop calls OnChange, one call at a time, whenever the member list
// differs from the one last delivered. Events that arrive while OnChange
// runs leave one pending kick, so they are delivered together afterwards.
// Kicks that change nothing visible (a push/pull that repeats known
// state) are dropped.
func (m *Membership) notifyLoop() {
	defer m.loops.Done()
	var last []Member
	for {
		select {
		case <-m.stop:
			return
		case <-m.kick:
		}
		cur := m.reg.members()
		if last != nil && slices.Equal(cur, last) {
			continue
		}
		last = cur
		m.cfg.OnChange(slices.Clone(cur))
	}
}
