package engine

import (
	"fmt"
	"sync/atomic"
)

// Key classes. Config.Classify sorts keys into Config.Classes classes
// (the server's databases), and the engine keeps, per class, the number
// of live records, how many of them expire, and the sum of those
// expiries, as Apply, the reclaimer, DropRange and DropAll change
// records. So a database's DBSIZE and its INFO keyspace line (keys,
// expires, avg_ttl) cost no scan. Like the live counter, the figures
// count records whose expiry passed until the reclaimer turns them into
// tombstones; ClassCounts subtracts those.

// ClassCount is one class's figures at a moment.
type ClassCount struct {
	// Keys is the number of live keys; Expires how many of them have an
	// expiry.
	Keys, Expires int64
	// ExpireSum is the sum of those keys' expiries, Unix seconds (so
	// that it cannot overflow): avg TTL is ExpireSum/Expires less now.
	ExpireSum int64
}

// classStats is the per-class counters; nil when classes are off.
type classStats struct {
	classify func([]byte) int
	keys     []atomic.Int64
	expires  []atomic.Int64
	expSum   []atomic.Int64
}

func newClassStats(cfg Config) *classStats {
	if cfg.Classes <= 0 || cfg.Classify == nil {
		return nil
	}
	return &classStats{classify: cfg.Classify, keys: make([]atomic.Int64, cfg.Classes),
		expires: make([]atomic.Int64, cfg.Classes), expSum: make([]atomic.Int64, cfg.Classes)}
}

// classOf returns key's class, or -1 (no class, or out of range).
func (c *classStats) classOf(key []byte) int {
	if c == nil {
		return -1
	}
	k := c.classify(key)
	if k < 0 || k >= len(c.keys) {
		return -1
	}
	return k
}

// add counts a live record (expiring at exp, 0 for never) of class k
// in (sign 1) or out (sign -1).
func (c *classStats) add(k int, exp int64, sign int64) {
	if k < 0 {
		return
	}
	c.keys[k].Add(sign)
	if exp != 0 {
		c.expires[k].Add(sign)
		c.expSum[k].Add(sign * (exp / 1000))
	}
}

// classDelta is one record's change, applied once its batch commits.
type classDelta struct {
	class            int
	oldLive, newLive bool
	oldExp, newExp   int64
}

func (c *classStats) apply(ds []classDelta) {
	for _, d := range ds {
		if d.oldLive {
			c.add(d.class, d.oldExp, -1)
		}
		if d.newLive {
			c.add(d.class, d.newExp, 1)
		}
	}
}

func (c *classStats) reset() {
	for k := range c.keys {
		c.keys[k].Store(0)
		c.expires[k].Store(0)
		c.expSum[k].Store(0)
	}
}

// ClassCounts returns each class's figures for the records visible at
// nowMs (nil when classes are off): the counters, less the records whose
// expiry is due by nowMs that the reclaimer has not reclaimed yet (found
// through the expiry index, normally a handful).
func (e *Engine) ClassCounts(nowMs int64) ([]ClassCount, error) {
	c := e.classes
	if c == nil {
		return nil, nil
	}
	if err := e.enter(); err != nil {
		return nil, err
	}
	defer e.leave()
	out := make([]ClassCount, len(c.keys))
	for k := range out {
		out[k] = ClassCount{Keys: c.keys[k].Load(), Expires: c.expires[k].Load(), ExpireSum: c.expSum[k].Load()}
	}
	err := e.dueExpiries(nowMs, func(dk []byte, exp int64) {
		if k := c.classOf(UserKey(dk)); k >= 0 {
			out[k].Keys--
			out[k].Expires--
			out[k].ExpireSum -= exp / 1000
		}
	})
	if err != nil {
		return nil, fmt.Errorf("engine: class counts: %w", err)
	}
	return out, nil
}
