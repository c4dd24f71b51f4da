package bench

import (
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// TestZipfDistribution compares sampled frequencies of the hottest ranks
// with the exact Zipf probabilities, for exponents below, at and above 1.
func TestZipfDistribution(t *testing.T) {
	const (
		n       = 1000
		samples = 200000
		top     = 10
	)
	for _, s := range []float64{0.5, 0.99, 1, 1.5} {
		z := NewZipf(rand.New(rand.NewPCG(1, 2)), n, s)
		counts := make([]int, n)
		for range samples {
			k := z.Next()
			if k < 0 || k >= n {
				t.Fatalf("s=%v: rank %d outside [0, %d)", s, k, n)
			}
			counts[k]++
		}
		var norm float64
		for k := 1; k <= n; k++ {
			norm += math.Pow(float64(k), -s)
		}
		for k := range top {
			want := samples * math.Pow(float64(k+1), -s) / norm
			// 5 standard deviations of a binomial count, plus 1%.
			tol := 5*math.Sqrt(want) + 0.01*want
			if math.Abs(float64(counts[k])-want) > tol {
				t.Errorf("s=%v rank %d: %d samples, want %.0f ± %.0f", s, k, counts[k], want, tol)
			}
		}
		if counts[0] <= counts[1] || counts[1] <= counts[top] {
			t.Errorf("s=%v: ranks not decreasing: %d, %d, ..., %d", s, counts[0], counts[1], counts[top])
		}
	}
}

func TestZipfSingleRank(t *testing.T) {
	z := NewZipf(rand.New(rand.NewPCG(3, 4)), 1, 0.99)
	for range 1000 {
		if k := z.Next(); k != 0 {
			t.Fatalf("rank %d with n=1", k)
		}
	}
}

func TestUniformKeys(t *testing.T) {
	const n, samples = 10, 100000
	u := uniformKeys{r: rand.New(rand.NewPCG(5, 6)), n: n}
	counts := make([]int, n)
	for range samples {
		counts[u.next()]++
	}
	want := float64(samples) / n
	for k, c := range counts {
		if math.Abs(float64(c)-want) > 5*math.Sqrt(want) {
			t.Errorf("key %d drawn %d times, want about %.0f", k, c, want)
		}
	}
}

func TestSeqKeysWrap(t *testing.T) {
	var seq atomic.Int64
	s := seqKeys{seq: &seq, n: 3}
	for i, want := range []int64{0, 1, 2, 0, 1} {
		if got := s.next(); got != want {
			t.Fatalf("next #%d = %d, want %d", i, got, want)
		}
	}
}

func TestAppendKey(t *testing.T) {
	tests := []struct {
		i    int64
		want string
	}{
		{0, "key:000000000000"},
		{42, "key:000000000042"},
		{999999, "key:000000999999"},
		{123456789012, "key:123456789012"},
		{1234567890123, "key:1234567890123"},
	}
	for _, tt := range tests {
		if got := string(appendKey([]byte("x"), tt.i)); got != "x"+tt.want {
			t.Errorf("appendKey(%d) = %q, want %q", tt.i, got, "x"+tt.want)
		}
	}
}
