package engine

import (
	"fmt"
	"log/slog"
	"runtime"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
)

// pebbleOptions tunes Pebble for a cache: point reads dominate, so every
// level gets a bloom filter; writes come in bursts, so L0 may grow further
// before writes stall than Pebble's defaults allow.
//
// LBaseMaxBytes stays at Pebble's default (64 MiB). Pebble sizes the
// levels from the store: while nine tenths of it (L0 included) fit in
// LBaseMaxBytes, L6 is the base level and L0 compacts straight into it;
// beyond that (about 71 MiB here, 284 MiB with 256 MiB) the base level
// moves up to L5. Data keys are ordered by their hash token, so every
// flush spreads over the whole key space, and compacting it merges it
// with the L6 tables under each of its key ranges: until the base level
// moves, the whole store is rewritten every few flushes, and the larger
// LBaseMaxBytes, the larger the store rewritten per byte written. With
// 256 MiB a node whose store grew past 100 MiB spent 6-17% more CPU per
// SET (redis-benchmark SET -P 16 of fresh keys, 5 and 8 million, four
// pairs of runs in turn); its GETs cost the same within the noise.
func pebbleOptions(cfg Config, fs *walGuardFS, cache *pebble.Cache) *pebble.Options {
	opts := &pebble.Options{
		FS:                          fs,
		Cache:                       cache,
		MemTableSize:                uint64(cfg.MemTableBytes),
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       24,
		MaxConcurrentCompactions:    func() int { return max(1, min(4, runtime.GOMAXPROCS(0)/2)) },
		FormatMajorVersion:          pebble.FormatNewest,
		Logger:                      pebbleLogger{log: cfg.Logger},
		EventListener:               eventListener(cfg.Logger),
	}
	opts.Levels = make([]pebble.LevelOptions, 7)
	for i := range opts.Levels {
		opts.Levels[i] = pebble.LevelOptions{
			FilterPolicy: bloom.FilterPolicy(10),
			FilterType:   pebble.TableFilter,
		}
	}
	opts.EnsureDefaults()
	return opts
}

// eventListener forwards the events an operator acts on: background errors
// and write stalls.
func eventListener(log *slog.Logger) *pebble.EventListener {
	return &pebble.EventListener{
		BackgroundError: func(err error) {
			log.Warn("pebble background error", "err", err)
		},
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
			log.Warn("pebble write stall", "reason", info.Reason)
		},
		WriteStallEnd: func() { log.Info("pebble write stall ended") },
	}
}

// pebbleLogger routes Pebble's messages to slog: Infof at debug level (it
// is chatty), Fatalf at error level followed by a panic.
//
// Pebble calls Fatalf (and by default exits the process) when a commit
// fails, for example because the WAL cannot be written. The panic carries
// a pebbleFatal, which the engine's write paths recover and turn into
// ErrWrite. A Fatalf raised on one of Pebble's own goroutines (MANIFEST
// write failure during a flush, invariant violations) is not recoverable
// and still ends the process, as Pebble intends: its state is unknown.
type pebbleLogger struct{ log *slog.Logger }

// pebbleFatal is the panic value of Fatalf. It unwraps to the first error
// among Fatalf's arguments, so errors.Is still sees the storage error.
type pebbleFatal struct {
	msg   string
	cause error
}

func (f pebbleFatal) Error() string { return f.msg }
func (f pebbleFatal) Unwrap() error { return f.cause }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error(msg, "component", "pebble")
	f := pebbleFatal{msg: msg}
	for _, a := range args {
		if err, ok := a.(error); ok {
			f.cause = err
			break
		}
	}
	panic(f)
}
