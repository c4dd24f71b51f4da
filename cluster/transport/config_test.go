package transport

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"default", func(*Config) {}, true},
		{"with secret", func(c *Config) { c.Secret = "x" }, true},
		{"empty cluster name", func(c *Config) { c.ClusterName = "" }, false},
		{"long cluster name", func(c *Config) { c.ClusterName = strings.Repeat("x", 256) }, false},
		{"tiny frames", func(c *Config) { c.MaxFrameBytes = 100 }, false},
		{"huge frames", func(c *Config) { c.MaxFrameBytes = 2 << 30 }, false},
		{"no conns", func(c *Config) { c.ConnsPerPeer = 0 }, false},
		{"no dial timeout", func(c *Config) { c.DialTimeout = 0 }, false},
		{"no in-flight", func(c *Config) { c.MaxInFlightPerConn = 0 }, false},
		{"negative write timeout", func(c *Config) { c.WriteTimeout = -1 }, false},
		{"timeouts disabled", func(c *Config) { c.WriteTimeout, c.ReadTimeout = 0, 0 }, true},
		{"no close timeout", func(c *Config) { c.CloseTimeout = 0 }, false},
		{"backoff inverted", func(c *Config) { c.MinBackoff, c.MaxBackoff = time.Second, time.Millisecond }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			if tt.ok != (err == nil) || err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate: %v, want ok=%v", err, tt.ok)
			}
			_, cerr := NewClient("127.0.0.1:1", c)
			_, serr := NewServer(echo, c)
			if (cerr == nil) != tt.ok || (serr == nil) != tt.ok {
				t.Fatalf("NewClient: %v, NewServer: %v; want ok=%v", cerr, serr, tt.ok)
			}
		})
	}
	if _, err := NewServer(nil, DefaultConfig()); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("NewServer(nil): %v", err)
	}
}
