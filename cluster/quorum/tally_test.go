package quorum

import (
	"math/rand/v2"
	"testing"
)

func TestTally(t *testing.T) {
	cases := []struct {
		name    string
		n, need int
		replies string // '+' success, '-' failure
		want    []Result
	}{
		{"W=2 of 3, two acks", 3, 2, "++", []Result{Pending, Won}},
		{"W=2 of 3, fail then acks", 3, 2, "-++", []Result{Pending, Pending, Won}},
		{"W=2 of 3, two failures lose early", 3, 2, "--", []Result{Pending, Lost}},
		{"W=2 of 3, ack after loss stays lost", 3, 2, "+--", []Result{Pending, Pending, Lost}},
		{"won stays won", 3, 2, "++-", []Result{Pending, Won, Won}},
		{"ONE", 3, 1, "-+", []Result{Pending, Won}},
		{"ONE all fail", 3, 1, "---", []Result{Pending, Pending, Lost}},
		{"ALL one failure loses", 3, 3, "+-", []Result{Pending, Lost}},
		{"ALL", 3, 3, "+++", []Result{Pending, Pending, Won}},
		{"extra replies ignored", 1, 1, "-+", []Result{Lost, Lost}},
		{"need above n", 2, 3, "+", []Result{Lost}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tl := NewTally(c.n, c.need)
			for i, r := range c.replies {
				if got := tl.Record(r == '+'); got != c.want[i] {
					t.Fatalf("after %q: %v, want %v", c.replies[:i+1], got, c.want[i])
				}
			}
			if tl.Acks()+tl.Failures()+tl.Outstanding() != tl.N() {
				t.Fatalf("acks %d + failures %d + outstanding %d != n %d",
					tl.Acks(), tl.Failures(), tl.Outstanding(), tl.N())
			}
		})
	}
}

func TestTallyStart(t *testing.T) {
	cases := []struct {
		n, need int
		want    Result
	}{
		{3, 2, Pending},
		{3, 0, Won},
		{0, 0, Won},
		{0, 1, Lost},
		{2, 3, Lost},
		{-1, 1, Lost},
	}
	for _, c := range cases {
		if got := NewTally(c.n, c.need).Result(); got != c.want {
			t.Errorf("NewTally(%d, %d) = %v, want %v", c.n, c.need, got, c.want)
		}
	}
	var zero Tally
	if zero.Result() != Won {
		t.Errorf("zero Tally = %v, want Won", zero.Result())
	}
}

// oracle decides by brute force over every way the outstanding replies
// could go: Won if all succeed, Lost if none does, else Pending.
func oracle(n, need int, replies []bool) Result {
	if len(replies) > n {
		replies = replies[:n]
	}
	acks := 0
	for _, ok := range replies {
		if ok {
			acks++
		}
	}
	left := n - len(replies)
	wins, total := 0, 0
	for mask := 0; mask < 1<<left; mask++ {
		more := 0
		for b := range left {
			more += mask >> b & 1
		}
		total++
		if acks+more >= need {
			wins++
		}
	}
	switch wins {
	case total:
		return Won
	case 0:
		return Lost
	}
	return Pending
}

func checkAgainstOracle(t *testing.T, n, need int, replies []bool) {
	t.Helper()
	tl := NewTally(n, need)
	prev := tl.Result()
	if want := oracle(n, need, nil); prev != want {
		t.Fatalf("n=%d need=%d initially %v, oracle %v", n, need, prev, want)
	}
	for i, ok := range replies {
		got := tl.Record(ok)
		if want := oracle(n, need, replies[:i+1]); got != want {
			t.Fatalf("n=%d need=%d after %v: %v, oracle %v", n, need, replies[:i+1], got, want)
		}
		if prev != Pending && got != prev {
			t.Fatalf("n=%d need=%d: final result %v changed to %v", n, need, prev, got)
		}
		prev = got
	}
}

func TestTallyMatchesOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		n := rng.IntN(10)
		need := rng.IntN(n+3) - 1
		replies := make([]bool, rng.IntN(n+3))
		for i := range replies {
			replies[i] = rng.IntN(3) != 0
		}
		checkAgainstOracle(t, n, need, replies)
	}
}

func FuzzTally(f *testing.F) {
	f.Add(uint8(3), uint8(2), []byte{1, 0, 1})
	f.Add(uint8(5), uint8(5), []byte{1, 1, 1, 1, 0})
	f.Add(uint8(0), uint8(0), []byte{})
	f.Fuzz(func(t *testing.T, n, need uint8, data []byte) {
		replies := make([]bool, 0, len(data))
		for _, b := range data {
			replies = append(replies, b&1 == 1)
		}
		checkAgainstOracle(t, int(n%12), int(need%14)-1, replies)
	})
}
