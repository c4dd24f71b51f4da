package membership

import (
	"context"
	"math/rand/v2"
	"net"
	"slices"
	"time"
)

// resolveTimeout bounds the DNS lookup of one seed host name.
const resolveTimeout = 2 * time.Second

// joinLoop keeps this node joined to its seeds. The first attempt is
// immediate. While the node is alone and no seed answers it retries with
// exponential backoff (JoinBackoffMin doubling up to JoinBackoffMax);
// otherwise it checks every RejoinInterval and joins the seeds that are
// not alive members. The periodic check is what merges a logical
// partition: two groups that each consider themselves the whole cluster
// exchange full state as soon as one reaches a seed of the other, and
// gossip spreads the merged list from there.
func (m *Membership) joinLoop() {
	defer m.loops.Done()
	backoff := m.cfg.JoinBackoffMin
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-timer.C:
		}
		timer.Reset(jitter(m.rejoin(&backoff)))
	}
}

// rejoin joins the seeds that are not alive members and returns how long
// to wait before the next check, updating the backoff.
func (m *Membership) rejoin(backoff *time.Duration) time.Duration {
	targets := m.missingSeeds()
	if len(targets) == 0 {
		*backoff = m.cfg.JoinBackoffMin
		return m.cfg.RejoinInterval
	}
	m.joinAttempts.Add(1)
	n, err := m.list.Join(targets)
	if n > 0 {
		*backoff = m.cfg.JoinBackoffMin
		m.log.Info("membership: joined seeds", "seeds", targets, "contacted", n)
		return m.cfg.RejoinInterval
	}
	m.joinFailures.Add(1)
	if m.reg.counts().Alive > 1 {
		// Already part of a group: the missing seed may be down for good,
		// so keep checking at the normal pace.
		m.log.Info("membership: seeds unreachable", "seeds", targets, "err", err)
		return m.cfg.RejoinInterval
	}
	wait := *backoff
	*backoff = min(2*wait, m.cfg.JoinBackoffMax)
	m.log.Warn("membership: no seed reachable", "seeds", targets, "retry_in", wait, "err", err)
	return wait
}

// missingSeeds returns the seeds that are neither this node nor an alive
// member. A seed whose name does not resolve is returned as is, so the
// join reports the failure.
func (m *Membership) missingSeeds() []string {
	alive := m.reg.aliveAddrs()
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
	return out
}

// seedList returns a copy of the current seeds.
func (m *Membership) seedList() []string {
	m.seeds.Lock()
	defer m.seeds.Unlock()
	return slices.Clone(m.seeds.list)
}

// addSeeds adds seeds for the join loop to reach from its next check on.
func (m *Membership) addSeeds(seeds ...string) {
	m.seeds.Lock()
	defer m.seeds.Unlock()
	for _, s := range seeds {
		if !slices.Contains(m.seeds.list, s) {
			m.seeds.list = append(m.seeds.list, s)
		}
	}
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
