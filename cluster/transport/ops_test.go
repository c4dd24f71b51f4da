package transport

import (
	"context"
	"errors"
	"testing"
)

// Two features must never share an operation code: registering one twice
// panics at start instead of letting one feature's requests reach the
// other's handler.
func TestMuxRefusesAnOperationTwice(t *testing.T) {
	m := NewMux()
	h := HandlerFunc(func(context.Context, uint8, []byte) ([]byte, error) { return []byte("first"), nil })
	m.Handle(OpPing, h)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("a second handler for OpPing was accepted")
			}
		}()
		m.Handle(OpPing, h)
	}()
	if got, err := m.Serve(context.Background(), OpPing, nil); err != nil || string(got) != "first" {
		t.Fatalf("OpPing after the refused registration: %q, %v", got, err)
	}
	if _, err := m.Serve(context.Background(), OpRead, nil); !errors.Is(err, ErrUnknownOp) {
		t.Fatalf("unregistered op: %v", err)
	}
}

// The codes declared for every feature are distinct.
func TestOperationCodesAreDistinct(t *testing.T) {
	codes := []uint8{OpPing, OpApply, OpRead, OpScan, OpHintsFor,
		OpRoots, OpNodes, OpEntries, OpEntriesSized, OpFloor, OpNodeCount, OpNodeDropAll, OpNodeClassCounts}
	seen := map[uint8]bool{}
	for _, c := range codes {
		if c == 0 || seen[c] {
			t.Fatalf("operation code %d is zero or used twice", c)
		}
		seen[c] = true
	}
}
