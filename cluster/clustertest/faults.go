package clustertest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ringcache/ringcache/cluster/transport"
)

// Faults decides what happens to each replica RPC between nodes. The zero
// value is not usable; a Cluster owns one (Cluster.Faults). Safe for
// concurrent use.
type Faults struct {
	mu struct {
		sync.Mutex
		// cut holds the (from, to) node id pairs whose calls fail at once.
		cut map[[2]string]bool
		// drop holds node ids whose incoming calls are never answered.
		drop map[string]bool
		// delay holds node ids whose incoming calls wait first.
		delay map[string]time.Duration
		// failed counts calls the faults failed or dropped, per target.
		failed map[string]int
	}
}

func newFaults() *Faults {
	f := &Faults{}
	f.Heal()
	return f
}

// Cut makes every call between the two sets of node ids fail at once, in
// both directions, with an error wrapping transport.ErrUnavailable (what
// an unreachable peer looks like).
func (f *Faults) Cut(a, b []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range a {
		for _, y := range b {
			if x != y {
				f.mu.cut[[2]string{x, y}] = true
				f.mu.cut[[2]string{y, x}] = true
			}
		}
	}
}

// Drop makes calls to node id hang until the caller's context ends (a
// peer that accepts requests and never answers); drop=false undoes it.
func (f *Faults) Drop(id string, drop bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.drop[id] = drop
}

// Delay delays every call to node id by d (0 removes the delay).
func (f *Faults) Delay(id string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.delay[id] = d
}

// Heal removes every fault.
func (f *Faults) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.cut = map[[2]string]bool{}
	f.mu.drop = map[string]bool{}
	f.mu.delay = map[string]time.Duration{}
	if f.mu.failed == nil {
		f.mu.failed = map[string]int{}
	}
}

// Failed returns how many calls to node id the faults failed or dropped.
func (f *Faults) Failed(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.failed[id]
}

// fault is the verdict for one call.
type fault struct {
	cut, drop bool
	delay     time.Duration
}

func (f *Faults) lookup(from, to string) fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := fault{cut: f.mu.cut[[2]string{from, to}], drop: f.mu.drop[to], delay: f.mu.delay[to]}
	if v.cut || v.drop {
		f.mu.failed[to]++
	}
	return v
}

// Wrap returns the Caller node from uses to reach node to: c, behind the
// faults. It has the signature of cluster.NodeConfig.WrapCaller once from
// is bound.
func (f *Faults) Wrap(from, to string, c transport.Caller) transport.Caller {
	return transport.CallerFunc(func(ctx context.Context, op uint8, payload []byte) ([]byte, error) {
		v := f.lookup(from, to)
		switch {
		case v.cut:
			return nil, fmt.Errorf("clustertest: %s cut off from %s: %w", from, to, transport.ErrUnavailable)
		case v.drop:
			<-ctx.Done()
			return nil, ctx.Err()
		case v.delay > 0:
			t := time.NewTimer(v.delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			}
		}
		return c.Call(ctx, op, payload)
	})
}
