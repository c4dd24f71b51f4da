package cluster

import (
	"testing"
	"time"

	"github.com/ringcache/ringcache/bench/await"
)

// eventually retries cond until it holds, for up to 5s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	await.T(t, 5*time.Second, what, cond)
}
