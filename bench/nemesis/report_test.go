package nemesis

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

func TestStampWriter(t *testing.T) {
	var out bytes.Buffer
	w := &stampWriter{w: &out}
	for _, s := range []string{"one\ntw", "o\n", "three\nfour\n"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	stamp := `\d\d:\d\d:\d\d\.\d\d\d `
	want := regexp.MustCompile("^" + stamp + "one\n" + stamp + "two\n" + stamp + "three\n" + stamp + "four\n$")
	if !want.Match(out.Bytes()) {
		t.Fatalf("got %q", out.String())
	}
}

func TestLine(t *testing.T) {
	r := ScenarioResult{Scenario: "kill9-one", Status: StatusPass, Seconds: 74.2, Result: Result{
		Ops: 41230, AckedWrites: 20011, StaleReads: [2]int{1, 2}, NilReads: [3]int{3, 4, 5},
		Writes: [3]Ratio{{10, 10}, {963, 1000}, {5, 5}}, Reads: [3]Ratio{{10, 10}, {971, 1000}, {0, 0}},
	}}
	want := "nemesis kill9-one  ops=41230 acked_writes=20011 lost=0 discarded=0 stale_reads=1/2 undone_deletes=0 " +
		"nil_reads=3/4/5 not_on_owners=0 avail_w=100.0/96.3/100.0 avail_r=100.0/97.1/- time=74s PASS"
	if got := r.Line(); got != want {
		t.Fatalf("\ngot  %s\nwant %s", got, want)
	}
	skip := ScenarioResult{Scenario: "partition", Status: StatusSkip, Reason: "no iptables binary"}
	if got := skip.Line(); got != "nemesis partition  SKIP: no iptables binary" {
		t.Fatalf("skip line %q", got)
	}
}

func TestWriteTable(t *testing.T) {
	results := []ScenarioResult{
		{Scenario: "none", Status: StatusFail, Seconds: 70, Result: Result{Ops: 10, AckedWrites: 5, Discarded: 2, OwnersChecked: 3}},
		{Scenario: "partition", Status: StatusSkip, Reason: "a|b"},
	}
	var out bytes.Buffer
	if err := WriteTable(&out, results); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want header, rule and 2 rows:\n%s", len(lines), out.String())
	}
	cols := strings.Count(lines[0], "|")
	for _, l := range lines[1:] {
		if got := strings.Count(l, "|") - strings.Count(l, `\|`); got != cols {
			t.Fatalf("row %q has %d separators, header %d", l, got, cols)
		}
	}
	if !strings.Contains(lines[2], "| none | 10 | 5 | 0 | 2 |") || !strings.HasSuffix(lines[2], "| FAIL |") {
		t.Fatalf("row %q", lines[2])
	}
}

func TestFailed(t *testing.T) {
	if Failed([]ScenarioResult{{Status: StatusPass}, {Status: StatusSkip}}) {
		t.Fatal("PASS and SKIP failed")
	}
	for _, s := range []string{StatusFail, StatusError} {
		if !Failed([]ScenarioResult{{Status: StatusPass}, {Status: s}}) {
			t.Fatalf("%s did not fail", s)
		}
	}
}
