package bench

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseCSV(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    []Sample
		wantErr error
	}{
		{
			name: "redis7 -P 1",
			in:   readTestdata(t, "redis7_csv_p1.csv"),
			want: []Sample{{"SET", 18298.26, 0.959, 26.655}, {"GET", 20533.88, 0.903, 9.039}},
		},
		{
			name: "redis7 -P 16",
			in:   readTestdata(t, "redis7_csv_p16.csv"),
			want: []Sample{{"SET", 153374.23, 4.399, 11.495}, {"GET", 154559.50, 3.807, 20.495}},
		},
		{
			name: "columns found by name, not position",
			in: []byte(`"p99_latency_ms","test","p50_latency_ms","rps"` + "\n" +
				`"2.5","set","0.5","1000.0"` + "\n"),
			want: []Sample{{"SET", 1000, 0.5, 2.5}},
		},
		{
			name:    "redis6 has no header and no latency",
			in:      []byte(`"SET","81234.56"` + "\n" + `"GET","90000.00"` + "\n"),
			want:    []Sample{{"SET", 81234.56, 0, 0}, {"GET", 90000, 0, 0}},
			wantErr: ErrNoLatency,
		},
		{name: "empty", in: nil, wantErr: ErrParse},
		{name: "header only", in: []byte(`"test","rps"` + "\n"), wantErr: ErrParse},
		{name: "bad number", in: []byte(`"test","rps"` + "\n" + `"SET","fast"` + "\n"), wantErr: ErrParse},
		{
			name:    "short row",
			in:      []byte(`"test","rps","p50_latency_ms","p99_latency_ms"` + "\n" + `"SET","1","2"` + "\n"),
			wantErr: ErrParse,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCSV(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrNoLatency) {
				return
			}
			assertSamples(t, got, tt.want)
		})
	}
}

func TestParseText(t *testing.T) {
	full := readTestdata(t, "redis7_full_p1.txt")
	// Without the latency summaries only the percentile distribution is
	// left, which is what redis-benchmark 6 prints.
	noSummary := cutLatencySummaries(full)
	tests := []struct {
		name    string
		in      []byte
		want    []Sample
		wantErr error
	}{
		{
			name: "redis7 summary",
			in:   full,
			want: []Sample{{"SET", 20161.29, 1.015, 8.135}, {"GET", 17196.90, 0.983, 9.815}},
		},
		{
			name: "percentile distribution fallback",
			in:   noSummary,
			want: []Sample{{"SET", 20161.29, 1.015, 8.279}, {"GET", 17196.90, 0.983, 10.559}},
		},
		{
			name: "redis6 style",
			in: []byte("====== GET ======\n  100000 requests completed in 1.00 seconds\n" +
				"40.00% <= 1 milliseconds\n99.50% <= 2 milliseconds\n100.00% <= 3 milliseconds\n" +
				"99800.20 requests per second\n"),
			want: []Sample{{"GET", 99800.20, 2, 2}},
		},
		{name: "no sections", in: []byte("ERR unknown command\n"), wantErr: ErrParse},
		{name: "no throughput", in: []byte("====== SET ======\n"), wantErr: ErrParse},
		{
			name:    "summary column mismatch",
			in:      []byte("====== SET ======\n  latency summary (msec):\n    avg p50 p99\n  1 2\n"),
			wantErr: ErrParse,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseText(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			assertSamples(t, got, tt.want)
		})
	}
}

// cutLatencySummaries drops each "latency summary (msec):" line and the
// two lines (header, values) after it.
func cutLatencySummaries(b []byte) []byte {
	lines := bytes.Split(b, []byte("\n"))
	var out [][]byte
	for i := 0; i < len(lines); i++ {
		if bytes.Contains(lines[i], []byte("latency summary")) {
			i += 2
			continue
		}
		out = append(out, lines[i])
	}
	return bytes.Join(out, []byte("\n"))
}

func assertSamples(t *testing.T, got, want []Sample) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d samples %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("sample %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func FuzzParseCSV(f *testing.F) {
	f.Add(readTestdata(f, "redis7_csv_p1.csv"))
	f.Add(readTestdata(f, "redis7_csv_p16.csv"))
	f.Add([]byte(`"SET","1.5"`))
	f.Add([]byte("\"test\"\n\"x\""))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := ParseCSV(in)
		if err != nil && !errors.Is(err, ErrParse) && !errors.Is(err, ErrNoLatency) {
			t.Fatalf("error %v does not wrap a bench sentinel", err)
		}
		if (err == nil || errors.Is(err, ErrNoLatency)) && len(got) == 0 {
			t.Fatal("success without samples")
		}
	})
}

func FuzzParseText(f *testing.F) {
	f.Add(readTestdata(f, "redis7_full_p1.txt"))
	f.Add([]byte("====== GET ======\n99.5% <= 2 milliseconds\n1 requests per second\n"))
	f.Add([]byte("====== SET ======\nlatency summary (msec):\navg p50\n1 2\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := ParseText(in)
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("error %v does not wrap ErrParse", err)
			}
			return
		}
		if len(got) == 0 {
			t.Fatal("success without samples")
		}
		for _, s := range got {
			if s.OpsPerSec == 0 {
				t.Fatalf("sample without throughput accepted: %+v", s)
			}
		}
	})
}
