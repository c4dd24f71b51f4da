package nemesis

import (
	"errors"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	for name, c := range map[string]Config{"default": DefaultConfig(), "short": ShortConfig()} {
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	tests := []struct {
		name   string
		change func(c *Config)
	}{
		{"three nodes", func(c *Config) { c.Nodes = 3 }},
		{"no scenario", func(c *Config) { c.Scenarios = nil }},
		{"unknown scenario", func(c *Config) { c.Scenarios = []string{"meteor"} }},
		{"no warm-up", func(c *Config) { c.Warmup = 0 }},
		{"no hint wait", func(c *Config) { c.HintsTimeout = 0 }},
		{"no reader", func(c *Config) { c.Workload.Readers = 0 }},
		{"no insert rate", func(c *Config) { c.Workload.InsertRate = 0 }},
		{"burst of one", func(c *Config) { c.Workload.Burst = 1 }},
		{"no client timeout", func(c *Config) { c.Workload.Timeout = 0 }},
		{"negative sample", func(c *Config) { c.OwnerSample = -1 }},
	}
	for _, tt := range tests {
		c := DefaultConfig()
		tt.change(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", tt.name, err)
		}
	}
}

// The short form must keep CI's run short: its phases alone take about
// 20 s per scenario, the membership scenarios' operations a little more.
func TestShortConfigIsShort(t *testing.T) {
	c := ShortConfig()
	per := c.Warmup + c.After + max(c.Outage, c.Partition)
	if total := time.Duration(len(c.Scenarios)) * per; total > 6*time.Minute {
		t.Fatalf("the short form's phases take %v", total)
	}
}
