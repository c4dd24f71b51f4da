package evict

import (
	"errors"
	"fmt"
	"strings"
)

// ErrPolicy is returned for a maxmemory-policy name that is not known.
var ErrPolicy = errors.New("evict: unknown maxmemory-policy")

// Policy is a maxmemory-policy: which keys go when the budget is full.
type Policy uint8

// The policies, with Redis's meanings. The allkeys- ones choose among all
// keys, the volatile- ones among keys with an expiry.
const (
	NoEviction Policy = iota // refuse writes that would grow the dataset
	AllKeysLRU               // least recently used
	AllKeysLFU               // least frequently used
	AllKeysRandom
	VolatileLRU
	VolatileLFU
	VolatileRandom
	VolatileTTL // nearest expiry first
)

var policyNames = [...]string{
	NoEviction: "noeviction", AllKeysLRU: "allkeys-lru", AllKeysLFU: "allkeys-lfu", AllKeysRandom: "allkeys-random",
	VolatileLRU: "volatile-lru", VolatileLFU: "volatile-lfu", VolatileRandom: "volatile-random", VolatileTTL: "volatile-ttl",
}

// ParsePolicy parses a policy name, case-insensitively.
func ParsePolicy(s string) (Policy, error) {
	for p, name := range policyNames {
		if strings.EqualFold(s, name) {
			return Policy(p), nil
		}
	}
	return 0, fmt.Errorf("%w %q (want one of %s)", ErrPolicy, s, strings.Join(policyNames[:], ", "))
}

func (p Policy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// Volatile reports whether p chooses only among keys with an expiry.
func (p Policy) Volatile() bool { return p >= VolatileLRU }

// LFU reports whether p orders keys by access frequency (and so keeps
// frequencies rather than idle times: OBJECT FREQ).
func (p Policy) LFU() bool { return p == AllKeysLFU || p == VolatileLFU }

// lru reports whether p orders keys by idle time.
func (p Policy) lru() bool { return p == AllKeysLRU || p == VolatileLRU }

// random reports whether p takes keys at random, without a pool.
func (p Policy) random() bool { return p == AllKeysRandom || p == VolatileRandom }
