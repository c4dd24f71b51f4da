package coordinator

import (
	"context"
	"errors"
	"testing"

	"github.com/ringcache/ringcache/cluster/quorum"
)

func TestRequired(t *testing.T) {
	tests := []struct {
		level         quorum.Level
		n, configured int
		want          int
	}{
		{0, 3, 2, 2},
		{0, 3, 3, 3},
		{0, 1, 1, 1},
		{quorum.One, 3, 2, 1},
		{quorum.Quorum, 3, 1, 2},
		{quorum.Quorum, 5, 1, 3},
		{quorum.Quorum, 2, 1, 2},
		{quorum.All, 3, 1, 3},
		{quorum.All, 5, 2, 5},
	}
	for _, tt := range tests {
		if got := required(tt.level, tt.n, tt.configured); got != tt.want {
			t.Errorf("required(%v, n=%d, configured=%d) = %d, want %d", tt.level, tt.n, tt.configured, got, tt.want)
		}
	}
}

func TestConsistencyContext(t *testing.T) {
	ctx := context.Background()
	if r, w := ConsistencyFrom(ctx); r != 0 || w != 0 {
		t.Fatalf("no override gave %v/%v", r, w)
	}
	ctx2, err := ConsistencyContext(ctx, "one", "ALL")
	if err != nil {
		t.Fatal(err)
	}
	if r, w := ConsistencyFrom(ctx2); r != quorum.One || w != quorum.All {
		t.Fatalf("got %v/%v, want ONE/ALL", r, w)
	}
	for _, bad := range [][2]string{{"TWO", "ONE"}, {"ONE", ""}} {
		got, err := ConsistencyContext(ctx, bad[0], bad[1])
		if !errors.Is(err, quorum.ErrUnknownLevel) {
			t.Errorf("%q: err %v, want ErrUnknownLevel", bad, err)
		}
		if got != ctx {
			t.Errorf("%q: context changed on error", bad)
		}
	}
}

func TestQuorumErrorText(t *testing.T) {
	tests := []struct {
		err  *QuorumError
		want string
	}{
		{&QuorumError{Write: true, Got: 1, Need: 2}, "NOQUORUM not enough replicas acknowledged the write: 1 of 2 required (the write may be present on some replicas)"},
		{&QuorumError{Got: 0, Need: 3}, "NOQUORUM not enough replicas replied to the read: 0 of 3 required"},
	}
	for _, tt := range tests {
		if got := tt.err.RESPError(); got != tt.want {
			t.Errorf("RESPError %q, want %q", got, tt.want)
		}
		if !errors.Is(tt.err, ErrNoQuorum) {
			t.Errorf("%v does not wrap ErrNoQuorum", tt.err)
		}
	}
}
