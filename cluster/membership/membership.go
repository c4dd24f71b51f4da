package membership

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Membership is this node's view of the cluster, kept current by
// memberlist gossip. Create it with Start and stop it with Close; all
// methods are safe for concurrent use.
type Membership struct {
	cfg  Config
	log  *slog.Logger
	list *memberlist.Memberlist
	reg  *registry
	del  *delegate
	self string // this node's advertised gossip address (ip:port)
	// boot identifies this run in the metadata (see meta.Boot).
	boot uint64

	// isSeeded is Seeded's answer, fixed at Start.
	isSeeded bool

	joinAttempts atomic.Uint64
	joinFailures atomic.Uint64

	// saved is the roster last persisted (nil: none yet). Only the
	// notifier touches it, and shutdown once the notifier has stopped.
	saved []Member

	// kick wakes the notifier; buffered 1 so bursts of events coalesce.
	kick chan struct{}
	// stop is closed by Close; the join loop and the notifier (the only
	// goroutines this type starts, tracked by loops) exit on it.
	stop  chan struct{}
	loops sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	life struct {
		// RWMutex: SetNodeState holds it shared while it talks to
		// memberlist; Close holds it exclusively to flip closed, so no
		// metadata update races the leave and shutdown.
		sync.RWMutex
		closed bool
	}
	seeds struct {
		sync.Mutex
		list []string // the seeds the join loop keeps joining
	}
}

// Start binds the gossip address, starts memberlist and a background loop
// that joins the seeds and the known members (with backoff while none
// answers) and re-joins any that is not an alive member every
// RejoinInterval. Start does not wait for a seed: until the loop reaches
// one, the node knows only itself and the members of Config.Known.
func Start(cfg Config) (*Membership, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Membership{
		cfg:  cfg,
		log:  log,
		kick: make(chan struct{}, 1),
		stop: make(chan struct{}),
	}
	m.reg = newRegistry(log, m.kickNotifier)
	m.reg.seed(cfg.Known, cfg.NodeID)
	m.del = &delegate{reg: m.reg, log: log, self: cfg.NodeID, restarted: KnowsOthers(cfg.Known, cfg.NodeID), onJoin: cfg.OnJoin}
	m.boot = uint64(time.Now().UnixNano())
	raw, err := encodeMeta(m.localMeta())
	if err != nil {
		return nil, err
	}
	m.del.meta.Store(&raw)
	m.seeds.list = slices.Clone(cfg.Seeds)
	if cfg.Known != nil {
		// What the store holds already; the notifier writes only changes.
		m.saved = rosterOf(cfg.Known)
	}

	mc, err := m.memberlistConfig()
	if err != nil {
		return nil, err
	}
	list, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("membership: start gossip on %s: %w", cfg.GossipAddr, err)
	}
	m.list = list
	// memberlist announced this node to itself while starting, so the
	// registry already holds it with the address memberlist advertises.
	self, ok := m.reg.get(cfg.NodeID)
	if !ok {
		_ = list.Shutdown()
		return nil, fmt.Errorf("membership: local node %s missing after start", cfg.NodeID)
	}
	m.self = self.GossipAddr
	m.isSeeded = m.seeded()
	log.Info("membership: started", "id", cfg.NodeID, "gossip", m.self, "seeds", cfg.Seeds,
		"known", len(cfg.Known))

	if cfg.OnChange != nil || cfg.Store != nil {
		m.loops.Add(1)
		go m.notifyLoop()
		m.kickNotifier()
	}
	m.loops.Add(1)
	go m.joinLoop()
	return m, nil
}

// memberlistConfig translates Config into memberlist's configuration.
func (m *Membership) memberlistConfig() (*memberlist.Config, error) {
	c := m.cfg
	host, portStr, _ := net.SplitHostPort(c.GossipAddr) // checked by Validate
	port, _ := strconv.Atoi(portStr)
	ip, err := bindIP(host)
	if err != nil {
		return nil, fmt.Errorf("%w: GossipAddr: %w", ErrInvalidConfig, err)
	}
	mc := memberlist.DefaultLANConfig()
	mc.Name = c.NodeID
	mc.BindAddr = ip
	mc.BindPort = port
	mc.AdvertisePort = port
	mc.Label = c.ClusterName
	if c.Secret != "" {
		key := sha256.Sum256([]byte(c.Secret))
		mc.SecretKey = key[:]
	}
	mc.ProbeInterval = c.ProbeInterval
	mc.ProbeTimeout = c.ProbeTimeout
	mc.SuspicionMult = c.SuspicionMult
	mc.SuspicionMaxTimeoutMult = c.SuspicionMaxTimeoutMult
	mc.GossipInterval = c.GossipInterval
	mc.PushPullInterval = c.PushPullInterval
	mc.GossipToTheDeadTime = c.GossipToTheDeadTime
	mc.DeadNodeReclaimTime = c.DeadNodeReclaimTime
	mc.TCPTimeout = c.TCPTimeout
	mc.Delegate = m.del
	mc.Events = m.del
	mc.Alive = m.del
	mc.Merge = m.del
	mc.Conflict = m.del
	mc.Ping = m.del
	mc.Logger = newMemberlistLogger(m.log, m.reg.suspect)
	if c.WrapTransport != nil {
		t, err := netTransport(ip, port, mc.Logger)
		if err != nil {
			return nil, fmt.Errorf("membership: start gossip on %s: %w", c.GossipAddr, err)
		}
		if port == 0 {
			mc.BindPort = t.GetAutoBindPort()
			mc.AdvertisePort = mc.BindPort
		}
		mc.Transport = c.WrapTransport(t)
	}
	return mc, nil
}

