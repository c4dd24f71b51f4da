package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"

	"github.com/ringcache/ringcache/server/script"
)

// Server is a RESP server in front of a Store. Create it with New, run it
// with Serve or ListenAndServe, stop it with Shutdown.
type Server struct {
	cfg     Config
	store   Store
	latest  LatestReader // store's, if it has one
	view    ClusterView  // store's ClusterView, nil when it has none
	router  Router       // store's, nil when keys have no primary
	relay   incrRelay    // lone INCRs forwarded to their primary together
	peers   Peers        // store's, nil without other members
	scripts *script.Engine
	log     *slog.Logger
	metrics Metrics
	now     func() time.Time
	locks   keyLocks
	stats   counters
	// cmdStats and errStats are INFO's commandstats and errorstats.
	cmdStats commandStats
	errStats errorStats
	slow     slowlog
	latency  latencyMonitor
	// live are the settings CONFIG SET changes while the server runs.
	live live
	// monitors are the connections in MONITOR mode.
	monitors monitors
	paused   pause
	saves    saver
	started  time.Time
	runID    string
	nextID   atomic.Int64

	// ctx is the context of every Store call, or the parent of a
	// connection's consistency override (client.ctx); it is cancelled only
	// when Shutdown gives up waiting, so stuck store calls unblock.
	ctx    context.Context
	cancel context.CancelFunc

	closingCh  chan struct{} // closed when Shutdown starts
	acceptDone chan struct{} // closed when Shutdown has drained or given up
	acceptOnce sync.Once

	mu struct {
		sync.Mutex
		clients  map[*client]struct{} // live, admitted connections
		ln       *listener            // set while serving
		addr     net.Addr
		serving  bool
		closing  bool
		drained  chan struct{} // closed once closing and clients is empty
		serveErr error         // why the accept loop stopped, if not Shutdown
	}
}

// counters back Stats. All are updated with atomics; per-pipeline work
// updates them once per pipeline, not once per command.
type counters struct {
	current, total, rejected atomic.Int64
	commands                 atomic.Int64
	hits, misses, expired    atomic.Int64
	bytesIn, bytesOut        atomic.Int64
	stalled                  atomic.Int64
	// forwarded counts requests sent to a key's primary; rerouted, those
	// routed again after the node refused them; relayed, requests this
	// node passed on as not their primary; refused, those it refused.
	forwarded, rerouted, relayed, refused atomic.Int64
}

// Stats is a snapshot of the server's counters.
type Stats struct {
	ConnectionsCurrent  int64 // clients connected now
	ConnectionsTotal    int64 // clients admitted since start
	ConnectionsRejected int64 // clients refused (maxclients, protected mode)
	CommandsProcessed   int64 // commands executed, including failed ones
	KeyspaceHits        int64 // key lookups that found a key
	KeyspaceMisses      int64 // key lookups that found nothing
	ExpiredKeys         int64 // keys deleted because they were given a past expiry
	BytesIn             int64 // bytes read from clients
	BytesOut            int64 // bytes written to clients
	CommandsStalled     int64 // commands refused after waiting through a stall (Config.MaxWait)
	Forwarded           int64 // requests sent to their keys' primary
	Rerouted            int64 // forwarded requests routed again after a refusal
	Relayed             int64 // forwarded requests passed on (this node was not the primary)
	ForwardsRefused     int64 // forwarded requests refused (not the primary, hops used up)
}

