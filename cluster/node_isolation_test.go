package cluster

import (
	"errors"
	"strings"
	"testing"

	"github.com/ringcache/ringcache/cluster/coordinator"
	"github.com/ringcache/ringcache/cluster/membership"
	"github.com/ringcache/ringcache/cluster/topology"
)

func TestIsolatedErrorReply(t *testing.T) {
	err := error(&IsolatedError{Members: 4})
	if !errors.Is(err, ErrIsolated) || !errors.Is(err, coordinator.ErrNoQuorum) {
		t.Fatalf("%v does not wrap ErrIsolated and coordinator.ErrNoQuorum", err)
	}
	var re interface{ RESPError() string }
	if !errors.As(err, &re) || !strings.HasPrefix(re.RESPError(), "NOQUORUM this node reaches no other cluster member (0 of 4") {
		t.Fatalf("RESP reply %q", re.RESPError())
	}
	if r := (&IsolatedError{}).RESPError(); !strings.Contains(r, "no seed answered") {
		t.Fatalf("reply of a node that never reached a seed: %q", r)
	}
	self := membership.Member{ID: "s", State: membership.Alive}
	alone := topology.New(topology.Spec{Self: self, Members: []membership.Member{{ID: "a", State: membership.Dead}}, VNodes: 8}, nil)
	if err := isolationErr(alone); !errors.Is(err, ErrIsolated) {
		t.Fatalf("isolationErr of an isolated topology = %v", err)
	}
	if err := isolationErr(topology.New(topology.Spec{Self: self, VNodes: 8}, nil)); err != nil {
		t.Fatalf("isolationErr of a topology that is not isolated = %v", err)
	}
}
