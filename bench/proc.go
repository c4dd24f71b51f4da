package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ringcache/ringcache/bench/loopback"
	"github.com/ringcache/ringcache/bench/process"
)

// Process lifetimes. Start waits up to startTimeout for PING (a cluster
// polls its members every startPoll); Stop sends SIGTERM and waits
// stopTimeout before SIGKILL.
const (
	startTimeout = 15 * time.Second
	startPoll    = 50 * time.Millisecond
	stopTimeout  = 10 * time.Second
	startTries   = 3 // a free port can be taken between probe and bind
)

type hostPort struct{ host, port string }

func (h hostPort) String() string { return net.JoinHostPort(h.host, h.port) }

// freePort returns an unused 127.0.0.1 port, free for TCP and UDP (a
// gossip port needs both; loopback.Addr). It is free when returned but
// not reserved, so Start retries if the server loses it.
func freePort() (hostPort, error) {
	a, err := loopback.Addr()
	if err != nil {
		return hostPort{}, err
	}
	host, port, err := net.SplitHostPort(a)
	return hostPort{host, port}, err
}

// procTarget runs one server process in a temporary directory.
type procTarget struct {
	name string
	bin  string
	args func(addr hostPort, dir string) []string

	mu struct {
		sync.Mutex
		proc *process.Process // nil when nothing runs
		dir  string           // "" when removed
	}
}

func (t *procTarget) Name() string { return t.name }

func (t *procTarget) Start(ctx context.Context) (string, int, error) {
	var last error
	for range startTries {
		addr, pid, err := t.startOnce(ctx)
		if err == nil {
			return addr, pid, nil
		}
		last = err
		_ = t.Stop(context.WithoutCancel(ctx))
		if ctx.Err() != nil {
			break
		}
	}
	return "", 0, last
}

func (t *procTarget) startOnce(ctx context.Context) (string, int, error) {
	addr, err := freePort()
	if err != nil {
		return "", 0, fmt.Errorf("%w: %v", ErrTargetStart, err)
	}
	dir, err := os.MkdirTemp("", "ringcache-bench-"+t.name+"-")
	if err != nil {
		return "", 0, fmt.Errorf("%w: %v", ErrTargetStart, err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", 0, fmt.Errorf("%w: %v", ErrTargetStart, err)
	}
	t.mu.Lock()
	t.mu.dir = dir
	t.mu.Unlock()
	if err := t.run(ctx, addr, dir); err != nil {
		return "", 0, err
	}
	return addr.String(), t.pid(), nil
}

// run starts the process on addr with dir's data directory and waits until
// it answers PING.
func (t *procTarget) run(ctx context.Context, addr hostPort, dir string) error {
	p, err := process.Start(ctx, process.Config{
		Bin: t.bin, Args: t.args(addr, filepath.Join(dir, "data")),
		Log: filepath.Join(dir, "server.log"), Addr: addr.String(), StartTimeout: startTimeout,
	})
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrTargetStart, t.name, err)
	}
	t.mu.Lock()
	t.mu.proc = p
	t.mu.Unlock()
	return nil
}

func (t *procTarget) pid() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.proc == nil {
		return 0
	}
	return t.mu.proc.Pid()
}

// Stop sends SIGTERM, waits up to stopTimeout (or ctx), then SIGKILLs, and
// removes the temporary directory.
func (t *procTarget) Stop(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var err error
	if t.mu.proc != nil {
		err = t.mu.proc.Stop(ctx, stopTimeout)
		t.mu.proc = nil
	}
	if t.mu.dir != "" {
		if rerr := os.RemoveAll(t.mu.dir); rerr != nil && err == nil {
			err = rerr
		}
		t.mu.dir = ""
	}
	return err
}
