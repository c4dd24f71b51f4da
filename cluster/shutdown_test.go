package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/transport"
	"github.com/ringcache/ringcache/server/store"
)

// hangingApplies is a handler wrapper whose OpApply requests never
// return until released, whatever their context says: a handler wedged
// in a disk or a lock.
type hangingApplies struct {
	release chan struct{}
	once    sync.Once
	entered atomic.Int32
}

func (h *hangingApplies) wrap(next transport.Handler) transport.Handler {
	return transport.HandlerFunc(func(ctx context.Context, op uint8, p []byte) ([]byte, error) {
		if op == transport.OpApply {
			h.entered.Add(1)
			<-h.release
		}
		return next.Serve(ctx, op, p)
	})
}

func (h *hangingApplies) free() { h.once.Do(func() { close(h.release) }) }

// shutdownTestNode starts a node of a two-node cluster (N=2, W=1) with
// fast gossip; wrap, if set, wraps its replica handler.
func shutdownTestNode(t *testing.T, id string, seeds []string, wrap func(transport.Handler) transport.Handler) *Node {
	t.Helper()
	cfg := testNodeConfig(t)
	cfg.NodeID, cfg.ClientAddr, cfg.Seeds = id, "127.0.0.1:1"+fmt.Sprint(len(id)), seeds
	cfg.Coordinator.N, cfg.Coordinator.R, cfg.Coordinator.W = 2, 1, 1
	cfg.Coordinator.Timeout = 300 * time.Millisecond
	cfg.AntiEntropy.Interval = 0
	cfg.Transport.CloseTimeout = 300 * time.Millisecond
	cfg.Membership.ProbeInterval, cfg.Membership.ProbeTimeout = 200*time.Millisecond, 100*time.Millisecond
	cfg.Membership.GossipInterval, cfg.Membership.PushPullInterval = 20*time.Millisecond, time.Second
	cfg.Membership.JoinBackoffMin, cfg.Membership.JoinBackoffMax = 20*time.Millisecond, 200*time.Millisecond
	cfg.WrapHandler = wrap
	n, err := StartNode(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// Node.Close returns within a bounded time while its replica handlers
// are stuck: the transport server leaves them behind after CloseTimeout
// and says so; the rest of the node (coordinator, hints, gossip) stops as
// usual.
func TestNodeCloseBoundedWithStuckHandlers(t *testing.T) {
	hang := &hangingApplies{release: make(chan struct{})}
	defer hang.free()
	a := shutdownTestNode(t, "a", nil, nil)
	b := shutdownTestNode(t, "bb", []string{a.GossipAddr()}, hang.wrap)
	eventually(t, "both nodes alive in both views", func() bool {
		for _, n := range []*Node{a, b} {
			alive := 0
			for _, m := range n.Members() {
				if m.State == membership.Alive {
					alive++
				}
			}
			if alive != 2 {
				return false
			}
		}
		return true
	})
	waitJoined(t, a, b)
	// Every key is on both nodes: b's applies hang; W=1 lets a answer.
	for i := range 20 {
		key := []byte(fmt.Sprint("k", i))
		if err := a.Put(context.Background(), []store.Mutation{{Key: key, Value: key}}); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	eventually(t, "applies stuck on b", func() bool { return hang.entered.Load() > 0 })

	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- b.Close() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Node.Close did not return within 30s with stuck handlers")
	}
	took := time.Since(start)
	t.Logf("Node.Close returned after %v with %d applies stuck: %v", took, hang.entered.Load(), err)
	if !errors.Is(err, transport.ErrCloseTimeout) {
		t.Fatalf("Node.Close: %v, want the transport's ErrCloseTimeout", err)
	}
	// a keeps working without b.
	if err := a.Put(context.Background(), []store.Mutation{{Key: []byte("after"), Value: []byte("v")}}); err != nil {
		t.Fatalf("Put through a after b closed: %v", err)
	}
}
