package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringcache/ringcache/bench/loopback"
)

// Process lifetimes. Start polls PING every startPoll for up to
// startTimeout; Stop sends SIGTERM and waits stopTimeout before SIGKILL.
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
		cmd    *exec.Cmd     // nil when nothing runs
		exited chan struct{} // closed by the reaper goroutine when cmd exits
		dir    string        // "" when removed
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
	logPath := filepath.Join(dir, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		os.RemoveAll(dir)
		return "", 0, fmt.Errorf("%w: %v", ErrTargetStart, err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		logFile.Close()
		os.RemoveAll(dir)
		return "", 0, fmt.Errorf("%w: %v", ErrTargetStart, err)
	}
	cmd := exec.Command(t.bin, t.args(addr, data)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A process group of its own keeps a terminal's Ctrl-C away from the
	// server, so it is stopped in order by Stop rather than racing us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		os.RemoveAll(dir)
		return "", 0, fmt.Errorf("%w: %v", ErrTargetStart, err)
	}
	exited := make(chan struct{})
	go func() { // reaper: owned by this target, ends when the process does
		_ = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	t.mu.Lock()
	t.mu.cmd, t.mu.exited, t.mu.dir = cmd, exited, dir
	t.mu.Unlock()

	if err := waitReady(ctx, addr.String(), exited); err != nil {
		return "", 0, fmt.Errorf("%w: %s: %v; log: %s", ErrTargetStart,
			cmd.String(), err, tailFile(logPath, 800))
	}
	return addr.String(), cmd.Process.Pid, nil
}

// waitReady polls PING until it succeeds, the process exits, or the
// deadline passes.
func waitReady(ctx context.Context, addr string, exited <-chan struct{}) error {
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true,
		MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	t := time.NewTicker(startPoll)
	defer t.Stop()
	for {
		err := c.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("process exited")
		case <-ctx.Done():
			return fmt.Errorf("no PONG: %v", err)
		case <-t.C:
		}
	}
}

// Stop sends SIGTERM, waits up to stopTimeout (or ctx), then SIGKILLs, and
// removes the temporary directory.
func (t *procTarget) Stop(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var err error
	if t.mu.cmd != nil {
		err = stopProcess(ctx, t.mu.cmd.Process, t.mu.exited)
		t.mu.cmd = nil
	}
	if t.mu.dir != "" {
		if rerr := os.RemoveAll(t.mu.dir); rerr != nil && err == nil {
			err = rerr
		}
		t.mu.dir = ""
	}
	return err
}

func stopProcess(ctx context.Context, p *os.Process, exited <-chan struct{}) error {
	select {
	case <-exited:
		return nil
	default:
	}
	_ = p.Signal(syscall.SIGTERM)
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-exited:
		return nil
	case <-timer.C:
	case <-ctx.Done():
	}
	_ = p.Kill()
	<-exited
	return fmt.Errorf("bench: pid %d ignored SIGTERM for %v, killed", p.Pid, stopTimeout)
}

// tailFile returns the last n bytes of a file, for error messages.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}
