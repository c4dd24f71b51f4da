package bench

import (
	"math"
	"math/rand/v2"
	"strconv"
)

// keyChooser yields key indexes in [0, n). Each connection owns one, so
// implementations need no locking.
type keyChooser interface {
	next() int64
}

type uniformKeys struct {
	r *rand.Rand
	n int64
}

func (u uniformKeys) next() int64 { return u.r.Int64N(u.n) }

// Zipf draws ranks in [0, n) with P(k) proportional to 1/(k+1)^s, for any
// s > 0 (math/rand's Zipf needs s > 1, but the YCSB default is 0.99). It uses
// rejection-inversion sampling (Hörmann and Derflinger 1996): constant
// setup cost and memory however large n is, and on average fewer than two
// uniform draws per sample.
type Zipf struct {
	r        *rand.Rand
	n        float64
	exponent float64
	hX1      float64 // hIntegral(1.5) - 1
	hN       float64 // hIntegral(n + 0.5)
	sq       float64 // squeeze bound that skips most acceptance tests
}

// NewZipf returns a Zipf generator over n ranks with exponent s, drawing
// uniforms from r. It panics if n < 1 or s <= 0; Config.Validate rejects both.
func NewZipf(r *rand.Rand, n int64, s float64) *Zipf {
	if n < 1 || !(s > 0) {
		panic("bench: NewZipf needs n >= 1 and s > 0")
	}
	z := &Zipf{r: r, n: float64(n), exponent: s}
	z.hX1 = z.hIntegral(1.5) - 1
	z.hN = z.hIntegral(z.n + 0.5)
	z.sq = 2 - z.hIntegralInverse(z.hIntegral(2.5)-z.h(2))
	return z
}

// Next returns the next rank; 0 is the most frequent.
func (z *Zipf) Next() int64 {
	for {
		u := z.hN + z.r.Float64()*(z.hX1-z.hN)
		x := z.hIntegralInverse(u)
		k := math.Floor(x + 0.5)
		k = math.Max(1, math.Min(k, z.n))
		if k-x <= z.sq || u >= z.hIntegral(k+0.5)-z.h(k) {
			return int64(k) - 1
		}
	}
}

func (z *Zipf) next() int64 { return z.Next() }

// h is the unnormalised density x^-s.
func (z *Zipf) h(x float64) float64 { return math.Exp(-z.exponent * math.Log(x)) }

// hIntegral is an antiderivative of h, written to stay exact near s == 1.
func (z *Zipf) hIntegral(x float64) float64 {
	lx := math.Log(x)
	return expm1Over((1-z.exponent)*lx) * lx
}

func (z *Zipf) hIntegralInverse(x float64) float64 {
	t := x * (1 - z.exponent)
	if t < -1 {
		t = -1 // rounding can push t just past the pole of log1p
	}
	return math.Exp(log1pOver(t) * x)
}

// log1pOver is log(1+x)/x, continuous at 0.
func log1pOver(x float64) float64 {
	if math.Abs(x) > 1e-8 {
		return math.Log1p(x) / x
	}
	return 1 - x*(0.5-x*(1.0/3-0.25*x))
}

// expm1Over is (e^x - 1)/x, continuous at 0.
func expm1Over(x float64) float64 {
	if math.Abs(x) > 1e-8 {
		return math.Expm1(x) / x
	}
	return 1 + x*0.5*(1+x/3*(1+0.25*x))
}

// appendKey appends the name of key i: "key:" and 12 zero-padded digits,
// matching redis-benchmark's key:__rand_int__ so both tools share a key space.
func appendKey(dst []byte, i int64) []byte {
	var tmp [20]byte
	digits := strconv.AppendInt(tmp[:0], i, 10)
	dst = append(dst, "key:"...)
	for pad := 12 - len(digits); pad > 0; pad-- {
		dst = append(dst, '0')
	}
	return append(dst, digits...)
}