// New returns a Server for store. It validates cfg.
func New(cfg Config, store Store) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, ErrNilStore
	}
	s := &Server{
		cfg:        cfg,
		store:      store,
		log:        cfg.Logger,
		metrics:    cfg.Metrics,
		now:        cfg.Now,
		closingCh:  make(chan struct{}),
		acceptDone: make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.view, _ = store.(ClusterView)
	s.latest, _ = store.(LatestReader)
	s.router, _ = store.(Router)
	s.peers, _ = store.(Peers)
	scfg := script.DefaultConfig()
	scfg.Logger = s.log.With("component", "script")
	scfg.BusyThreshold = cfg.BusyThreshold
	scripts, err := script.New(scfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	s.scripts = scripts
	s.started = s.now()
	s.slow.init()
	s.live.init(cfg)
	var id [20]byte
	rand.Read(id[:])
	s.runID = hex.EncodeToString(id[:])
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.clients = make(map[*client]struct{})
	s.mu.drained = make(chan struct{})
	return s, nil
}

// ListenAndServe listens on Config.Addr and serves until Shutdown.
func (s *Server) ListenAndServe() error {
	if s.isClosing() {
		return ErrServerClosed
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve accepts clients on ln until Shutdown, then returns ErrServerClosed.
// It returns another error if ln fails for good. Serve closes ln.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	switch {
	case s.mu.closing:
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	case s.mu.serving:
		s.mu.Unlock()
		return errors.New("server: already serving")
	}
	wl := &listener{Listener: ln, srv: s, accepted: time.Now()}
	s.mu.serving, s.mu.ln, s.mu.addr = true, wl, ln.Addr()
	s.mu.Unlock()

	rc := redcon.NewServerNetwork(ln.Addr().Network(), ln.Addr().String(), s.handle, nil, s.closed)
	err := rc.Serve(wl)
	if s.isClosing() {
		return ErrServerClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.serveErr != nil {
		return s.mu.serveErr
	}
	return err
}

// Addr returns the listening address, or nil before Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.addr
}

// Shutdown stops accepting clients, lets every client finish the pipeline
// it is executing and receive its replies, then closes the connections. It
// returns nil once all are closed, or ctx's error after force-closing the
// rest when ctx ends first. Serve then returns ErrServerClosed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	first := !s.mu.closing
	if first {
		s.mu.closing = true
		close(s.closingCh)
	}
	ln := s.mu.ln
	conns := s.clientConnsLocked()
	s.checkDrainedLocked()
	drained := s.mu.drained
	s.mu.Unlock()

	if first && ln != nil {
		ln.Listener.Close()
	}
	for _, cc := range conns {
		cc.drain()
	}
	defer s.releaseAccept()
	// A background save finishes before the storage may close.
	defer s.saves.wg.Wait()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		s.cancel()
		s.mu.Lock()
		conns = s.clientConnsLocked()
		s.mu.Unlock()
		for _, cc := range conns {
			cc.forceClose()
		}
		return ctx.Err()
	}
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	return Stats{
		ConnectionsCurrent:  s.stats.current.Load(),
		ConnectionsTotal:    s.stats.total.Load(),
		ConnectionsRejected: s.stats.rejected.Load(),
		CommandsProcessed:   s.stats.commands.Load(),
		KeyspaceHits:        s.stats.hits.Load(),
		KeyspaceMisses:      s.stats.misses.Load(),
		ExpiredKeys:         s.stats.expired.Load(),
		BytesIn:             s.stats.bytesIn.Load(),
		BytesOut:            s.stats.bytesOut.Load(),
		CommandsStalled:     s.stats.stalled.Load(),
		Forwarded:           s.stats.forwarded.Load(),
		Rerouted:            s.stats.rerouted.Load(),
		Relayed:             s.stats.relayed.Load(),
		ForwardsRefused:     s.stats.refused.Load(),
	}
}

func (s *Server) resetStats() {
	s.stats.total.Store(0)
	s.stats.rejected.Store(0)
	s.stats.commands.Store(0)
	s.stats.hits.Store(0)
	s.stats.misses.Store(0)
	s.stats.expired.Store(0)
	s.stats.bytesIn.Store(0)
	s.stats.bytesOut.Store(0)
	s.stats.stalled.Store(0)
	s.cmdStats.reset()
	s.errStats.reset()
}

func (s *Server) isClosing() bool {
	select {
	case <-s.closingCh:
		return true
	default:
		return false
	}
}

func (s *Server) releaseAccept() {
	s.acceptOnce.Do(func() { close(s.acceptDone) })
}

func (s *Server) setServeErr(err error) {
	s.mu.Lock()
	s.mu.serveErr = err
	s.mu.Unlock()
}

// register adds an admitted client; it refuses once Shutdown has begun.
func (s *Server) register(c *client) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closing {
		return false
	}
	s.mu.clients[c] = struct{}{}
	s.stats.current.Add(1)
	s.stats.total.Add(1)
	if s.metrics != nil {
		s.metrics.ConnOpened()
	}
	return true
}

// closed is redcon's per-connection exit callback. redcon also calls it
// when a connection leaves its loop for MONITOR (Detach): that one lives
// on in serveMonitor, which calls unregister when it ends. It starts
// here, the last thing redcon's goroutine does with the connection, so
// the two never touch it at once.
func (s *Server) closed(conn redcon.Conn, err error) {
	cc, ok := conn.NetConn().(*clientConn)
	if !ok {
		return
	}
	if cc.cl.detached.Load() {
		go s.serveMonitor(cc.cl)
		return
	}
	s.unregister(cc, err)
}

// unregister forgets a connection that ended.
func (s *Server) unregister(cc *clientConn, err error) {
	if err != nil && !errors.Is(err, errProtocol) && !errors.Is(err, errDraining) {
		s.log.Debug("client closed", "id", cc.cl.id, "error", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.mu.clients[cc.cl]; !ok {
		return
	}
	delete(s.mu.clients, cc.cl)
	s.stats.current.Add(-1)
	if s.metrics != nil {
		s.metrics.ConnClosed()
	}
	s.checkDrainedLocked()
}

func (s *Server) checkDrainedLocked() {
	if !s.mu.closing || len(s.mu.clients) > 0 {
		return
	}
	select {
	case <-s.mu.drained:
	default:
		close(s.mu.drained)
	}
}

func (s *Server) clientConnsLocked() []*clientConn {
	out := make([]*clientConn, 0, len(s.mu.clients))
	for c := range s.mu.clients {
		out = append(out, c.conn)
	}
	return out
}

// clients returns the live sessions, for CLIENT LIST.
func (s *Server) clients() []*client {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*client, 0, len(s.mu.clients))
	for c := range s.mu.clients {
		out = append(out, c)
	}
	return out
}
