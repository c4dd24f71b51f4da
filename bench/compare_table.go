package bench

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Table is the result of Compare: one row per target × test × pipeline
// holding the median of the runs, the memory rows, and the exact
// redis-benchmark command lines that produced it.
type Table struct {
	Baseline string      `json:"baseline"`
	Rows     []Row       `json:"rows"`
	Memory   []MemoryRow `json:"memory,omitempty"`
	Commands []string    `json:"commands"`
}

// Row is one cell: medians over the runs, each column taken separately.
type Row struct {
	Target    string  `json:"target"`
	Test      string  `json:"test"`
	Pipeline  int     `json:"pipeline"`
	Requests  int     `json:"requests"`
	OpsPerSec float64 `json:"ops_per_sec"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	// Ratio is OpsPerSec divided by the baseline's for the same test and
	// pipeline; nil when the baseline has no such cell.
	Ratio *float64 `json:"ratio_vs_baseline,omitempty"`
	Runs  []Sample `json:"runs"`
}

// MemoryRow is a target's resident memory after the RSS load.
type MemoryRow struct {
	Target   string   `json:"target"`
	Keys     int64    `json:"keys"`
	RSSBytes int64    `json:"rss_bytes"`
	Ratio    *float64 `json:"ratio_vs_baseline,omitempty"`
}

// BuildTable reduces raw results to rows, ordered by target (as given),
// then test, then pipeline, with ratios against the baseline target.
func BuildTable(results []targetResult, baseline string) Table {
	tab := Table{Baseline: baseline}
	type cellKey struct {
		test     string
		pipeline int
	}
	base := map[cellKey]float64{}
	var baseRSS int64
	for _, r := range results {
		pipes := make([]int, 0, len(r.Cells))
		for p := range r.Cells {
			pipes = append(pipes, p)
		}
		sort.Ints(pipes)
		var rows []Row
		rank := map[string]int{} // tests keep redis-benchmark's order
		for _, p := range pipes {
			byTest := map[string][]Sample{}
			var order []string
			for _, run := range r.Cells[p] {
				for _, s := range run {
					if _, seen := byTest[s.Test]; !seen {
						order = append(order, s.Test)
					}
					if _, ok := rank[s.Test]; !ok {
						rank[s.Test] = len(rank)
					}
					byTest[s.Test] = append(byTest[s.Test], s)
				}
			}
			for _, test := range order {
				rows = append(rows, medianRow(r.Name, test, p, r.Requests[p], byTest[test]))
			}
		}
		sort.SliceStable(rows, func(i, j int) bool { return rank[rows[i].Test] < rank[rows[j].Test] })
		if r.Name == baseline {
			for _, row := range rows {
				base[cellKey{row.Test, row.Pipeline}] = row.OpsPerSec
			}
			baseRSS = r.RSSBytes
		}
		tab.Rows = append(tab.Rows, rows...)
		if r.RSSBytes > 0 {
			tab.Memory = append(tab.Memory, MemoryRow{Target: r.Name, Keys: r.RSSKeys, RSSBytes: r.RSSBytes})
		}
	}
	for i := range tab.Rows {
		row := &tab.Rows[i]
		if b, ok := base[cellKey{row.Test, row.Pipeline}]; ok {
			if v, ok := Ratio(row.OpsPerSec, b); ok {
				row.Ratio = &v
			}
		}
	}
	for i := range tab.Memory {
		if v, ok := Ratio(float64(tab.Memory[i].RSSBytes), float64(baseRSS)); ok {
			tab.Memory[i].Ratio = &v
		}
	}
	return tab
}

func medianRow(target, test string, pipeline, requests int, runs []Sample) Row {
	col := func(f func(Sample) float64) float64 {
		xs := make([]float64, len(runs))
		for i, s := range runs {
			xs[i] = f(s)
		}
		return Median(xs)
	}
	return Row{
		Target: target, Test: test, Pipeline: pipeline, Requests: requests, Runs: runs,
		OpsPerSec: col(func(s Sample) float64 { return s.OpsPerSec }),
		P50Ms:     col(func(s Sample) float64 { return s.P50Ms }),
		P99Ms:     col(func(s Sample) float64 { return s.P99Ms }),
	}
}

// WriteText prints the table, the memory rows and the commands.
func (t Table) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("%-14s %-5s %3s %12s %9s %9s %10s\n", "target", "test", "P", "ops/s", "p50 ms", "p99 ms",
		"x "+t.Baseline)
	for _, r := range t.Rows {
		ew.printf("%-14s %-5s %3d %12.0f %9.3f %9.3f %10s\n", r.Target, r.Test, r.Pipeline,
			r.OpsPerSec, r.P50Ms, r.P99Ms, fmtRatio(r.Ratio))
	}
	if len(t.Memory) > 0 {
		ew.printf("\n%-14s %10s %10s %10s\n", "target", "keys", "RSS MiB", "x "+t.Baseline)
		for _, m := range t.Memory {
			ew.printf("%-14s %10d %10.1f %10s\n", m.Target, m.Keys, float64(m.RSSBytes)/(1<<20), fmtRatio(m.Ratio))
		}
	}
	ew.printf("\ncommands (medians of the runs; the first command per target and -P calibrates -n):\n  %s\n",
		strings.Join(t.Commands, "\n  "))
	return ew.err
}

func fmtRatio(r *float64) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", *r)
}
