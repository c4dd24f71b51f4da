package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{5}, 5},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{100, 1, 2}, 2}, // one outlier run does not move it
		{[]float64{-1, -1, 7}, -1},
	}
	for _, tt := range tests {
		in := slices.Clone(tt.in)
		if got := Median(tt.in); got != tt.want {
			t.Errorf("Median(%v) = %v, want %v", tt.in, got, tt.want)
		}
		if !slices.Equal(in, tt.in) {
			t.Errorf("Median reordered its input: %v", tt.in)
		}
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("Median(nil) is not NaN")
	}
}

// TestMedianProperties checks against a naive oracle: at least half the
// values are <= the median and at least half are >=, and order is
// irrelevant.
func TestMedianProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for range 500 {
		xs := make([]float64, 1+r.IntN(9))
		for i := range xs {
			xs[i] = float64(r.IntN(20))
		}
		m := Median(xs)
		var le, ge int
		for _, x := range xs {
			if x <= m {
				le++
			}
			if x >= m {
				ge++
			}
		}
		if 2*le < len(xs) || 2*ge < len(xs) {
			t.Fatalf("Median(%v) = %v splits %d/%d", xs, m, le, ge)
		}
		r.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
		if Median(xs) != m {
			t.Fatalf("Median depends on order for %v", xs)
		}
	}
}

func TestRatio(t *testing.T) {
	tests := []struct {
		a, b   float64
		want   float64
		wantOK bool
	}{
		{50, 100, 0.5, true},
		{150, 100, 1.5, true},
		{0, 100, 0, true},
		{1, 0, 0, false},
		{math.NaN(), 1, 0, false},
		{1, math.Inf(1), 0, false},
	}
	for _, tt := range tests {
		got, ok := Ratio(tt.a, tt.b)
		if ok != tt.wantOK || got != tt.want {
			t.Errorf("Ratio(%v, %v) = %v, %v; want %v, %v", tt.a, tt.b, got, ok, tt.want, tt.wantOK)
		}
	}
}
