package bench

import (
	"math"
	"slices"
)

// Median returns the middle value of xs (the mean of the two middle values
// for an even count), or NaN for none. The median, unlike the mean, ignores
// one run disturbed by a noisy neighbour.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// Ratio returns a/b, and false when b is zero or either side is not a
// finite number, so a missing baseline shows as "-" rather than Inf.
func Ratio(a, b float64) (float64, bool) {
	if b == 0 || !finite(a) || !finite(b) {
		return 0, false
	}
	return a / b, true
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
