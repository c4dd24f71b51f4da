// Package process runs a server binary as a child process, the one way
// the benchmarks, the fault-injection suite and the process tests start,
// signal and stop ringcache and redis-server: a process group of its own
// (a terminal's Ctrl-C reaches the caller, which stops its children in
// order), the parent-death signal (a killed caller leaves no server
// behind), output appended to a log file, readiness as an answered PING,
// and one reaper goroutine per process that ends when the process does.
package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrExited reports a process that exited while it was awaited.
var ErrExited = errors.New("process: exited")

// ErrNotReady reports a process that did not answer PING in time.
var ErrNotReady = errors.New("process: no answer to PING")

// Config describes one process.
type Config struct {
	// Bin and Args are the command.
	Bin  string
	Args []string
	// Log is the file the process's output is appended to (created if
	// missing); Marker, when set, is written to it first, on a line of
	// its own.
	Log, Marker string
	// UID, when not 0, runs the process as that user and group.
	UID int
	// Addr is the RESP address Start polls with PING until it answers;
	// Password is sent with AUTH first when set. Empty Addr: Start does
	// not wait.
	Addr, Password string
	// StartTimeout bounds the wait for PING. Default 20s.
	StartTimeout time.Duration
}

// Process is a started child process.
type Process struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{} // closed by the reaper once the process exited
	err    error         // what Wait returned; set before exited closes
}

// Start runs the process. When cfg.Addr is set it then waits as
// WaitReady does, and kills a process that is not ready.
func Start(ctx context.Context, cfg Config) (*Process, error) {
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 20 * time.Second
	}
	logFile, err := os.OpenFile(cfg.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if cfg.Marker != "" {
		fmt.Fprintln(logFile, cfg.Marker)
	}
	cmd := exec.Command(cfg.Bin, cfg.Args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if cfg.UID != 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(cfg.UID), Gid: uint32(cfg.UID), NoSetGroups: true}
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("process: start %s: %w", cfg.Bin, err)
	}
	p := &Process{cmd: cmd, log: cfg.Log, exited: make(chan struct{})}
	go func() { // the reaper
		p.err = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	if cfg.Addr == "" {
		return p, nil
	}
	if err := p.WaitReady(ctx, cfg.Addr, cfg.Password, cfg.StartTimeout); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// WaitReady polls PING at addr until it answers, the process exits
// (ErrExited), or timeout passes (ErrNotReady). The errors carry the
// tail of the log.
func (p *Process) WaitReady(ctx context.Context, addr, password string, timeout time.Duration) error {
	if err := p.waitPing(ctx, addr, password, timeout); err != nil {
		return fmt.Errorf("%s (pid %d): %w\n%s", p.cmd.Path, p.Pid(), err, p.LogTail(2000))
	}
	return nil
}

func (p *Process) waitPing(ctx context.Context, addr, password string, timeout time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: addr, Password: password, Protocol: 2, DisableIdentity: true,
		MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second, PoolSize: 1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := c.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%w at start: %v", ErrExited, p.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("%w within %v: %v", ErrNotReady, timeout, err)
		case <-tick.C:
		}
	}
}

// Pid returns the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the process exited and was reaped.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Running reports whether the process has not exited yet.
func (p *Process) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Wait waits until the process exited and returns how: nil for status 0,
// else an *exec.ExitError.
func (p *Process) Wait() error {
	<-p.exited
	return p.err
}

// ExitCode returns the exit status, -1 while the process runs or when a
// signal ended it.
func (p *Process) ExitCode() int {
	if p.Running() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Success reports whether the process exited with status 0; false while
// it runs.
func (p *Process) Success() bool {
	return !p.Running() && p.cmd.ProcessState.Success()
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill sends SIGKILL and waits until the process is reaped.
func (p *Process) Kill() {
	if p.Running() {
		_ = p.cmd.Process.Kill()
	}
	<-p.exited
}

// Stop sends SIGTERM (after SIGCONT, in case it is stopped) and waits up
// to timeout or ctx for the exit, then SIGKILLs. It returns an error when
// the process had to be killed.
func (p *Process) Stop(ctx context.Context, timeout time.Duration) error {
	if !p.Running() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.exited:
		return nil
	case <-timer.C:
	case <-ctx.Done():
	}
	p.Kill()
	return fmt.Errorf("process: pid %d did not exit within %v of SIGTERM, killed", p.Pid(), timeout)
}

// LogTail returns the last n bytes of the process's log.
func (p *Process) LogTail(n int) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}
