package membership

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"time"
)

// resolveTimeout bounds the DNS lookup of one seed host name.
const resolveTimeout = 2 * time.Second

// joinLoop keeps this node joined to its seeds and to the members it
// knows. The first attempt is immediate. While the node is alone and no
// target answers it retries with exponential backoff (JoinBackoffMin
// doubling up to JoinBackoffMax); otherwise it checks every
// RejoinInterval and joins the targets that are not alive members. The
// periodic check is what merges a logical partition: two groups that
// each consider themselves the whole cluster exchange full state as soon
// as one reaches a member of the other, and gossip spreads the merged
// list from there. A join with a member that declared this node dead
// also makes this node refute that at once (it learns it from the
// member's state), which is what brings a node back quickly after a cut
// heals.
func (m *Membership) joinLoop() {
	defer m.loops.Done()
	backoff := m.cfg.JoinBackoffMin
	timer := time.NewTimer(0)
	defer timer.Stop()
	var lastFailed string
	for {
		select {
		case <-m.stop:
			return
		case <-timer.C:
		}
		timer.Reset(jitter(m.rejoin(&backoff, &lastFailed)))
	}
}

// rejoin joins the targets that are not alive members and returns how
// long to wait before the next check, updating the backoff. lastFailed
// holds the targets of the last failed attempt: a failure is logged when
// they change, not on every retry.
func (m *Membership) rejoin(backoff *time.Duration, lastFailed *string) time.Duration {
	targets := m.joinTargets()
	if len(targets) == 0 {
		*backoff, *lastFailed = m.cfg.JoinBackoffMin, ""
		return m.cfg.RejoinInterval
	}
	m.joinAttempts.Add(1)
	n, err := m.list.Join(targets)
	if n > 0 {
		*backoff, *lastFailed = m.cfg.JoinBackoffMin, ""
		m.log.Info("membership: joined", "targets", targets, "contacted", n)
		return m.cfg.RejoinInterval
	}
	m.joinFailures.Add(1)
	failed := strings.Join(targets, ",")
	level := slog.LevelDebug
	if failed != *lastFailed {
		level = slog.LevelInfo
	}
	*lastFailed = failed
	if m.reg.counts().Alive > 1 {
		// Already part of a group: the missing members may be down for a
		// while, so keep checking at the normal pace.
		m.log.Log(context.Background(), level, "membership: members unreachable", "targets", targets, "err", err)
		return m.cfg.RejoinInterval
	}
	wait := *backoff
	*backoff = min(2*wait, m.cfg.JoinBackoffMax)
	if level == slog.LevelInfo {
		level = slog.LevelWarn
	}
	m.log.Log(context.Background(), level, "membership: no seed or known member reachable",
		"targets", targets, "retry_in", wait, "err", err)
	return wait
}

// joinTargets returns the seeds that are neither this node nor an alive
// member, then the gossip addresses of the members this node sees dead
// (whether gossip declared them dead or they come from the persisted list
// and were not heard of yet). Members that left for good, and suspects,
// are not targets. A seed whose name does not resolve is returned as is,
// so the join reports the failure.
func (m *Membership) joinTargets() []string {
	alive, lost := m.reg.addrs()
	var out []string
	for _, s := range m.seedList() {
		addrs := resolveSeed(s)
		if slices.Contains(addrs, m.self) {
			continue
		}
		if !slices.ContainsFunc(addrs, func(a string) bool { return alive[a] }) {
			out = append(out, s)
		}
	}
	for _, a := range lost {
		if a != m.self && !alive[a] && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// seeded reports whether some seed is not this node itself: a node
// without such a seed that knows no other member starts a cluster of its
// own, any other expects to reach someone.
func (m *Membership) seeded() bool {
	for _, s := range m.seedList() {
		if !slices.Contains(resolveSeed(s), m.self) {
			return true
		}
	}
	return false
}

// Seeds reports on the seeds: the alive members gossiping at a seed's
// address (this node excluded), whether every seed other than this node
// is one of them (reached), and whether this node is one of its own
// seeds. A new cluster is founded only by a seed, once every seed
// answered (see cluster's join).
func (m *Membership) Seeds() (members []Member, reached, isSeed bool) {
	alive := map[string]Member{}
	for _, mb := range m.Members() {
		if mb.State == Alive && mb.ID != m.cfg.NodeID {
			alive[mb.GossipAddr] = mb
		}
	}
	reached = true
	for _, s := range m.seedList() {
		addrs := resolveSeed(s)
		if slices.Contains(addrs, m.self) {
			isSeed = true
			continue
		}
		i := slices.IndexFunc(addrs, func(a string) bool { _, ok := alive[a]; return ok })
		if i < 0 {
			reached = false
			continue
		}
		members = append(members, alive[addrs[i]])
	}
	return members, reached, isSeed
}

// seedList returns a copy of the current seeds.
func (m *Membership) seedList() []string {
	m.seeds.Lock()
	defer m.seeds.Unlock()
	return slices.Clone(m.seeds.list)
}

// resolveSeed returns the ip:port forms of a host:port seed, in the form
// memberlist.Node.Address uses, or nil if it cannot be resolved.
func resolveSeed(seed string) []string {
	host, port, err := net.SplitHostPort(seed)
	if err != nil {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return []string{net.JoinHostPort(ip.String(), port)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil
	}
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = net.JoinHostPort(ip.IP.String(), port)
	}
	return out
}

// jitter stretches d by up to a tenth so that nodes started together do
// not join in lockstep.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d + rand.N(d/10+1)
}
