package bench

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Sample is one test's line of one redis-benchmark invocation.
type Sample struct {
	Test      string  `json:"test"` // upper case, e.g. "SET"
	OpsPerSec float64 `json:"ops_per_sec"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
}

// ParseCSV parses redis-benchmark --csv output. Columns are found by header
// name ("test", "rps", "p50_latency_ms", "p99_latency_ms"), as redis 7
// prints them. Output without a header or without the latency columns
// (redis 6 prints only "test","rps") yields the throughput and ErrNoLatency,
// telling the caller to use the human-readable output instead.
func ParseCSV(out []byte) ([]Sample, error) {
	r := csv.NewReader(bytes.NewReader(out))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%w: csv: %v", ErrParse, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: empty csv", ErrParse)
	}
	col := map[string]int{"test": 0, "rps": 1} // header-less redis 6 layout
	if slices.ContainsFunc(rows[0], func(c string) bool { return strings.EqualFold(c, "test") }) {
		for i, name := range rows[0] {
			col[strings.ToLower(strings.TrimSpace(name))] = i
		}
		rows = rows[1:]
	}
	p50, has50 := col["p50_latency_ms"]
	p99, has99 := col["p99_latency_ms"]
	var samples []Sample
	for _, row := range rows {
		if len(row) < 2 {
			continue
		}
		if col["test"] >= len(row) {
			return nil, fmt.Errorf("%w: short csv row %q", ErrParse, row)
		}
		s := Sample{Test: strings.ToUpper(row[col["test"]])}
		fields := []struct {
			dst *float64
			idx int
			ok  bool
		}{{&s.OpsPerSec, col["rps"], true}, {&s.P50Ms, p50, has50}, {&s.P99Ms, p99, has99}}
		for _, f := range fields {
			if !f.ok {
				continue
			}
			if f.idx >= len(row) {
				return nil, fmt.Errorf("%w: short csv row %q", ErrParse, row)
			}
			v, err := strconv.ParseFloat(row[f.idx], 64)
			if err != nil {
				return nil, fmt.Errorf("%w: csv field %q: %v", ErrParse, row[f.idx], err)
			}
			*f.dst = v
		}
		samples = append(samples, s)
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("%w: no test rows in csv", ErrParse)
	}
	if !has50 || !has99 {
		return samples, ErrNoLatency
	}
	return samples, nil
}

// ParseText parses redis-benchmark's human-readable output: sections that
// start with "====== SET ======", a "requests per second" line, and either
// the redis 7 "latency summary (msec):" table (columns found by name) or,
// for older versions, the "P% <= V milliseconds" distribution. Progress
// lines separated by carriage returns are ignored.
func ParseText(out []byte) ([]Sample, error) {
	var (
		samples []Sample
		cur     *Sample
		// header holds the latency-summary column names until the next line.
		header []string
		got50  bool
		got99  bool
	)
	sc := bufio.NewScanner(bytes.NewReader(bytes.ReplaceAll(out, []byte("\r"), []byte("\n"))))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "======") && strings.HasSuffix(line, "======"):
			samples = append(samples, Sample{Test: strings.ToUpper(strings.Trim(line, "= "))})
			cur, header, got50, got99 = &samples[len(samples)-1], nil, false, false
		case cur == nil:
		case header != nil:
			if err := fillSummary(cur, header, strings.Fields(line)); err != nil {
				return nil, err
			}
			header, got50, got99 = nil, true, true
		case strings.HasPrefix(line, "avg") && strings.Contains(line, "p50"):
			header = strings.Fields(line)
		case strings.HasSuffix(line, "requests per second"):
			v, err := firstFloat(strings.TrimPrefix(line, "throughput summary:"))
			if err != nil {
				return nil, err
			}
			cur.OpsPerSec = v
		case strings.Contains(line, "% <= ") && strings.HasSuffix(line, "milliseconds"),
			strings.Contains(line, "% <= ") && strings.Contains(line, "milliseconds (cumulative"):
			pct, ms, err := parsePercentLine(line)
			if err != nil {
				return nil, err
			}
			if !got50 && pct >= 50 {
				cur.P50Ms, got50 = ms, true
			}
			if !got99 && pct >= 99 {
				cur.P99Ms, got99 = ms, true
			}
		}
	}
	if err := sc.Err(); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%w: %v", ErrParse, err)
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("%w: no \"====== TEST ======\" section", ErrParse)
	}
	for _, s := range samples {
		if s.OpsPerSec == 0 {
			return nil, fmt.Errorf("%w: no throughput for %s", ErrParse, s.Test)
		}
	}
	return samples, nil
}

func fillSummary(s *Sample, header, values []string) error {
	if len(values) != len(header) {
		return fmt.Errorf("%w: latency summary has %d columns, header %d", ErrParse, len(values), len(header))
	}
	for i, name := range header {
		var dst *float64
		switch name {
		case "p50":
			dst = &s.P50Ms
		case "p99":
			dst = &s.P99Ms
		default:
			continue
		}
		v, err := strconv.ParseFloat(values[i], 64)
		if err != nil {
			return fmt.Errorf("%w: latency %q: %v", ErrParse, values[i], err)
		}
		*dst = v
	}
	return nil
}

// parsePercentLine reads "99.219% <= 8.279 milliseconds ...".
func parsePercentLine(line string) (pct, ms float64, err error) {
	f := strings.Fields(line)
	if len(f) < 3 {
		return 0, 0, fmt.Errorf("%w: percentile line %q", ErrParse, line)
	}
	if pct, err = strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64); err != nil {
		return 0, 0, fmt.Errorf("%w: percentile line %q", ErrParse, line)
	}
	if ms, err = strconv.ParseFloat(f[2], 64); err != nil {
		return 0, 0, fmt.Errorf("%w: percentile line %q", ErrParse, line)
	}
	return pct, ms, nil
}

func firstFloat(s string) (float64, error) {
	for _, f := range strings.Fields(s) {
		if v, err := strconv.ParseFloat(f, 64); err == nil {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: no number in %q", ErrParse, s)
}
