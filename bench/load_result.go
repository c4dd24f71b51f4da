package bench

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Result is the outcome of Run. Latencies are in milliseconds; with
// Pipeline > 1 every command in a batch is charged the batch's round trip,
// which is what a client issuing that pipeline waits for.
type Result struct {
	Addr       string              `json:"addr"`
	Mix        string              `json:"mix"`
	Dist       string              `json:"dist"`
	Keys       int                 `json:"keys"`
	Conns      int                 `json:"conns"`
	Pipeline   int                 `json:"pipeline"`
	ValueSize  int                 `json:"value_size"`
	Elapsed    time.Duration       `json:"-"`
	ElapsedSec float64             `json:"elapsed_s"`
	Ops        int64               `json:"ops"`
	OpsPerSec  float64             `json:"ops_per_sec"`
	Errors     int64               `json:"errors"`
	FirstError string              `json:"first_error,omitempty"`
	Latency    Latency             `json:"latency_ms"`
	PerOp      map[string]OpResult `json:"per_op"`
}

// OpResult holds the figures of one command type.
type OpResult struct {
	Ops       int64   `json:"ops"`
	OpsPerSec float64 `json:"ops_per_sec"`
	Errors    int64   `json:"errors"`
	// Misses counts GETs that found no value; they are not errors.
	Misses  int64   `json:"misses"`
	Latency Latency `json:"latency_ms"`
}

// Latency summarises a latency distribution in milliseconds.
type Latency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

// Histogram bounds, in microseconds: 1 µs to 60 s at 3 significant digits.
const (
	histMinUs = 1
	histMaxUs = 60_000_000
	histSig   = 3
)

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMinUs, histMaxUs, histSig)
}

func latencyOf(h *hdrhistogram.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Latency{
		Mean: h.Mean() / 1000,
		P50:  ms(h.ValueAtQuantile(50)),
		P99:  ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)),
		Max:  ms(h.Max()),
	}
}

// WriteText prints the result for people.
func (r Result) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("target %s  mix %s  dist %s  keys %d  conns %d  pipeline %d  value %dB\n",
		r.Addr, r.Mix, r.Dist, r.Keys, r.Conns, r.Pipeline, r.ValueSize)
	ew.printf("%d ops in %.2fs: %.0f ops/s, %d errors\n", r.Ops, r.ElapsedSec, r.OpsPerSec, r.Errors)
	if r.FirstError != "" {
		ew.printf("first error: %s\n", r.FirstError)
	}
	ew.printf("%-6s %12s %12s %8s %8s %9s %9s %9s %9s\n",
		"op", "ops", "ops/s", "errors", "misses", "p50 ms", "p99 ms", "p99.9 ms", "max ms")
	names := make([]string, 0, len(r.PerOp))
	for n := range r.PerOp {
		names = append(names, n)
	}
	sort.Strings(names)
	row := func(name string, o OpResult) {
		ew.printf("%-6s %12d %12.0f %8d %8d %9.3f %9.3f %9.3f %9.3f\n", name, o.Ops, o.OpsPerSec,
			o.Errors, o.Misses, o.Latency.P50, o.Latency.P99, o.Latency.P999, o.Latency.Max)
	}
	for _, n := range names {
		row(n, r.PerOp[n])
	}
	row("all", OpResult{Ops: r.Ops, OpsPerSec: r.OpsPerSec, Errors: r.Errors, Misses: r.PerOp["get"].Misses, Latency: r.Latency})
	return ew.err
}

// errWriter keeps the first write error so printing code stays linear.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