// netTransport binds memberlist's network transport, as memberlist does
// when it is given none: a free port (0) is retried a few times, since
// TCP and UDP must both get it.
func netTransport(ip string, port int, logger *log.Logger) (*memberlist.NetTransport, error) {
	nc := &memberlist.NetTransportConfig{BindAddrs: []string{ip}, BindPort: port, Logger: logger}
	tries := 1
	if port == 0 {
		tries = 10
	}
	var err error
	for range tries {
		var t *memberlist.NetTransport
		if t, err = memberlist.NewNetTransport(nc); err == nil {
			return t, nil
		}
	}
	return nil, err
}

// bindIP resolves the gossip host: memberlist binds IP literals only.
func bindIP(host string) (string, error) {
	if ip := net.ParseIP(host); ip != nil {
		return ip.String(), nil
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return "", err
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("no address for %q", host)
	}
	return ips[0].String(), nil
}

// Members returns every member this node knows, itself included, sorted by
// id. Dead and left members stay in the list (with their state) until they
// come back.
func (m *Membership) Members() []Member {
	return m.reg.members()
}

// LocalNode returns this node as a member.
func (m *Membership) LocalNode() Member {
	self, _ := m.reg.get(m.cfg.NodeID)
	return self
}

// Stats returns member counts by state and join counters.
func (m *Membership) Stats() Stats {
	s := m.reg.counts()
	s.JoinAttempts = m.joinAttempts.Load()
	s.JoinFailures = m.joinFailures.Load()
	return s
}

// SetNodeState changes the ring state this node advertises (see
// NodeJoining, NodeNormal, NodeLeaving) and waits up to LeaveTimeout for
// the update to be gossiped. It returns ErrClosed after Close.
func (m *Membership) SetNodeState(state string) error {
	if state == "" {
		return fmt.Errorf("%w: empty node state", ErrInvalidConfig)
	}
	m.life.RLock()
	defer m.life.RUnlock()
	if m.life.closed {
		return ErrClosed
	}
	return m.updateMeta(state, m.cfg.LeaveTimeout)
}

// updateMeta advertises state, waiting up to timeout for the broadcast;
// the caller holds life (or closed it).
func (m *Membership) updateMeta(state string, timeout time.Duration) error {
	md := m.localMeta()
	md.NodeState = state
	raw, err := encodeMeta(md)
	if err != nil {
		return err
	}
	m.del.meta.Store(&raw)
	if err := m.list.UpdateNode(timeout); err != nil {
		return fmt.Errorf("membership: advertise node state %q: %w", state, err)
	}
	return nil
}

// Seeded reports whether some seed is not this node itself. A node with
// no such seed and no other known member is the first of a new cluster;
// any other expects to reach someone.
func (m *Membership) Seeded() bool { return m.isSeeded }

// Close stops gossip without leaving the cluster: the other members see
// this node fail (Dead) and keep it in their member list until it comes
// back, exactly as if it had crashed. It stops the background loops,
// persists the member list (with Store) and shuts memberlist down. Close
// is idempotent; later calls, and Leave after it, return the first
// call's result. OnChange must not call Close.
func (m *Membership) Close() error {
	m.closeOnce.Do(func() { m.closeErr = m.shutdown(context.Background(), false) })
	return m.closeErr
}

// Leave leaves the cluster for good, then stops gossip as Close does: it
// advertises NodeLeaving (so the other members report this node Left
// rather than Dead, and drop it from the ring) and broadcasts memberlist's
// leave. Each broadcast waits at most LeaveTimeout, or until ctx ends.
// Leave is the only way a member becomes Left; a restart is not a leave.
// Like Close it is idempotent and shares Close's result.
func (m *Membership) Leave(ctx context.Context) error {
	m.closeOnce.Do(func() { m.closeErr = m.shutdown(ctx, true) })
	return m.closeErr
}

// shutdown stops everything; leave says goodbye first.
func (m *Membership) shutdown(ctx context.Context, leave bool) error {
	m.life.Lock()
	m.life.closed = true
	m.life.Unlock()

	close(m.stop)
	m.loops.Wait()

	var errs []error
	if leave {
		timeout := m.cfg.LeaveTimeout
		if dl, ok := ctx.Deadline(); ok {
			timeout = max(min(timeout, time.Until(dl)), time.Millisecond)
		}
		if err := m.updateMeta(NodeLeaving, timeout); err != nil {
			errs = append(errs, err)
		}
		if err := m.list.Leave(timeout); err != nil {
			errs = append(errs, fmt.Errorf("membership: leave: %w", err))
		}
		m.reg.setLeft(m.cfg.NodeID)
	}
	if err := m.list.Shutdown(); err != nil {
		errs = append(errs, fmt.Errorf("membership: shutdown: %w", err))
	}
	if err := m.persist(); err != nil {
		errs = append(errs, err)
	}
	m.log.Info("membership: closed", "id", m.cfg.NodeID, "left", leave)
	return errors.Join(errs...)
}

// localMeta is this run's metadata: the config's, with the boot id.
func (m *Membership) localMeta() meta {
	md := m.cfg.localMeta()
	md.Boot = m.boot
	return md
}

// KnowsOthers reports whether known, the members an earlier run of node
// self knew (Config.Known), holds another member that has not left for
// good: the node restarts into a cluster.
func KnowsOthers(known []Member, self string) bool {
	for _, m := range known {
		if m.ID != self && m.State != Left {
			return true
		}
	}
	return false
}
