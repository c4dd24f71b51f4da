package transport

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPing(t *testing.T) {
	skew := 10 * time.Second
	mux := NewMux()
	mux.Handle(OpPing, PingHandler(func() time.Time { return time.Now().Add(skew) }))
	_, addr := startServer(t, mux, testConfig())
	c := newClient(t, addr, testConfig())
	p, err := Ping(ctxTimeout(t, 10*time.Second), c)
	if err != nil {
		t.Fatalf("Ping: %v", err)
	}
	// The estimate is off by at most RTT/2 plus rounding; allow a wide
	// margin, this checks the sign and scale, not the precision.
	if d := p.Offset - skew; d < -time.Second || d > time.Second || p.RTT <= 0 {
		t.Fatalf("ping %+v: offset should be about %v", p, skew)
	}
}

// TestPingRejectsAMalformedAnswer checks Ping against a peer that answers
// with the wrong number of bytes.
func TestPingRejectsAMalformedAnswer(t *testing.T) {
	liar := CallerFunc(func(context.Context, uint8, []byte) ([]byte, error) { return []byte{1}, nil })
	if _, err := Ping(context.Background(), liar); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Ping: %v", err)
	}
}
