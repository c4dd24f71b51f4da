package bench

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestRepairConfigValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultRepairConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*RepairConfig)
	}{
		{"no keys", func(c *RepairConfig) { c.Keys = 0 }},
		{"more differences than keys", func(c *RepairConfig) { c.Differences = c.Keys + 1 }},
		{"negative differences", func(c *RepairConfig) { c.Differences = -1 }},
		{"negative value size", func(c *RepairConfig) { c.ValueSize = -1 }},
		{"no nodes", func(c *RepairConfig) { c.Nodes = 0 }},
		{"too many vnodes", func(c *RepairConfig) { c.VNodes = 1 << 20 }},
		{"no write batch", func(c *RepairConfig) { c.WriteBatch = 0 }},
		{"no write runs", func(c *RepairConfig) { c.WriteRuns = 0 }},
	} {
		c := DefaultRepairConfig()
		tc.edit(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", tc.name, err)
		}
	}
}

// TestRunRepairSmall runs the whole benchmark on a small data set and
// checks what it reports, not how fast: the first exchange moves exactly
// the differing keys, the second nothing.
func TestRunRepairSmall(t *testing.T) {
	t.Parallel()
	cfg := DefaultRepairConfig()
	cfg.Keys, cfg.Differences, cfg.ValueSize = 30_000, 99, 50
	cfg.WriteKeys, cfg.WriteWorkers, cfg.WriteRuns = 2000, 2, 1
	cfg.Dir = t.TempDir()
	res, err := RunRepair(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// A third each: missing on B and newer on A (pushed), newer on B
	// (pulled).
	d := res.Differing
	if d.KeysSent != 66 || d.KeysReceived != 33 {
		t.Fatalf("differing exchange sent %d, received %d keys; want 66 and 33", d.KeysSent, d.KeysReceived)
	}
	if d.RangesCompared != 3*128 || d.RangesDiffering == 0 || d.LeavesDiffering < 1 || d.LeavesDiffering > 99 {
		t.Fatalf("differing exchange %+v", d)
	}
	if d.BytesTotal <= 0 || d.BytesTotal >= res.FullCopyBytes {
		t.Fatalf("differing exchange moved %d bytes, a full copy is %d", d.BytesTotal, res.FullCopyBytes)
	}
	s := res.InSync
	if s.KeysSent+s.KeysReceived != 0 || s.RangesDiffering != 0 || s.BytesTotal >= d.BytesTotal {
		t.Fatalf("in-sync exchange %+v after %+v", s, d)
	}
	if len(res.DigestOn.Runs) != 1 || len(res.DigestOff.Runs) != 1 || res.DigestOn.RecordsPerSec <= 0 || res.DigestOff.RecordsPerSec <= 0 {
		t.Fatalf("write figures on %+v, off %+v", res.DigestOn, res.DigestOff)
	}
	var out bytes.Buffer
	if err := res.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"differing", "in sync", "digest cost", "records/s"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("text output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRepairMedian(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
