// Package loopback hands out free 127.0.0.1 addresses for the servers
// that tests, benchmarks and the fault-injection suite start, and restart.
//
// A node restarted by a test binds the ports it had. Taken from the
// kernel's ephemeral range (32768-60999 on Linux), a port could go to any
// outgoing connection or port-0 bind on the machine while its node is
// down, and the restart would fail. Addresses therefore come from below
// that range, at random, each handed out once per process, and are
// checked free for TCP and UDP (memberlist binds both on its gossip
// port). They are free when handed out, not reserved.
package loopback

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
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
		if !free(addr) {
			continue
		}
		handed.ports[p] = true
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
