package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProcessPausedCoordinatorDropsWhatWaited: a client sends SET through
// a node that is stopped (SIGSTOP), gives up, and writes a newer value
// through another node. When the stopped node runs again it must not
// apply the old SET as a fresh write over the newer one: it answers the
// command that waited through the stop with -TIMEOUT and runs nothing.
// Connections that sent nothing during the stop (one idle since before
// it, one made during it) run their commands once it is over.
func TestProcessPausedCoordinatorDropsWhatWaited(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	c := startProcCluster(t, 3)
	ctx := context.Background()
	if err := c.client(0).Set(ctx, "reg", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", c.nodes[0].client)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rd := bufio.NewReader(conn)
	idle, err := net.Dial("tcp", c.nodes[0].client)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	idleRd := bufio.NewReader(idle)
	if _, err := idle.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := idleRd.ReadString('\n'); err != nil || line != "+PONG\r\n" {
		t.Fatalf("PING before the stop: %q, %v", line, err)
	}

	p := c.nodes[0].proc
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			_ = p.Signal(syscall.SIGCONT)
		}
	}()
	// The signal is delivered asynchronously: a command written before
	// every thread stopped could be read and started before the stop.
	waitStopped(t, p.Pid())
	// The old write waits in the stopped node's socket.
	if _, err := conn.Write([]byte("*3\r\n$3\r\nSET\r\n$3\r\nreg\r\n$1\r\n2\r\n")); err != nil {
		t.Fatal(err)
	}
	// A connection made while the node is stopped waits in its backlog.
	during, err := net.Dial("tcp", c.nodes[0].client)
	if err != nil {
		t.Fatal(err)
	}
	defer during.Close()
	time.Sleep(3 * time.Second) // longer than the 1s request timeout
	// Nodes 1 and 2 still make a quorum (sloppy, with node 0 silent).
	if err := c.client(1).Set(ctx, "reg", "3", 0).Err(); err != nil {
		t.Fatalf("SET through a running node while node 0 is stopped: %v", err)
	}
	if err := p.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := rd.ReadString('\n')
	if err != nil {
		t.Fatalf("reply to the command that waited: %v", err)
	}
	if !strings.HasPrefix(line, "-TIMEOUT") {
		t.Fatalf("reply to the command that waited through the stop = %q, want -TIMEOUT", line)
	}
	for i := range 3 {
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := c.client(i).Get(ctx, "reg").Result()
			if err == nil && got == "3" {
				break
			}
			if err == nil && got != "3" {
				t.Fatalf("GET through node %d = %q after the acknowledged SET of 3", i, got)
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET through node %d: %v", i, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// The connection still works.
	if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := rd.ReadString('\n'); err != nil || line != "+PONG\r\n" {
		t.Fatalf("PING after the stop: %q, %v", line, err)
	}
	// The stop is over, by more than the 5 s a process catching up may
	// take to read what waited (stall.Config.ReadSlack): a command that
	// arrives now on a connection that was idle through the stop, or made
	// during it, is not taken for one that waited through it.
	time.Sleep(6 * time.Second)
	for name, cn := range map[string]net.Conn{"idle since before the stop": idle, "made during the stop": during} {
		_ = cn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := cn.Write([]byte("*2\r\n$3\r\nGET\r\n$3\r\nreg\r\n")); err != nil {
			t.Fatal(err)
		}
		r := idleRd
		if cn == during {
			r = bufio.NewReader(during)
		}
		head, err := r.ReadString('\n')
		if err != nil || head != "$1\r\n" {
			t.Fatalf("GET on the connection %s, after the stop: %q, %v; want the value", name, head, err)
		}
		if v, err := r.ReadString('\n'); err != nil || v != "3\r\n" {
			t.Fatalf("GET on the connection %s: value %q, %v", name, v, err)
		}
	}
}

// waitStopped waits until every thread of process pid is stopped by a
// signal (state T in /proc/pid/task/*/stat).
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		if err != nil || len(tasks) == 0 {
			t.Fatalf("threads of process %d: %v", pid, err)
		}
		all := true
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			if err != nil {
				all = false
				break
			}
			// pid (comm) state ...: comm may hold spaces, so the state
			// follows the last ')'.
			st := strings.TrimSpace(string(b[bytes.LastIndexByte(b, ')')+1:]))
			if !strings.HasPrefix(st, "T") {
				all = false
				break
			}
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d not stopped after 5s", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
