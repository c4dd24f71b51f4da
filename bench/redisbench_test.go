package bench

import (
	"slices"
	"testing"
)

func TestRequestsFor(t *testing.T) {
	tests := []struct {
		name  string
		cal   []Sample
		secs  float64
		floor int
		want  int
	}{
		{"fastest test sets n", []Sample{{OpsPerSec: 50000}, {OpsPerSec: 80000}}, 3, 1000, 240000},
		{"rounded up to 1000", []Sample{{OpsPerSec: 33333}}, 3, 1000, 100000},
		{"never below calibration", []Sample{{OpsPerSec: 100}}, 3, 20000, 20000},
		{"zero seconds", []Sample{{OpsPerSec: 1e6}}, 0, 5000, 5000},
	}
	for _, tt := range tests {
		if got := requestsFor(tt.cal, tt.secs, tt.floor); got != tt.want {
			t.Errorf("%s: requestsFor = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestRedisBenchArgs(t *testing.T) {
	cfg := DefaultCompareConfig()
	b := &redisBench{cfg: cfg}
	got, err := b.args("127.0.0.1:7001", 16, 500000)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-h", "127.0.0.1", "-p", "7001", "-t", "set,get", "-c", "50", "-r", "100000",
		"-d", "100", "-P", "16", "-n", "500000", "--csv"}
	if !slices.Equal(got, want) {
		t.Fatalf("args = %q\nwant   %q", got, want)
	}
	b.textMode = true
	got, _ = b.args("127.0.0.1:7001", 1, 10)
	if slices.Contains(got, "--csv") {
		t.Fatalf("text mode still asks for csv: %q", got)
	}
	if _, err := b.args("no-port", 1, 10); err == nil {
		t.Fatal("address without port accepted")
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		bin  string
		args []string
		want string
	}{
		{"redis-benchmark", []string{"-t", "set,get", "-P", "16"}, "redis-benchmark -t set,get -P 16"},
		{"redis-server", []string{"--save", ""}, "redis-server --save ''"},
		{"/opt/my bin/x", []string{"it's"}, `'/opt/my bin/x' 'it'\''s'`},
	}
	for _, tt := range tests {
		if got := commandLine(tt.bin, tt.args); got != tt.want {
			t.Errorf("commandLine = %s, want %s", got, tt.want)
		}
	}
}
