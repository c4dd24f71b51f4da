package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestBuildTable(t *testing.T) {
	run := func(set, get float64) []Sample {
		return []Sample{{"SET", set, set / 1000, set / 100}, {"GET", get, get / 1000, get / 100}}
	}
	results := []targetResult{
		{
			Name:     "ringcache",
			Cells:    map[int][][]Sample{16: {run(400, 800)}, 1: {run(50, 90), run(10, 60), run(40, 70)}},
			Requests: map[int]int{1: 1000, 16: 9000},
			RSSBytes: 300, RSSKeys: 10,
		},
		{
			Name:     "redis-noaof",
			Cells:    map[int][][]Sample{1: {run(100, 100)}, 16: {run(1000, 1600)}},
			Requests: map[int]int{1: 1000, 16: 9000},
			RSSBytes: 100, RSSKeys: 10,
		},
	}
	tab := BuildTable(results, "redis-noaof")
	type want struct {
		target, test string
		p            int
		ops, ratio   float64
	}
	wants := []want{
		{"ringcache", "SET", 1, 40, 0.4}, // median of 50, 10, 40
		{"ringcache", "SET", 16, 400, 0.4},
		{"ringcache", "GET", 1, 70, 0.7},
		{"ringcache", "GET", 16, 800, 0.5},
		{"redis-noaof", "SET", 1, 100, 1},
		{"redis-noaof", "SET", 16, 1000, 1},
		{"redis-noaof", "GET", 1, 100, 1},
		{"redis-noaof", "GET", 16, 1600, 1},
	}
	if len(tab.Rows) != len(wants) {
		t.Fatalf("%d rows, want %d: %+v", len(tab.Rows), len(wants), tab.Rows)
	}
	for i, w := range wants {
		r := tab.Rows[i]
		if r.Target != w.target || r.Test != w.test || r.Pipeline != w.p || r.OpsPerSec != w.ops {
			t.Errorf("row %d = %s %s P%d %v, want %s %s P%d %v", i, r.Target, r.Test, r.Pipeline,
				r.OpsPerSec, w.target, w.test, w.p, w.ops)
		}
		if r.Ratio == nil || math.Abs(*r.Ratio-w.ratio) > 1e-9 {
			t.Errorf("row %d ratio = %v, want %v", i, fmtRatio(r.Ratio), w.ratio)
		}
	}
	// Latency columns take their own medians: 0.05, 0.01, 0.04 -> 0.04.
	if got := tab.Rows[0].P50Ms; got != 0.04 {
		t.Errorf("ringcache SET P1 p50 = %v, want 0.04", got)
	}
	if len(tab.Rows[0].Runs) != 3 {
		t.Errorf("ringcache SET P1 keeps %d runs, want 3", len(tab.Rows[0].Runs))
	}
	if len(tab.Memory) != 2 || tab.Memory[0].Ratio == nil || *tab.Memory[0].Ratio != 3 {
		t.Errorf("memory rows = %+v, want ringcache at 3x", tab.Memory)
	}
}

func TestBuildTableWithoutBaseline(t *testing.T) {
	tab := BuildTable([]targetResult{{
		Name:  "ringcache",
		Cells: map[int][][]Sample{1: {{{"SET", 10, 1, 2}}}},
	}}, "redis-noaof")
	if len(tab.Rows) != 1 || tab.Rows[0].Ratio != nil {
		t.Fatalf("rows = %+v, want one row without ratio", tab.Rows)
	}
	var text bytes.Buffer
	if err := tab.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "ringcache") || !strings.Contains(text.String(), " -\n") {
		t.Errorf("text output lacks the row or the missing ratio:\n%s", text.String())
	}
	if _, err := json.Marshal(tab); err != nil {
		t.Fatalf("table does not encode as JSON: %v", err)
	}
}
