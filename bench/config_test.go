package bench

import (
	"errors"
	"testing"
	"time"
)

func TestParseMix(t *testing.T) {
	tests := []struct {
		in      string
		want    Mix
		wantErr bool
	}{
		{"get=80,set=20,del=0", Mix{Get: 80, Set: 20}, false},
		{"set=1", Mix{Set: 1}, false},
		{" GET = 0.5 , del=0.5 ", Mix{Get: 0.5, Del: 0.5}, false},
		{"get=0,set=0", Mix{}, true},
		{"get=-1,set=2", Mix{}, true},
		{"incr=1", Mix{}, true},
		{"get", Mix{}, true},
		{"get=x", Mix{}, true},
	}
	for _, tt := range tests {
		got, err := ParseMix(tt.in)
		if (err != nil) != tt.wantErr {
			t.Fatalf("ParseMix(%q) err = %v, want error %v", tt.in, err, tt.wantErr)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("ParseMix(%q) err %v does not wrap ErrInvalidConfig", tt.in, err)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("ParseMix(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestMixStringRoundTrip(t *testing.T) {
	m := Mix{Get: 0.7, Set: 0.2, Del: 0.1}
	if got := m.String(); got != "get=70,set=20,del=10" {
		t.Fatalf("String() = %q", got)
	}
	back, err := ParseMix(m.String())
	if err != nil {
		t.Fatal(err)
	}
	if back.String() != m.String() {
		t.Fatalf("round trip %q -> %q", m.String(), back.String())
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"no addr", func(c *Config) { c.Addr = "" }},
		{"no keys", func(c *Config) { c.Keys = 0 }},
		{"bad dist", func(c *Config) { c.Dist = "gaussian" }},
		{"zipf s zero", func(c *Config) { c.Dist = DistZipfian; c.ZipfS = 0 }},
		{"no conns", func(c *Config) { c.Conns = 0 }},
		{"no pipeline", func(c *Config) { c.Pipeline = 0 }},
		{"unbounded", func(c *Config) { c.Ops = 0; c.Duration = 0 }},
		{"negative ttl", func(c *Config) { c.TTL = -time.Second }},
		{"empty mix", func(c *Config) { c.Mix = Mix{} }},
	}
	for _, tt := range tests {
		c := DefaultConfig()
		tt.edit(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate() = %v, want ErrInvalidConfig", tt.name, err)
		}
	}
}

func TestCompareConfigValidate(t *testing.T) {
	if err := DefaultCompareConfig().Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	tests := []struct {
		name string
		edit func(*CompareConfig)
	}{
		{"no runs", func(c *CompareConfig) { c.Runs = 0 }},
		{"no pipelines", func(c *CompareConfig) { c.Pipelines = nil }},
		{"zero pipeline", func(c *CompareConfig) { c.Pipelines = []int{1, 0} }},
		{"no clients", func(c *CompareConfig) { c.Clients = 0 }},
		{"no benchmark", func(c *CompareConfig) { c.RedisBenchmark = "" }},
		{"rss without keys", func(c *CompareConfig) { c.RSSKeys = 0 }},
	}
	for _, tt := range tests {
		c := DefaultCompareConfig()
		tt.edit(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate() = %v, want ErrInvalidConfig", tt.name, err)
		}
	}
}
