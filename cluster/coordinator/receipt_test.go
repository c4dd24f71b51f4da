package coordinator

import (
	"context"
	"testing"
	"time"

	"github.com/ringcache/ringcache/server/store"
)

// TestReceiptCountsEveryAcknowledgement: a write made with a receipt
// (WAIT) reports its W acknowledgements when Put returns and the third
// replica's when it comes, even after the reply; a replica that never
// answers leaves the count at what came before the write's deadline.
func TestReceiptCountsEveryAcknowledgement(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *Config) { c.Timeout = 300 * time.Millisecond })
	co := tc.coords["n0"]
	var r store.Receipt
	ctx := store.WithReceipt(context.Background(), &r)
	if _, _, _, tracked := r.State(); tracked {
		t.Fatal("a receipt with no write is tracked")
	}
	// n2's calls wait until released: the write returns with two.
	tc.net.set("n2", faultHold)
	muts := []store.Mutation{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")}}
	if err := co.Put(ctx, muts); err != nil {
		t.Fatal(err)
	}
	if acks, _, _, tracked := r.State(); !tracked || acks != 2 {
		t.Fatalf("after Put: %d acknowledgements (tracked %v), want 2", acks, tracked)
	}
	tc.net.set("n2", faultNone) // releases the held call
	eventually(t, "the late acknowledgement", func() bool { acks, _, _, _ := r.State(); return acks == 3 })

	// A replica that does not answer: two, and the deadline passes.
	tc.net.set("n1", faultDrop)
	if err := co.Put(ctx, muts[:1]); err != nil {
		t.Fatal(err)
	}
	acks, deadline, _, _ := r.State()
	if acks != 2 {
		t.Fatalf("with n1 silent: %d acknowledgements, want 2", acks)
	}
	time.Sleep(time.Until(deadline) + 50*time.Millisecond)
	if acks, _, _, _ := r.State(); acks != 2 {
		t.Fatalf("after the deadline: %d acknowledgements, want 2", acks)
	}
	tc.net.set("n1", faultNone)
	// A later write starts over: late answers of the earlier one do not
	// count for it.
	if err := co.Put(ctx, []store.Mutation{{Key: []byte("c"), Value: []byte("3")}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "all three for the new write", func() bool { acks, _, _, _ := r.State(); return acks == 3 })
}
