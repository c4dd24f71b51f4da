package await

import (
	"testing"
	"time"
)

// Ticker is a ticker a test drives instead of letting time pass: hand
// Start to a background loop's NewTicker hook, and Passes makes the loop
// run a given number of passes. Its channel is unbuffered, so a tick is
// taken only by the loop waiting for its next one: once the (n+1)th tick
// is taken, the first n passes have ended.
type Ticker struct{ c chan time.Time }

// NewTicker returns a Ticker no loop has started yet.
func NewTicker() *Ticker { return &Ticker{c: make(chan time.Time)} }

// Start implements a NewTicker hook: it ignores the period and returns
// the test's channel.
func (tk *Ticker) Start(time.Duration) (<-chan time.Time, func()) { return tk.c, func() {} }

// Passes makes the loop run at least n more passes, failing t if the loop
// does not take a tick within 10s.
func (tk *Ticker) Passes(t testing.TB, n int) {
	t.Helper()
	for i := range n + 1 {
		select {
		case tk.c <- time.Now():
		case <-time.After(10 * time.Second):
			t.Fatalf("the loop took %d of %d ticks", i, n+1)
		}
	}
}
