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
// differs from the one last delivered, and persists the roster (with
// Store) whenever it differs from the one last saved. Events that arrive
// while OnChange runs leave one pending kick, so they are delivered
// together afterwards. Kicks that change nothing visible (a push/pull
// that repeats known state) are dropped.
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
		if err := m.persist(); err != nil {
			m.log.Warn("membership: persist member list", "err", err)
		}
		if m.cfg.OnChange != nil {
			m.cfg.OnChange(slices.Clone(cur))
		}
	}
}

// persist saves the roster if it changed since the last save. Called by
// the notifier, and by shutdown once the notifier stopped.
func (m *Membership) persist() error {
	if m.cfg.Store == nil {
		return nil
	}
	r := rosterOf(m.reg.members())
	if m.saved != nil && slices.Equal(r, m.saved) {
		return nil
	}
	if err := saveRoster(m.cfg.Store, r); err != nil {
		return err
	}
	m.saved = r
	return nil
}
