// Package loopback hands out free 127.0.0.1 addresses for the servers
// that tests, benchmarks and the fault-injection suite start, and restart.
//
// A node restarted by a test binds the ports it had. Taken from the
// kernel's ephemeral range (32768-60999 on Linux), a port could go to any
// outgoing connection or port-0 bind on the machine while its node is
// down, and the restart would fail. Addresses therefore come from below
// that range, at random, each handed out once per process, and are
// checked free for TCP and UDP (memberlist binds both on its gossip
// port). They are free when handed out, and reserved against the other
// processes that use this package (the test binaries of other packages,
// which go test runs at the same time): each port handed out holds an
// exclusive lock on a file named after it in the system's temporary
// directory until the process exits, and a port whose file another
// process has locked is not handed out.
package loopback

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// The ports handed out: below the Linux ephemeral range.
const (
	low  = 20000
	high = 32768
)

// ErrNoPort is returned when no free port was found.
var ErrNoPort = errors.New("loopback: no free port below the ephemeral range")

var handed struct {
	sync.Mutex
	ports map[int]bool
}

// Addr returns a free 127.0.0.1:port address that this process has not
// handed out before.
func Addr() (string, error) {
	handed.Lock()
	defer handed.Unlock()
	if handed.ports == nil {
		handed.ports = map[int]bool{}
	}
	for range 1000 {
		p := low + rand.IntN(high-low)
		if handed.ports[p] {
			continue
		}
		addr := fmt.Sprintf("127.0.0.1:%d", p)
		if !reserve(p) {
			handed.ports[p] = true // another process has it
			continue
		}
		handed.ports[p] = true
		if !free(addr) {
			continue
		}
		return addr, nil
	}
	return "", ErrNoPort
}

// Addrs returns n distinct addresses as Addr does.
func Addrs(n int) ([]string, error) {
	out := make([]string, 0, n)
	for range n {
		a, err := Addr()
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// free reports whether addr can be bound for TCP and UDP now.
func free(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	u, err := net.ListenPacket("udp", addr)
	_ = l.Close()
	if err != nil {
		return false
	}
	_ = u.Close()
	return true
}

// lockDir holds one lock file per port reserved by some process.
var lockDir = filepath.Join(os.TempDir(), "ringcache-loopback-ports")

// reserve takes the exclusive lock of port's file and keeps it (the file
// stays open) until the process exits; false if another process holds
// it. Where locking is impossible (no temporary directory) it reserves
// nothing and answers true: the port is still checked free.
func reserve(port int) bool {
	if err := os.MkdirAll(lockDir, 0o777); err != nil {
		return true
	}
	_ = os.Chmod(lockDir, 0o777|os.ModeSticky)
	f, err := os.OpenFile(filepath.Join(lockDir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return true
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return false
	}
	held.files = append(held.files, f) // under handed's lock
	return true
}

// held keeps the reserved ports' lock files open.
var held struct{ files []*os.File }
