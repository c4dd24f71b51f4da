package server

import (
	"bytes"
	"testing"
)

// FuzzBitRanges checks countBits and findBit against a bit-by-bit oracle
// over the ranges bitRange makes of any start, end and unit.
func FuzzBitRanges(f *testing.F) {
	f.Add([]byte("foobar"), int64(5), int64(30), true)
	f.Add([]byte("\xff\xf0\x00"), int64(-1), int64(-3), false)
	f.Add([]byte{}, int64(0), int64(-1), true)
	f.Fuzz(func(t *testing.T, s []byte, start, end int64, isBit bool) {
		if len(s) > 64 {
			s = s[:64]
		}
		lo, hi, empty := bitRange(int64(len(s)), start, end, isBit)
		if empty {
			return
		}
		if lo < 0 || hi >= int64(len(s))*8 || lo > hi {
			t.Fatalf("bitRange(%d, %d, %d, %v) = [%d, %d] outside the string", len(s), start, end, isBit, lo, hi)
		}
		var ones int64
		first := [2]int64{-1, -1}
		for i := lo; i <= hi; i++ {
			b := int(s[i/8]>>(7-i%8)) & 1
			ones += int64(b)
			if first[b] < 0 {
				first[b] = i
			}
		}
		if got := countBits(s, lo, hi); got != ones {
			t.Fatalf("countBits(%x, %d, %d) = %d, want %d", s, lo, hi, got, ones)
		}
		for bit := range 2 {
			if got := findBit(s, lo, hi, bit); got != first[bit] {
				t.Fatalf("findBit(%x, %d, %d, %d) = %d, want %d", s, lo, hi, bit, got, first[bit])
			}
		}
	})
}

// FuzzLCS checks that lcs returns a common subsequence of the longest
// length, and that its matches are runs of it present at their offsets in
// both strings, from the end backwards, adding up to its length.
func FuzzLCS(f *testing.F) {
	f.Add([]byte("ohmytext"), []byte("mynewtext"))
	f.Add([]byte("ACCGGTCGAGTGCGCGGAAGCCGGCCGAA"), []byte("GTCGTTCGGAATGCCGTTGCTCTGTAAA"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		a, b = a[:min(len(a), 40)], b[:min(len(b), 40)]
		res := lcs(a, b)
		if !isSubsequence(res.common, a) || !isSubsequence(res.common, b) {
			t.Fatalf("lcs(%q, %q) = %q: not a common subsequence", a, b, res.common)
		}
		if want := lcsLength(a, b); len(res.common) != want {
			t.Fatalf("lcs(%q, %q) = %q, want length %d", a, b, res.common, want)
		}
		var rebuilt []byte
		prevA, prevB := len(a), len(b)
		for _, m := range res.matches {
			if m.n <= 0 || m.a+m.n > prevA || m.b+m.n > prevB || !bytes.Equal(a[m.a:m.a+m.n], b[m.b:m.b+m.n]) {
				t.Fatalf("lcs(%q, %q): bad match %+v", a, b, m)
			}
			prevA, prevB = m.a, m.b
			rebuilt = append(append([]byte(nil), a[m.a:m.a+m.n]...), rebuilt...)
		}
		if !bytes.Equal(rebuilt, res.common) {
			t.Fatalf("lcs(%q, %q): matches spell %q, not %q", a, b, rebuilt, res.common)
		}
	})
}

func isSubsequence(sub, s []byte) bool {
	i := 0
	for _, c := range s {
		if i < len(sub) && sub[i] == c {
			i++
		}
	}
	return i == len(sub)
}

// lcsLength is the textbook recursion with memoization, as the oracle.
func lcsLength(a, b []byte) int {
	memo := map[[2]int]int{}
	var rec func(i, j int) int
	rec = func(i, j int) int {
		if i == len(a) || j == len(b) {
			return 0
		}
		k := [2]int{i, j}
		if v, ok := memo[k]; ok {
			return v
		}
		v := max(rec(i+1, j), rec(i, j+1))
		if a[i] == b[j] {
			v = max(v, 1+rec(i+1, j+1))
		}
		memo[k] = v
		return v
	}
	return rec(0, 0)
}
