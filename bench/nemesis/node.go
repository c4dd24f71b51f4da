package nemesis

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/ringcache/ringcache/bench/process"
)

// node is one ringcache process, started again on the same addresses, id
// and data directory after each stop. It owns the process (see package
// process): kill ends it by its pid.
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
		proc   *process.Process // nil when no process runs
		paused bool             // SIGSTOPped and not SIGCONTed since
		starts int              // processes started, for the log's markers
	}
}

// start runs the process and waits until it answers PING, it exits, or
// timeout passes.
func (n *node) start(ctx context.Context, timeout time.Duration) error {
	n.mu.Lock()
	if n.mu.proc != nil {
		n.mu.Unlock()
		return fmt.Errorf("nemesis: %s is already running", n.id)
	}
	n.mu.starts++
	p, err := process.Start(ctx, process.Config{
		Bin: n.bin, Args: n.args, Log: n.logPath, UID: n.uid,
		Marker: fmt.Sprintf("--- nemesis: start %d of %s at %s", n.mu.starts, n.id, time.Now().UTC().Format(time.RFC3339Nano)),
	})
	if err != nil {
		n.mu.Unlock()
		return fmt.Errorf("nemesis: start %s: %w", n.id, err)
	}
	n.mu.proc, n.mu.paused = p, false
	n.mu.Unlock()
	if err := p.WaitReady(ctx, n.client, "", timeout); err != nil {
		return fmt.Errorf("nemesis: %s did not start: %w; log %s", n.id, err, n.logPath)
	}
	return nil
}

// running returns the process, or nil.
func (n *node) running() *process.Process {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.proc
}

// alive reports whether the process the node last started still runs.
func (n *node) alive() bool {
	p := n.running()
	return p != nil && p.Running()
}

// signal sends sig to the running process.
func (n *node) signal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.proc == nil {
		return fmt.Errorf("nemesis: %s is not running", n.id)
	}
	switch sig {
	case syscall.SIGSTOP:
		n.mu.paused = true
	case syscall.SIGCONT:
		n.mu.paused = false
	}
	return n.mu.proc.Signal(sig)
}

// kill SIGKILLs the process, if any, and waits until it is reaped.
func (n *node) kill() {
	p := n.running()
	if p == nil {
		return
	}
	p.Kill()
	n.forget(p)
}

// terminate sends SIGTERM (resuming a paused process first) and waits up
// to timeout for the exit, then SIGKILLs. It reports whether the process
// exited by itself, with status 0.
func (n *node) terminate(timeout time.Duration) (clean bool, err error) {
	p := n.running()
	if p == nil {
		return false, fmt.Errorf("nemesis: %s is not running", n.id)
	}
	if err := p.Stop(context.Background(), timeout); err != nil {
		n.forget(p)
		return false, fmt.Errorf("nemesis: %s: %w", n.id, err)
	}
	n.forget(p)
	return p.Success(), nil
}

// forget clears the record of p once it exited.
func (n *node) forget(p *process.Process) {
	n.mu.Lock()
	if n.mu.proc == p {
		n.mu.proc, n.mu.paused = nil, false
	}
	n.mu.Unlock()
}

// replaceAs makes the stopped node's next start an empty node under id
// that replaces the member it was.
func (n *node) replaceAs(id string) {
	old := n.id
	for k := 0; k+1 < len(n.args); k++ {
		if n.args[k] == "--node-id" {
			n.args[k+1] = id
		}
	}
	n.args = append(n.args, "--replace", old)
	n.id = id
}

// wipe removes the data directory of a stopped node and creates it empty.
func (n *node) wipe() error {
	if n.running() != nil {
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
