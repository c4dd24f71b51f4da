package transport

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAuthentication(t *testing.T) {
	tests := []struct {
		name           string
		serverSecret   string
		clientSecret   string
		serverCluster  string
		clientCluster  string
		wantErr        error // nil: the call succeeds
		serverRejected bool  // the server counts a rejected connection
	}{
		{name: "no secret", wantErr: nil},
		{name: "same secret", serverSecret: "s3cret", clientSecret: "s3cret"},
		{name: "wrong secret", serverSecret: "s3cret", clientSecret: "guess", wantErr: ErrAuth},
		{name: "no secret when required", serverSecret: "s3cret", wantErr: ErrAuth, serverRejected: true},
		{name: "server cannot prove a secret", clientSecret: "s3cret", wantErr: ErrAuth},
		{name: "other cluster", serverCluster: "blue", clientCluster: "green", wantErr: ErrAuth, serverRejected: true},
		{name: "other cluster same secret", serverSecret: "x", clientSecret: "x", serverCluster: "blue", clientCluster: "green", wantErr: ErrAuth, serverRejected: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scfg, ccfg := testConfig(), testConfig()
			scfg.Secret, ccfg.Secret = tt.serverSecret, tt.clientSecret
			if tt.serverCluster != "" {
				scfg.ClusterName, ccfg.ClusterName = tt.serverCluster, tt.clientCluster
			}
			srv, addr := startServer(t, echo, scfg)
			c := newClient(t, addr, ccfg)
			_, err := c.Call(ctxTimeout(t, 5*time.Second), 1, []byte("x"))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Call: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Call: %v, want ErrUnavailable wrapping %v", err, tt.wantErr)
			}
			if srv.Stats().Requests != 0 {
				t.Fatalf("server served %d requests to an unauthenticated peer", srv.Stats().Requests)
			}
			if tt.serverRejected {
				waitFor(t, "the server to count the rejection", func() bool { return srv.Stats().Rejected > 0 })
			}
		})
	}
}

// TestAuthRawPeers speaks the handshake by hand to check that a peer
// without a valid proof gets an error frame and a closed connection, and
// never has a request served.
func TestAuthRawPeers(t *testing.T) {
	cfg := testConfig()
	cfg.Secret = "s3cret"
	srv, addr := startServer(t, echo, cfg)

	tests := []struct {
		name  string
		after func(t *testing.T, snonce []byte) []byte // bytes sent after the challenge
		want  string
	}{
		{"wrong proof", func(t *testing.T, snonce []byte) []byte {
			return appendFrame(nil, kindAuth, authProof, 0, proof("guess", labelClient, snonce, cfg.ClusterName))
		}, "wrong secret"},
		{"server's proof replayed", func(t *testing.T, snonce []byte) []byte {
			return appendFrame(nil, kindAuth, authProof, 0, proof(cfg.Secret, labelServer, snonce, cfg.ClusterName))
		}, "wrong secret"},
		{"request instead of proof", func(t *testing.T, _ []byte) []byte {
			return appendFrame(nil, kindRequest, 1, 1, []byte("let me in"))
		}, "protocol error"},
		{"empty proof", func(t *testing.T, _ []byte) []byte {
			return appendFrame(nil, kindAuth, authProof, 0, nil)
		}, "wrong secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, fr := rawDial(t, addr, nil)
			if err := sendFrame(nc, kindAuth, authHello, encodeHello(cfg.ClusterName, newNonce())); err != nil {
				t.Fatal(err)
			}
			p, err := expectAuth(fr, authChallenge)
			if err != nil {
				t.Fatal(err)
			}
			if len(p) != len(magic)+2+2*nonceLen || p[len(magic)+1]&flagAuth == 0 {
				t.Fatalf("challenge %x does not require authentication", p)
			}
			snonce := p[len(magic)+2 : len(magic)+2+nonceLen]
			if _, err := nc.Write(tt.after(t, snonce)); err != nil {
				t.Fatal(err)
			}
			if msg := expectErrorThenClose(t, fr); !strings.Contains(msg, tt.want) {
				t.Fatalf("error frame %q, want it to mention %q", msg, tt.want)
			}
		})
	}
	if n := srv.Stats().Requests; n != 0 {
		t.Fatalf("server served %d requests", n)
	}
}

func TestProofsDifferPerDirectionAndCluster(t *testing.T) {
	nonce := newNonce()
	a := proof("s", labelClient, nonce, "c")
	for _, other := range [][]byte{
		proof("s", labelServer, nonce, "c"),
		proof("s", labelClient, nonce, "d"),
		proof("t", labelClient, nonce, "c"),
		proof("s", labelClient, newNonce(), "c"),
	} {
		if string(a) == string(other) {
			t.Fatal("two different inputs gave the same proof")
		}
	}
}
