package bench

import (
	"context"
	"errors"
	"io"
)

// Target is one system under test: something compare can start, point
// redis-benchmark at, measure and stop. A single server process today; a
// later cluster target starts several nodes and returns the address of the
// one redis-benchmark talks to, and the pid whose memory is reported.
type Target interface {
	// Name labels the target's rows in the table, e.g. "redis-aof".
	Name() string
	// Start launches the target and returns once it answers PING.
	Start(ctx context.Context) (addr string, pid int, err error)
	// Stop ends everything Start launched and removes its files. It is
	// idempotent and must work after a failed or cancelled Start.
	Stop(ctx context.Context) error
}

// NewRedisTarget returns a redis-server target. extra holds the persistence
// flags, e.g. "--appendonly", "no". The server runs on a free 127.0.0.1
// port in its own temporary directory with RDB snapshots off.
func NewRedisTarget(name, bin string, extra ...string) Target {
	return &procTarget{
		name: name,
		bin:  bin,
		args: func(addr hostPort, dir string) []string {
			base := []string{"--bind", addr.host, "--port", addr.port, "--dir", dir,
				"--save", "", "--daemonize", "no", "--logfile", ""}
			return append(base, extra...)
		},
	}
}

// NewRingcacheTarget returns a single ringcache node started from bin with
// fsync everysec, the durability redis-server's appendfsync everysec
// matches, and a temporary data directory. extra flags follow those, e.g.
// "--maxmemory", "64mb".
func NewRingcacheTarget(name, bin string, extra ...string) Target {
	return &procTarget{
		name: name,
		bin:  bin,
		args: func(addr hostPort, dir string) []string {
			base := []string{"--listen", addr.String(), "--data-dir", dir,
				"--fsync", "everysec", "--log-level", "warn"}
			return append(base, extra...)
		},
	}
}

// startTarget starts t, logging its address and pid, and returns the
// function that stops it. The stop has a deadline of its own: the
// caller's ctx may be cancelled by then, and stopping must still happen.
func startTarget(ctx context.Context, log io.Writer, t Target) (addr string, pid int, stop func() error, err error) {
	logf(log, "== %s: starting\n", t.Name())
	stop = func() error {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*stopTimeout)
		defer cancel()
		return t.Stop(stopCtx)
	}
	if addr, pid, err = t.Start(ctx); err != nil {
		return "", 0, nil, errors.Join(err, stop())
	}
	logf(log, "== %s: listening on %s, pid %d\n", t.Name(), addr, pid)
	return addr, pid, stop, nil
}
