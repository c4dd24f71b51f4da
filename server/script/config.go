package script

import (
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Config configures an Engine.
type Config struct {
	// Logger receives redis.log lines: LOG_DEBUG at slog.LevelDebug,
	// LOG_VERBOSE at LevelDebug+2, LOG_NOTICE at LevelInfo and LOG_WARNING
	// at LevelWarn. Default: a logger that discards.
	Logger *slog.Logger
	// BusyThreshold is how long a script runs before Busy reports it and
	// Kill may stop it (Redis's busy-reply-threshold, formerly
	// lua-time-limit). 0 means scripts never count as busy. Default 5s.
	BusyThreshold time.Duration
	// MaxCached bounds the number of cached scripts; 0 means unbounded, as
	// Redis 7.0 is. When EVAL would go past the bound, the oldest script
	// cached by EVAL is dropped; scripts cached by Load (SCRIPT LOAD) are
	// never dropped, because clients that loaded them expect EVALSHA to
	// keep working. Default 0.
	MaxCached int
}

// DefaultConfig returns the defaults described on Config's fields.
func DefaultConfig() Config {
	return Config{
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		BusyThreshold: 5 * time.Second,
	}
}

// Validate reports a setting that cannot work, wrapping ErrConfig.
func (c Config) Validate() error {
	if c.BusyThreshold < 0 {
		return fmt.Errorf("%w: BusyThreshold %v is negative", ErrConfig, c.BusyThreshold)
	}
	if c.MaxCached < 0 {
		return fmt.Errorf("%w: MaxCached %d is negative", ErrConfig, c.MaxCached)
	}
	return nil
}

// withDefaults fills the zero fields that have a non-zero default.
func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = DefaultConfig().Logger
	}
	return c
}
