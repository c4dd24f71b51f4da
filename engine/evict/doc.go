// Package evict keeps a node's dataset within its budget (maxmemory):
// it chooses the keys that go, with Redis's policies, and has them
// deleted.
//
// # Decision and I/O
//
// Policy, the pool and the Sketch are pure: the pool is Redis's eviction
// pool (the 16 best candidates seen, by a score that is the idle time,
// the inverted frequency or the nearness of expiry), the Sketch is the
// access signal. The Evictor is the loop around them: it reads the
// dataset size and samples records from its Source (the engine), keeps
// the candidates this node may evict (Config.Owns: in a cluster, the keys
// it is the primary of), and hands the victims to Config.Delete, each
// with its record as sampled and its eviction tombstone. What Delete does
// is the caller's: a single node deletes the sampled records from its
// engine (engine.EvictSampled, which reads a victim back only if the
// engine's write clock says its key changed since the sample), a cluster
// node writes the tombstones to each key's replicas through the
// coordinator, so every replica drops the key (see the engine's doc on
// eviction tombstones).
//
// # Sampling
//
// Tokens are hashes, so the records that follow a random token in the
// store's token order are a random sample of its keys: a batch seeks to
// one random token and its rounds look at the keys that follow. A round
// offers perRound*Samples keys to the pool and takes its perRound best,
// so a key evicted costs Samples keys looked at, as in Redis, and a batch
// of 64 one seek (a seek positions an iterator on every level of the
// store: it costs as much as many steps).
//
// A sample "after a random token" is drawn in proportion to the token
// space it covers, and eviction makes that space uneven: stretches where
// keys were evicted are sparse, and the keys written since stand out
// there. The random policies, which take their victims straight from the
// sample, correct for it: each round gives victims in proportion to its
// density (chooseRandom), so every stored key is about as likely to go,
// whenever it was written. The pool's policies rank what they sample and
// keep the best; the unevenness only makes their sample hold more young
// keys than a uniform one would.
//
// The volatile policies look only at keys with a TTL, and these may be
// too few among the others for a window to hold one. A pass whose window
// holds none samples the engine's expiry index instead (every key there
// has a TTL), from a random point in it; only when that holds none this
// node may evict does the pass find nothing to evict.
//
// # The access signal
//
// A record's version says when it was written. Reads are recorded by the
// engine's read hook (Evictor.OnRead, only while a budget with an LRU or
// LFU policy is set) in the Sketch: a fixed table where each key hashes
// to two 64-bit slots holding a last-read time and Redis's logarithmic,
// decaying frequency counter. No write to storage per read, no per-key
// memory; a key that shares its slots with hotter keys looks hotter, never
// colder. So a key's write alone bounds its score, and a sampled key is
// looked up in the Sketch only when that bound could enter the pool; a
// bitmap of the slots in use answers the lookup of a key with an empty
// slot (one never read) without a load from the table.
//
// # Backpressure
//
// The loop runs every Interval and whenever a write finds the dataset
// past the budget (Admit wakes it). Admit lets writes run ahead of
// eviction by Margin; past it, it holds them until eviction catches up
// (at most MaxWait). Under NoEviction, or when the policy finds nothing to
// evict, it refuses them: the server answers Redis's -OOM error.
package evict
