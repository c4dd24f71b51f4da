package membership

import (
	"crypto/sha256"
	"errors"
	"fmt"
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

	joinAttempts atomic.Uint64
	joinFailures atomic.Uint64

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
// that joins the seeds (with backoff while none answers) and re-joins any
// seed that is not an alive member every RejoinInterval. Start does not
// wait for a seed: the node serves as a cluster of one until the loop
// reaches one.
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
	m.del = &delegate{reg: m.reg, log: log}
	m.boot = uint64(time.Now().UnixNano())
	raw, err := encodeMeta(m.localMeta())
	if err != nil {
		return nil, err
	}
	m.del.meta.Store(&raw)
	m.seeds.list = slices.Clone(cfg.Seeds)

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
	log.Info("membership: started", "id", cfg.NodeID, "gossip", m.self, "seeds", cfg.Seeds)

	if cfg.OnChange != nil {
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
		return nil, fmt.Errorf("%w: GossipAddr: %v", ErrInvalidConfig, err)
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
	mc.GossipInterval = c.GossipInterval
	mc.PushPullInterval = c.PushPullInterval
	mc.GossipToTheDeadTime = c.GossipToTheDeadTime
	mc.TCPTimeout = c.TCPTimeout
	mc.Delegate = m.del
	mc.Events = m.del
	mc.Alive = m.del
	mc.Merge = m.del
	mc.Conflict = m.del
	mc.Ping = m.del
	mc.Logger = newMemberlistLogger(m.log, m.reg.suspect)
	return mc, nil
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
	return m.updateMeta(state)
}

// updateMeta advertises state; the caller holds life.
func (m *Membership) updateMeta(state string) error {
	md := m.localMeta()
	md.NodeState = state
	raw, err := encodeMeta(md)
	if err != nil {
		return err
	}
	m.del.meta.Store(&raw)
	if err := m.list.UpdateNode(m.cfg.LeaveTimeout); err != nil {
		return fmt.Errorf("membership: advertise node state %q: %w", state, err)
	}
	return nil
}

// Close leaves the cluster and stops gossip: it stops the background
// loops, advertises NodeLeaving (so peers report this node Left rather
// than Dead), broadcasts the leave, and shuts memberlist down. Each
// broadcast waits at most LeaveTimeout. Close is idempotent; later calls
// return the first call's result. OnChange must not call Close.
func (m *Membership) Close() error {
	m.closeOnce.Do(func() { m.closeErr = m.shutdown(true) })
	return m.closeErr
}

// shutdown stops everything; leave=false skips the goodbye, which is how
// a crash looks to the other members (tests use it).
func (m *Membership) shutdown(leave bool) error {
	m.life.Lock()
	m.life.closed = true
	m.life.Unlock()

	close(m.stop)
	m.loops.Wait()

	var errs []error
	if leave {
		if err := m.updateMeta(NodeLeaving); err != nil {
			errs = append(errs, err)
		}
		if err := m.list.Leave(m.cfg.LeaveTimeout); err != nil {
			errs = append(errs, fmt.Errorf("membership: leave: %w", err))
		}
	}
	if err := m.list.Shutdown(); err != nil {
		errs = append(errs, fmt.Errorf("membership: shutdown: %w", err))
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
