package main

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/ringcache/ringcache/cluster"
	"github.com/ringcache/ringcache/engine"
	"github.com/ringcache/ringcache/engine/evict"
	"github.com/ringcache/ringcache/server"
)

// readHook is the engine's OnRead before the evictor exists: it passes
// reads on once the evictor is set.
type readHook struct{ ev atomic.Pointer[evict.Evictor] }

func (h *readHook) onRead(key []byte) {
	if ev := h.ev.Load(); ev != nil {
		ev.OnRead(key)
	}
}

// startEvictor starts the node's eviction: on a single node it evicts
// any key by deleting it from the engine; in a cluster it evicts the keys
// this node is the primary of, by writing the eviction tombstones to
// their replicas through the coordinator (so every replica drops them).
func startEvictor(cfg Config, eng *engine.Engine, node *cluster.Node, hook *readHook, log *slog.Logger) (*evict.Evictor, error) {
	ecfg := evict.DefaultConfig()
	ecfg.MaxMemory = int64(cfg.MaxMemory)
	ecfg.Policy = evict.Policy(cfg.MaxMemoryPolicy)
	ecfg.Samples = cfg.MaxMemorySamples
	ecfg.Source = eng
	ecfg.Logger = log.With("component", "evict")
	ecfg.Timeout = cfg.RequestTimeout
	ecfg.Delete = func(_ context.Context, victims []evict.Victim) (int64, error) {
		// No replica to tell: the records sampled go at once, without
		// tombstones (and, once the write clock runs, mostly without a
		// read: engine.EvictSampled). The clock starts with the first
		// eviction, so a node that never fills its budget does not pay
		// for it; that batch's victims are read back.
		eng.StartWriteClock()
		seen := make([]engine.Sampled, len(victims))
		for i, v := range victims {
			seen[i] = v.Sampled
		}
		return eng.EvictSampled(seen)
	}
	if node != nil {
		ecfg.Owns = node.IsPrimary
		ecfg.Delete = func(ctx context.Context, victims []evict.Victim) (int64, error) {
			// Acknowledged by W replicas; one written again meanwhile
			// keeps its newer version there, and is counted all the same.
			keys := make([][]byte, len(victims))
			recs := make([]engine.Record, len(victims))
			for i, v := range victims {
				keys[i], recs[i] = v.Sampled.Key, v.Tombstone
			}
			if err := node.Coordinator().Replicate(ctx, keys, recs); err != nil {
				return 0, err
			}
			return int64(len(keys)), nil
		}
	}
	ev, err := evict.New(ecfg)
	if err != nil {
		return nil, err
	}
	hook.ev.Store(ev)
	return ev, nil
}

// memory is the server's view of the budget (server.Memory).
type memory struct {
	ev  *evict.Evictor
	eng *engine.Engine
}

func (m memory) Admit() bool { return m.ev.Admit() }

func (m memory) Usage() server.MemoryUsage {
	return server.MemoryUsage{Used: m.eng.UsedBytes(), Max: m.ev.MaxMemory(), Policy: m.ev.Policy().String(),
		Evicted: m.ev.Stats().Evicted}
}

func (m memory) DiskBytes() uint64 { return m.eng.Stats().DiskUsageBytes }

func (m memory) Peek(key []byte) server.KeyAccess {
	now := time.Now().UnixMilli()
	sk := m.ev.Sketch()
	a := sk.Peek(key, now)
	return server.KeyAccess{LastReadMs: a.LastRead, AtMs: now, Counter: a.Counter, State: sk.Slots(key)}
}

func (m memory) Freq(key []byte, a server.KeyAccess, writtenMs int64) (int, bool) {
	m.ev.Sketch().Restore(key, a.State)
	if !m.ev.Policy().LFU() {
		return 0, false
	}
	acc := evict.Access{LastRead: a.LastReadMs, Counter: a.Counter}
	return int(m.ev.Sketch().FreqOf(acc, writtenMs, a.AtMs)), true
}

func (m memory) Idle(key []byte, a server.KeyAccess, writtenMs int64) (int64, bool) {
	m.ev.Sketch().Restore(key, a.State)
	if m.ev.Policy().LFU() {
		return 0, false
	}
	return evict.Access{LastRead: a.LastReadMs}.Idle(writtenMs, time.Now().UnixMilli()), true
}
