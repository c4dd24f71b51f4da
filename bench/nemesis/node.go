package nemesis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// errExited reports a node process that exited while it was awaited.
var errExited = errors.New("nemesis: node process exited")

// node is one ringcache process, started again on the same addresses, id
// and data directory after each stop. It owns the process: every exit is
// reaped by a goroutine of its own, and kill ends it by its pid.
type node struct {
	id      string // "node3"
	client  string // client (RESP) address
	cluster string // cluster RPC address
	gossip  string // gossip address, TCP and UDP
	dataDir string
	logPath string
	bin     string
	args    []string
	uid     int // 0: the checker's own user; else the process runs as this uid and gid

	mu struct {
		sync.Mutex
		cmd    *exec.Cmd     // nil when no process runs
		exited chan struct{} // closed by the reaper once cmd exited
		paused bool          // SIGSTOPped and not SIGCONTed since
		starts int           // processes started, for the log's markers
	}
}

// start runs the process and waits until it answers PING, it exits, or
// timeout passes.
func (n *node) start(ctx context.Context, timeout time.Duration) error {
	n.mu.Lock()
	if n.mu.cmd != nil {
		n.mu.Unlock()
		return fmt.Errorf("nemesis: %s is already running", n.id)
	}
	logFile, err := os.OpenFile(n.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		n.mu.Unlock()
		return err
	}
	n.mu.starts++
	fmt.Fprintf(logFile, "--- nemesis: start %d of %s at %s\n", n.mu.starts, n.id, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(n.bin, n.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A process group of its own keeps a terminal's Ctrl-C away from the
	// node (the checker stops it in order), and the parent-death signal
	// ends it if the checker itself is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if n.uid != 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(n.uid), Gid: uint32(n.uid), NoSetGroups: true}
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		n.mu.Unlock()
		return fmt.Errorf("nemesis: start %s: %w", n.id, err)
	}
	exited := make(chan struct{})
	go func() { // reaper: ends when the process does
		_ = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	n.mu.cmd, n.mu.exited, n.mu.paused = cmd, exited, false
	n.mu.Unlock()
	if err := waitPing(ctx, n.client, exited, timeout); err != nil {
		return fmt.Errorf("nemesis: %s (pid %d) did not start: %w; log %s", n.id, cmd.Process.Pid, err, n.logPath)
	}
	return nil
}

// waitPing polls PING at addr until it answers, exited closes, or timeout
// passes.
func waitPing(ctx context.Context, addr string, exited <-chan struct{}, timeout time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: time.Second, PoolSize: 1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := c.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errExited
		case <-ctx.Done():
			return fmt.Errorf("no PONG within %v: %v", timeout, err)
		case <-tick.C:
		}
	}
}

// running returns the process and its exit channel, or nil.
func (n *node) running() (*exec.Cmd, chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.cmd, n.mu.exited
}

// alive reports whether the process the node last started still runs.
func (n *node) alive() bool {
	cmd, exited := n.running()
	if cmd == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// signal sends sig to the running process.
func (n *node) signal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.cmd == nil {
		return fmt.Errorf("nemesis: %s is not running", n.id)
	}
	switch sig {
	case syscall.SIGSTOP:
		n.mu.paused = true
	case syscall.SIGCONT:
		n.mu.paused = false
	}
	return n.mu.cmd.Process.Signal(sig)
}

// kill SIGKILLs the process, if any, and waits until it is reaped.
func (n *node) kill() {
	cmd, exited := n.running()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
	n.forget(cmd)
}

// terminate sends SIGTERM and waits up to timeout for the exit, then
// SIGKILLs. It reports whether the process exited by itself, with status 0.
func (n *node) terminate(timeout time.Duration) (clean bool, err error) {
	cmd, exited := n.running()
	if cmd == nil {
		return false, fmt.Errorf("nemesis: %s is not running", n.id)
	}
	n.mu.Lock()
	if n.mu.paused {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		n.mu.paused = false
	}
	n.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-exited:
		clean = cmd.ProcessState != nil && cmd.ProcessState.Success()
	case <-timer.C:
		_ = cmd.Process.Kill()
		<-exited
		err = fmt.Errorf("nemesis: %s (pid %d) did not exit within %v of SIGTERM, killed", n.id, cmd.Process.Pid, timeout)
	}
	n.forget(cmd)
	return clean, err
}

// forget clears the record of cmd once it exited.
func (n *node) forget(cmd *exec.Cmd) {
	n.mu.Lock()
	if n.mu.cmd == cmd {
		n.mu.cmd, n.mu.paused = nil, false
	}
	n.mu.Unlock()
}

// wipe removes the data directory of a stopped node and creates it empty.
func (n *node) wipe() error {
	if cmd, _ := n.running(); cmd != nil {
		return fmt.Errorf("nemesis: wipe of running %s", n.id)
	}
	if err := os.RemoveAll(n.dataDir); err != nil {
		return err
	}
	return n.makeDataDir()
}

// makeDataDir creates the data directory, owned by the node's user.
func (n *node) makeDataDir() error {
	if err := os.MkdirAll(n.dataDir, 0o755); err != nil {
		return err
	}
	if n.uid != 0 {
		return os.Chown(n.dataDir, n.uid, n.uid)
	}
	return nil
}

// newNode describes node i (0-based) of a cluster in dir.
func newNode(i int, dir, bin string, a nodeAddrs, seed string, extra []string, uid int) *node {
	id := fmt.Sprintf("node%d", i+1)
	n := &node{
		id: id, client: a.client, cluster: a.cluster, gossip: a.gossip,
		dataDir: filepath.Join(dir, id, "data"), logPath: filepath.Join(dir, id+".log"),
		bin: bin, uid: uid,
	}
	n.args = append([]string{"--node-id", id, "--listen", a.client, "--cluster-listen", a.cluster,
		"--gossip-listen", a.gossip, "--seeds", seed, "--data-dir", n.dataDir}, extra...)
	return n
}
