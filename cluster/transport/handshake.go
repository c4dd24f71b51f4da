package transport

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"time"
)

// The handshake, all in kindAuth frames with id 0 (see doc.go):
//
//	client → server  hello:     magic, version, cluster name, client nonce
//	server → client  challenge: magic, version, flags, [server nonce, server proof]
//	client → server  proof:     client proof                  (secret only)
//	server → client  ok:        empty                         (secret only)
//
// A proof is HMAC-SHA256(secret, label || nonce || cluster name) over the
// other side's nonce; the labels differ per direction so one side's proof
// can never be replayed as the other's.
const (
	authHello     uint8 = 1
	authChallenge uint8 = 2
	authProof     uint8 = 3
	authOK        uint8 = 4

	protocolVersion = 3 // 2: frame headers carry the sender's clock and a request budget; 3: handler errors carry a code
	nonceLen        = 32
	flagAuth        = 1 << 0
)

var (
	magic       = []byte("RCT\x01")
	labelClient = []byte("ringcache-transport client")
	labelServer = []byte("ringcache-transport server")
)

func proof(secret string, label, nonce []byte, cluster string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(label)
	m.Write(nonce)
	m.Write([]byte(cluster))
	return m.Sum(nil)
}

func newNonce() []byte {
	n := make([]byte, nonceLen)
	_, _ = rand.Read(n) // crypto/rand.Read never fails on supported platforms
	return n
}

func encodeHello(cluster string, nonce []byte) []byte {
	b := append([]byte(nil), magic...)
	b = append(b, protocolVersion, byte(len(cluster)))
	b = append(b, cluster...)
	return append(b, nonce...)
}

// decodeHello returns the cluster name and client nonce of a hello.
func decodeHello(b []byte) (string, []byte, error) {
	if len(b) < len(magic)+2 || !bytes.Equal(b[:len(magic)], magic) {
		return "", nil, fmt.Errorf("%w: not a ringcache transport peer", ErrProtocol)
	}
	if v := b[len(magic)]; v != protocolVersion {
		return "", nil, fmt.Errorf("%w: protocol version %d, want %d", ErrProtocol, v, protocolVersion)
	}
	rest := b[len(magic)+1:]
	n := int(rest[0])
	if len(rest) != 1+n+nonceLen {
		return "", nil, fmt.Errorf("%w: malformed hello", ErrProtocol)
	}
	return string(rest[1 : 1+n]), rest[1+n:], nil
}

// sendFrame writes one frame directly, before the writer goroutine exists.
func sendFrame(nc net.Conn, kind, op uint8, payload []byte) error {
	_, err := nc.Write(appendFrame(nil, kind, op, 0, payload))
	return err
}

// expectAuth reads the next frame and checks it is the auth step op. An
// error frame from the peer becomes ErrAuth with the peer's message.
func expectAuth(fr *frameReader, op uint8) ([]byte, error) {
	h, p, err := fr.next()
	if err != nil {
		return nil, fmt.Errorf("%w: handshake: %w", ErrProtocol, err)
	}
	if h.kind == kindError {
		return nil, fmt.Errorf("%w: peer says: %s", ErrAuth, p)
	}
	if h.kind != kindAuth || h.op != op {
		return nil, fmt.Errorf("%w: handshake: got kind %d op %d, want auth step %d", ErrProtocol, h.kind, h.op, op)
	}
	return p, nil
}

// clientHandshake runs the client side on a fresh connection, bounded by
// the connection deadline the caller set.
func clientHandshake(nc net.Conn, fr *frameReader, cfg Config) error {
	defer fr.suspendStall()()
	cnonce := newNonce()
	if err := sendFrame(nc, kindAuth, authHello, encodeHello(cfg.ClusterName, cnonce)); err != nil {
		return err
	}
	p, err := expectAuth(fr, authChallenge)
	if err != nil {
		return err
	}
	if len(p) < len(magic)+2 || !bytes.Equal(p[:len(magic)], magic) || p[len(magic)] != protocolVersion {
		return fmt.Errorf("%w: bad challenge", ErrProtocol)
	}
	flags, rest := p[len(magic)+1], p[len(magic)+2:]
	switch {
	case flags&flagAuth == 0 && cfg.Secret == "":
		return nil
	case flags&flagAuth == 0:
		return fmt.Errorf("%w: peer does not authenticate but a secret is configured", ErrAuth)
	case cfg.Secret == "":
		return fmt.Errorf("%w: peer requires a secret and none is configured", ErrAuth)
	case len(rest) != 2*nonceLen:
		return fmt.Errorf("%w: bad challenge", ErrProtocol)
	}
	snonce, sproof := rest[:nonceLen], rest[nonceLen:]
	if !hmac.Equal(sproof, proof(cfg.Secret, labelServer, cnonce, cfg.ClusterName)) {
		return fmt.Errorf("%w: peer could not prove the secret", ErrAuth)
	}
	if err := sendFrame(nc, kindAuth, authProof, proof(cfg.Secret, labelClient, snonce, cfg.ClusterName)); err != nil {
		return err
	}
	_, err = expectAuth(fr, authOK)
	return err
}

// serverHandshake runs the server side. On failure it has already sent the
// peer an error frame (best effort); the caller closes the connection.
func serverHandshake(nc net.Conn, fr *frameReader, cfg Config) error {
	_ = nc.SetDeadline(time.Now().Add(cfg.DialTimeout))
	defer nc.SetDeadline(time.Time{})
	defer fr.suspendStall()()
	err := serverHandshakeSteps(nc, fr, cfg)
	if err != nil {
		// The handshake deadline may be what failed; give the error frame
		// a moment of its own.
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		msg := "handshake failed"
		if errors.Is(err, ErrAuth) || errors.Is(err, ErrProtocol) || errors.Is(err, ErrFrameTooLarge) {
			msg = err.Error()
		}
		_ = sendFrame(nc, kindError, 0, []byte(msg))
	}
	return err
}

func serverHandshakeSteps(nc net.Conn, fr *frameReader, cfg Config) error {
	p, err := expectAuth(fr, authHello)
	if err != nil {
		return err
	}
	cluster, cnonce, err := decodeHello(p)
	if err != nil {
		return err
	}
	if cluster != cfg.ClusterName {
		return fmt.Errorf("%w: cluster name %q, want %q", ErrAuth, cluster, cfg.ClusterName)
	}
	ch := append([]byte(nil), magic...)
	ch = append(ch, protocolVersion)
	if cfg.Secret == "" {
		return sendFrame(nc, kindAuth, authChallenge, append(ch, 0))
	}
	snonce := newNonce()
	ch = append(ch, flagAuth)
	ch = append(ch, snonce...)
	ch = append(ch, proof(cfg.Secret, labelServer, cnonce, cfg.ClusterName)...)
	if err := sendFrame(nc, kindAuth, authChallenge, ch); err != nil {
		return err
	}
	p, err = expectAuth(fr, authProof)
	if err != nil {
		return err
	}
	if !hmac.Equal(p, proof(cfg.Secret, labelClient, snonce, cfg.ClusterName)) {
		return fmt.Errorf("%w: wrong secret", ErrAuth)
	}
	return sendFrame(nc, kindAuth, authOK, nil)
}
