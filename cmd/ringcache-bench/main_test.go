package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"no command", nil, 2},
		{"unknown command", []string{"frobnicate"}, 2},
		{"help", []string{"help"}, 0},
		{"load help", []string{"load", "-h"}, 0},
		{"bad flag", []string{"load", "--nope"}, 2},
		{"mix and get", []string{"load", "--mix", "get=1", "--get", "1"}, 2},
		{"stray argument", []string{"compare", "extra"}, 2},
		{"invalid config", []string{"load", "--conns", "0"}, 1},
		{"bad pipelines", []string{"compare", "--pipelines", "1,x"}, 1},
		{"node args without cluster", []string{"compare", "--node-args", "--procs 1"}, 1},
		{"nemesis help", []string{"nemesis", "-h"}, 0},
		{"nemesis unknown scenario", []string{"nemesis", "--scenarios", "none,meteor"}, 1},
		{"evict help", []string{"evict", "-h"}, 0},
		{"evict bad maxmemory", []string{"evict", "--maxmemory", "64 potatoes"}, 2},
		{"evict invalid config", []string{"evict", "--fill", "0"}, 1},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		if got := run(tt.args, &out, &errOut); got != tt.want {
			t.Errorf("%s: exit %d, want %d; stderr:\n%s", tt.name, got, tt.want, errOut.String())
		}
	}
}

func TestParseInts(t *testing.T) {
	got, err := parseInts(" 1, 16,64")
	if err != nil || !slices.Equal(got, []int{1, 16, 64}) {
		t.Fatalf("parseInts = %v, %v", got, err)
	}
	if _, err := parseInts("1,,2"); err == nil || !strings.Contains(err.Error(), "invalid syntax") {
		t.Fatalf("empty element accepted: %v", err)
	}
}
