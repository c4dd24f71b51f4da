package process_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringcache/ringcache/bench/await"
	"github.com/ringcache/ringcache/bench/loopback"
	"github.com/ringcache/ringcache/bench/process"
)

// trapped is a script that exits 0 on SIGTERM, once it says "ready".
const trapped = "trap 'exit 0' TERM; echo ready; while :; do sleep 0.02; done"

// ready waits until p's log says "ready": its trap is set.
func ready(t *testing.T, p *process.Process) {
	t.Helper()
	await.T(t, 10*time.Second, "the script's trap", func() bool { return strings.Contains(p.LogTail(100), "ready") })
}

func sh(t *testing.T, script string, addr string, timeout time.Duration) (*process.Process, error) {
	t.Helper()
	return process.Start(context.Background(), process.Config{
		Bin: "/bin/sh", Args: []string{"-c", script},
		Log: filepath.Join(t.TempDir(), "log"), Marker: "--- start",
		Addr: addr, StartTimeout: timeout,
	})
}

func TestStartReportsAProcessThatExits(t *testing.T) {
	addr, err := loopback.Addr()
	if err != nil {
		t.Fatal(err)
	}
	_, err = sh(t, "echo bad config >&2; exit 2", addr, 10*time.Second)
	if !errors.Is(err, process.ErrExited) || !strings.Contains(err.Error(), "bad config") {
		t.Fatalf("Start of a process that exits = %v, want ErrExited with the log", err)
	}
}

func TestStartKillsAProcessThatNeverAnswers(t *testing.T) {
	addr, err := loopback.Addr()
	if err != nil {
		t.Fatal(err)
	}
	_, err = sh(t, "exec sleep 30", addr, 200*time.Millisecond)
	if !errors.Is(err, process.ErrNotReady) {
		t.Fatalf("Start of a process that never listens = %v, want ErrNotReady", err)
	}
}

func TestStopEndsWithSIGTERMThenSIGKILL(t *testing.T) {
	p, err := sh(t, trapped, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	ready(t, p)
	if err := p.Stop(context.Background(), 10*time.Second); err != nil || p.Running() || !p.Success() {
		t.Fatalf("Stop of a process that exits on SIGTERM = %v, running %v, success %v", err, p.Running(), p.Success())
	}

	p, err = sh(t, "trap '' TERM; echo ready; while :; do sleep 0.02; done", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	ready(t, p)
	if err := p.Stop(context.Background(), 100*time.Millisecond); err == nil || p.Running() {
		t.Fatalf("Stop of a process that ignores SIGTERM = %v, running %v; want an error and a killed process", err, p.Running())
	}
}

func TestStopResumesAStoppedProcess(t *testing.T) {
	p, err := sh(t, trapped, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	ready(t, p)
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(context.Background(), 10*time.Second); err != nil || !p.Success() {
		t.Fatalf("Stop of a stopped process = %v, success %v", err, p.Success())
	}
}

func TestStartWaitsForPING(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed")
	}
	addr, err := loopback.Addr()
	if err != nil {
		t.Fatal(err)
	}
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	p, err := process.Start(context.Background(), process.Config{
		Bin: bin, Args: []string{"--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no",
			"--requirepass", "pw", "--dir", t.TempDir()},
		Log: filepath.Join(t.TempDir(), "log"), Addr: addr, Password: "pw",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if !p.Running() || p.Pid() <= 0 {
		t.Fatalf("after Start: running %v, pid %d", p.Running(), p.Pid())
	}
}
