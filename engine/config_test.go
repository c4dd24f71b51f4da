package engine

import (
	"errors"
	"testing"
)

func TestParseFsync(t *testing.T) {
	for _, m := range []FsyncMode{FsyncAlways, FsyncEverySec, FsyncNo} {
		got, err := ParseFsync(m.String())
		if err != nil || got != m {
			t.Fatalf("ParseFsync(%q) = %v, %v", m.String(), got, err)
		}
	}
	for _, s := range []string{"", "Always", "sometimes"} {
		if _, err := ParseFsync(s); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("ParseFsync(%q) err = %v", s, err)
		}
	}
	if DefaultConfig().Fsync != FsyncEverySec {
		t.Fatal("default fsync mode is not everysec")
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Dir = "d"
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"no dir", func(c *Config) { c.Dir = "" }},
		{"bad fsync", func(c *Config) { c.Fsync = 7 }},
		{"zero grace", func(c *Config) { c.TombstoneGrace = 0 }},
		{"zero interval", func(c *Config) { c.ReclaimInterval = 0 }},
		{"negative cache", func(c *Config) { c.CacheBytes = -1 }},
		{"tiny memtable", func(c *Config) { c.MemTableBytes = 1024 }},
		{"huge memtable", func(c *Config) { c.MemTableBytes = 4 << 30 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mod(&c)
			if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
			}
			if _, err := Open(c); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Open = %v, want ErrInvalidConfig", err)
			}
		})
	}
}
