package quorum

import (
	"errors"
	"strings"
	"testing"
	"testing/quick"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want Level
		err  bool
	}{
		{"ONE", One, false},
		{"one", One, false},
		{"Quorum", Quorum, false},
		{"ALL", All, false},
		{"", 0, true},
		{"TWO", 0, true},
		{"QUORUM ", 0, true},
		{"LOCAL_QUORUM", 0, true},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("Parse(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.err)
		}
		if err != nil && !errors.Is(err, ErrUnknownLevel) {
			t.Errorf("Parse(%q) error %v does not wrap ErrUnknownLevel", c.in, err)
		}
	}
}

func TestRequired(t *testing.T) {
	cases := []struct {
		l    Level
		n    int
		want int
	}{
		{One, 3, 1},
		{Quorum, 1, 1},
		{Quorum, 2, 2},
		{Quorum, 3, 2},
		{Quorum, 4, 3},
		{Quorum, 5, 3},
		{All, 3, 3},
		{All, 0, 1},
		{One, 0, 1},
		{Level(0), 3, 3},
		{Level(9), 5, 5},
	}
	for _, c := range cases {
		if got := c.l.Required(c.n); got != c.want {
			t.Errorf("%v.Required(%d) = %d, want %d", c.l, c.n, got, c.want)
		}
	}
}

// TestQuorumsIntersect checks the property quorum reads rely on: a QUORUM
// read and a QUORUM write of n replicas always share one, and every level
// needs between 1 and n replicas.
func TestQuorumsIntersect(t *testing.T) {
	f := func(n uint8, l uint8) bool {
		size := int(n%64) + 1
		lv := Level(l%3 + 1)
		r := lv.Required(size)
		return r >= 1 && r <= size && 2*Quorum.Required(size) > size
	}
	if err := quick.Check(f, nil); err != nil {
		t.Error(err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"ONE", "quorum", "All", "", "x", "ALL\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse(s)
		if err != nil {
			if l != 0 || !errors.Is(err, ErrUnknownLevel) {
				t.Fatalf("Parse(%q) = %v, %v", s, l, err)
			}
			return
		}
		if !l.Valid() || !strings.EqualFold(s, l.String()) {
			t.Fatalf("Parse(%q) = %v", s, l)
		}
		if back, err := Parse(l.String()); err != nil || back != l {
			t.Fatalf("round trip of %v gave %v, %v", l, back, err)
		}
	})
}
