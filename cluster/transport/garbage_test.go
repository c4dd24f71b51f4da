package transport

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// TestServerRejectsGarbage sends malformed input to a real server and
// checks it answers with an error frame, hangs up, and keeps serving
// well-behaved peers.
func TestServerRejectsGarbage(t *testing.T) {
	cfg := testConfig()
	cfg.DialTimeout = time.Second // bounds the wait on a too-short first frame
	hello := func(m []byte, version byte, cluster string) []byte {
		b := append(append([]byte(nil), m...), version, byte(len(cluster)))
		b = append(b, cluster...)
		return appendFrame(nil, kindAuth, authHello, 0, append(b, newNonce()...))
	}
	tests := []struct {
		name      string
		handshake bool   // complete a valid handshake first
		send      []byte // then send this
		want      string // in the error frame
	}{
		{"http request", false, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "protocol error"},
		{"redis command", false, []byte("*1\r\n$4\r\nPING\r\n"), "handshake: read"},
		{"bad magic", false, hello([]byte("XXXX"), protocolVersion, cfg.ClusterName), "not a ringcache"},
		{"bad version", false, hello(magic, 99, cfg.ClusterName), "protocol version 99"},
		{"wrong cluster", false, hello(magic, protocolVersion, "other"), "cluster name"},
		{"request before hello", false, appendFrame(nil, kindRequest, 1, 1, nil), "want auth step"},
		{"short hello", false, appendFrame(nil, kindAuth, authHello, 0, magic), "not a ringcache"},
		{"bad kind", true, appendFrame(nil, 9, 1, 1, nil), "unknown frame kind 9"},
		{"response from a client", true, appendFrame(nil, kindResponse, 1, 1, nil), "unexpected frame kind"},
		{"auth after handshake", true, appendFrame(nil, kindAuth, authHello, 0, nil), "unexpected frame kind"},
		{"request id 0", true, appendFrame(nil, kindRequest, 1, 0, nil), "id 0"},
		{"reserved bytes", true, func() []byte {
			b := appendFrame(nil, kindRequest, 1, 1, nil)
			b[6] = 1
			return b
		}(), "reserved"},
		{"oversize", true, appendHeader(nil, header{length: uint32(cfg.MaxFrameBytes) + 1, kind: kindRequest, op: 1, id: 1}), "frame too large"},
	}
	srv, addr := startServer(t, echo, cfg)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c *Config
			if tt.handshake {
				c = &cfg
			}
			nc, fr := rawDial(t, addr, c)
			if _, err := nc.Write(tt.send); err != nil {
				t.Fatal(err)
			}
			if msg := expectErrorThenClose(t, fr); !strings.Contains(msg, tt.want) {
				t.Fatalf("error frame %q, want it to mention %q", msg, tt.want)
			}
		})
	}
	c := newClient(t, addr, cfg)
	if _, err := c.Call(ctxTimeout(t, 5*time.Second), 1, nil); err != nil {
		t.Fatalf("server stopped serving after garbage: %v", err)
	}
	waitFor(t, "every garbage connection counted as rejected", func() bool {
		return srv.Stats().Rejected == int64(len(tests))
	})
}

func TestServerDropsTruncatedAndStalledFrames(t *testing.T) {
	cfg := testConfig()
	cfg.ReadTimeout = 50 * time.Millisecond
	srv, addr := startServer(t, echo, cfg)
	partial := appendFrame(nil, kindRequest, 1, 1, make([]byte, 100))[:headerLen+10]
	tests := []struct {
		name      string
		send      []byte
		closeSend bool
	}{
		{"truncated payload then EOF", partial, true},
		{"stall mid-payload", partial, false},
		{"stall mid-header", partial[:5], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, _ := rawDial(t, addr, &cfg)
			if _, err := nc.Write(tt.send); err != nil {
				t.Fatal(err)
			}
			if tt.closeSend {
				_ = nc.(*net.TCPConn).CloseWrite()
			}
			// The server must hang up by itself; our read deadline is the
			// bound that fails the test if it hangs instead.
			_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 1024)
			var err error
			for err == nil {
				_, err = nc.Read(buf)
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("server kept a truncated frame's connection open")
			}
		})
	}
	waitFor(t, "connections to be dropped", func() bool { return srv.Stats().Conns == 0 })
	if srv.Stats().Requests != 0 {
		t.Fatalf("a truncated frame was served")
	}
}

// fakeServer accepts one connection, completes the handshake and then
// lets the test script what the "server" sends.
func fakeServer(t *testing.T, cfg Config, script func(nc net.Conn, fr *frameReader)) string {
	t.Helper()
	ln := listen(t, "127.0.0.1:0")
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		fr := newFrameReader(nc, nil, cfg.MaxFrameBytes, 0, nil)
		if serverHandshake(nc, fr, cfg) != nil {
			return
		}
		script(nc, fr)
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return ln.Addr().String()
}

// TestClientRejectsGarbage checks that a server breaking the protocol
// fails the calls in flight promptly and gets an error frame.
func TestClientRejectsGarbage(t *testing.T) {
	cfg := testConfig()
	cfg.ConnsPerPeer = 1
	tests := []struct {
		name  string
		reply func(req header) []byte
		want  string
	}{
		{"response for unknown id", func(req header) []byte {
			return appendFrame(nil, kindResponse, req.op, req.id+1000, nil)
		}, "unknown request id"},
		{"request from a server", func(req header) []byte {
			return appendFrame(nil, kindRequest, req.op, req.id, nil)
		}, "unexpected frame kind"},
		{"bad kind", func(req header) []byte {
			return appendFrame(nil, 0, req.op, req.id, nil)
		}, "unknown frame kind"},
		{"oversize", func(req header) []byte {
			return appendHeader(nil, header{length: uint32(cfg.MaxFrameBytes) + 1, kind: kindResponse, id: req.id})
		}, "frame too large"},
		{"random bytes", func(header) []byte {
			return bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 8)
		}, "transport:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotMsg := make(chan string, 1)
			addr := fakeServer(t, cfg, func(nc net.Conn, fr *frameReader) {
				h, _, err := fr.next()
				if err != nil {
					gotMsg <- "read: " + err.Error()
					return
				}
				_, _ = nc.Write(tt.reply(h))
				_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
				for {
					h, p, err := fr.next()
					if err != nil {
						gotMsg <- "no error frame: " + err.Error()
						return
					}
					if h.kind == kindError && h.id == 0 {
						gotMsg <- string(p)
						return
					}
				}
			})
			c := newClient(t, addr, cfg)
			var err error
			within(t, 10*time.Second, "the call", func() {
				_, err = c.Call(ctxTimeout(t, time.Minute), 1, []byte("q"))
			})
			if !errors.Is(err, ErrConnLost) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Call: %v, want ErrConnLost mentioning %q", err, tt.want)
			}
			if msg := <-gotMsg; !strings.Contains(msg, tt.want) {
				t.Fatalf("server got %q, want an error frame mentioning %q", msg, tt.want)
			}
		})
	}
}
