package transport

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ringcache/ringcache/engine"
)

// errTestCoded is a sentinel of a layer above, registered for the tests.
var errTestCoded = errors.New("test: coded sentinel")

func init() { RegisterError(1000, errTestCoded) }

// TestRemoteErrorsKeepTheirIdentity: a handler error that wraps a
// registered sentinel satisfies errors.Is for it on the caller, in an
// error frame; one that wraps none is only ErrRemote, and is no
// registered sentinel.
func TestRemoteErrorsKeepTheirIdentity(t *testing.T) {
	mux := NewMux()
	mux.Handle(5, HandlerFunc(func(context.Context, uint8, []byte) ([]byte, error) {
		return nil, fmt.Errorf("holding it: %w", errTestCoded)
	}))
	mux.Handle(6, HandlerFunc(func(context.Context, uint8, []byte) ([]byte, error) {
		return nil, errors.New("boom")
	}))
	_, addr := startServer(t, mux, testConfig())
	c := newClient(t, addr, testConfig())
	ctx := ctxTimeout(t, 5*time.Second)

	_, err := c.Call(ctx, 5, nil)
	var re *RemoteError
	if !errors.Is(err, errTestCoded) || !errors.Is(err, ErrRemote) || !errors.As(err, &re) || re.Msg != "holding it: test: coded sentinel" {
		t.Fatalf("coded handler error: %v, want errTestCoded and ErrRemote with the handler's message", err)
	}
	_, err = c.Call(ctx, 6, nil)
	if !errors.Is(err, ErrRemote) || errors.Is(err, errTestCoded) || errors.Is(err, ErrMalformed) {
		t.Fatalf("uncoded handler error: %v, want ErrRemote only", err)
	}
	_, err = c.Call(ctx, 42, nil)
	if !errors.Is(err, ErrUnknownOp) {
		t.Fatalf("unknown op: %v, want ErrUnknownOp", err)
	}
	// Relayed by another peer, a remote error keeps its code and its
	// message.
	relayed := NewRemoteError(2, re)
	if !errors.Is(relayed, errTestCoded) || relayed.Msg != "holding it: test: coded sentinel" {
		t.Fatalf("relayed: %+v", relayed)
	}
}

func TestRegisterErrorRefusesDuplicates(t *testing.T) {
	for _, tt := range []struct {
		name string
		code uint16
		err  error
	}{
		{"a code taken", 1000, errors.New("other")},
		{"a sentinel registered", 1001, errTestCoded},
		{"code 0", 0, errors.New("zero")},
		{"a nil error", 1002, nil},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RegisterError with %s did not panic", tt.name)
				}
			}()
			RegisterError(tt.code, tt.err)
		}()
	}
}

// The codes stay what they are: a peer of the same version decodes them.
func TestTransportErrorCodesAreFixed(t *testing.T) {
	for code, want := range map[uint16]error{1: ErrFrameTooLarge, 2: ErrUnknownOp, 3: ErrExpired, 4: ErrMalformed} {
		if got := codedError(code); got != want {
			t.Errorf("code %d = %v, want %v", code, got, want)
		}
	}
	if errorCode(fmt.Errorf("x: %w", engine.ErrClosed)) != 0 {
		t.Error("an unregistered sentinel has a code")
	}
}
