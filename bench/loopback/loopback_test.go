package loopback

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

func TestAddrsAreDistinctFreeAndBelowTheEphemeralRange(t *testing.T) {
	addrs, err := Addrs(50)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		if seen[a] {
			t.Fatalf("%s handed out twice", a)
		}
		seen[a] = true
		host, port, err := net.SplitHostPort(a)
		if err != nil || host != "127.0.0.1" {
			t.Fatalf("address %q: %v", a, err)
		}
		if p, _ := strconv.Atoi(port); p < low || p >= high {
			t.Fatalf("port %d outside [%d, %d)", p, low, high)
		}
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("bind %s: %v", a, err)
		}
		u, err := net.ListenPacket("udp", a)
		if err != nil {
			t.Fatalf("bind udp %s: %v", a, err)
		}
		l.Close()
		u.Close()
	}
}

// A port whose lock file another process holds is not reserved again; a
// flock on a second open of the file stands for that process.
func TestReservedPortIsNotHandedOutTwice(t *testing.T) {
	const port = high - 1
	f, err := os.OpenFile(filepath.Join(lockDir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		if err := os.MkdirAll(lockDir, 0o777); err != nil {
			t.Skipf("no lock directory: %v", err)
		}
		if f, err = os.OpenFile(filepath.Join(lockDir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Skipf("port %d is held by another process already: %v", port, err)
	}
	if reserve(port) {
		t.Fatalf("port %d reserved although another holder has its lock", port)
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if !reserve(port) {
		t.Fatalf("port %d not reserved once its lock was released", port)
	}
}
