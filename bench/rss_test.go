package bench

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestParseVmRSS(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"Name:\tredis-server\nVmPeak:\t  99999 kB\nVmRSS:\t   12345 kB\nThreads:\t5\n", 12345 * 1024, false},
		{"VmRSS: 1 kB", 1024, false},
		{"Name:\tx\n", 0, true},
		{"VmRSS:\t12 MB\n", 0, true},
		{"VmRSS:\tlots kB\n", 0, true},
	}
	for _, tt := range tests {
		got, err := parseVmRSS(strings.NewReader(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseVmRSS(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrParse) {
			t.Errorf("parseVmRSS(%q) err %v does not wrap ErrParse", tt.in, err)
		}
	}
}

func TestReadRSSSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc on this system")
	}
	rss, err := ReadRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 {
		t.Fatalf("RSS of this test process = %d", rss)
	}
}
