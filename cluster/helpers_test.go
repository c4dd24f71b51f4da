package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/ringcache/ringcache/bench/await"
	"github.com/ringcache/ringcache/cluster/layout"
)

// eventually retries cond until it holds, for up to 5s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	await.T(t, 5*time.Second, what, cond)
}

// waitJoined waits until every node's layout has all of them normal and
// no operation in progress.
func waitJoined(t testing.TB, nodes ...*Node) {
	t.Helper()
	await.T(t, 10*time.Second, "the nodes to join", func() error {
		for _, n := range nodes {
			l := n.Layout()
			if l.Op != nil {
				return fmt.Errorf("%s sees %s of %s at %s", n.ID(), l.Op.Kind, l.Op.Node, l.Op.Stage)
			}
			for _, m := range nodes {
				if lm, ok := l.Member(m.ID()); !ok || lm.State != layout.Normal {
					return fmt.Errorf("%s does not have %s normal", n.ID(), m.ID())
				}
			}
		}
		return nil
	})
}
