// Package engine stores ringcache records in Pebble: one record (value or
// tombstone, version, expiry) per user key, merged last-write-wins.
//
// # Record format
//
// A stored value is format byte 1, a flags byte (tombstone, has-expiry,
// evicted), the version (Wall int64, Logical uint32, Node uint64,
// big-endian) at a fixed offset, the expiry (only if set), then the value
// bytes. Tombstones carry neither value nor expiry; an eviction's
// tombstone carries the eviction's time in the expiry's place. The
// encoding is canonical, so a decoded record re-encodes to the same
// bytes, and DecodeVersion reads the header alone: the last-write-wins
// check never copies a value. A new format gets a new first byte.
//
// # Key layout
//
// All keyspaces share one Pebble DB and are told apart by the first byte:
//
//	'd' + BE64 Token(user key) + user key      -> encoded record (data)
//	'x' + BE64 due ms + 'e' + data key         -> empty (expiry index)
//	'y' + BE64 due ms + 'p' + data key         -> BE64 stored ms + version (purge index)
//	'm' + "layout"                             -> engine metadata (layout version)
//	'm' + 'u' + name                           -> user metadata (PutMeta)
//	'h' + len + target + BE64 token + user key -> BE64 createdMs + encoded record (hint)
//
// Data keys are ordered by token (the key's ring position), so one token
// range of the ring is one contiguous Pebble scan: anti-entropy and range
// handoff read exactly the keys they own (Scan). The two indexes are
// ordered by due time, so the reclaimer finds due work by scanning their
// fronts instead of all data. Tombstones' purge entries have an index of
// their own so that walks of the expiry index (Count, SampleExpiring)
// never step over them; a store written by an earlier build keeps its
// purge entries in the expiry index until they are due, and the
// reclaimer reads both. (A build before the purge index does not read
// it: a store taken back to one keeps the tombstones whose purge entries
// went there.)
//
// # Tokens and hash tags
//
// Token is the xxhash64 of the key's Redis Cluster hash tag (the bytes
// between the first '{' and the first '}' after it, if any) or, without
// one, of the whole key; HashSlot returns the bytes hashed. Keys sharing
// a tag share a token, so the same replicas hold them all, they share a
// stripe, and they sit together in token order (SCAN, Scan). The
// user keys the engine stores are the server's store keys, which carry a
// database prefix (StoreKeyMark, a uvarint) whose bytes may be braces:
// Token looks for the tag after that prefix.
//
// The layout version under 'm' + "layout" names the token function data
// was placed with. Layout 1 hashed the whole key; Open moves a layout-1
// store's tagged keys (records, index entries, hints) to their layout-2
// tokens, and its purge entries into the purge index, before serving,
// crash-safely (migrate.go), and refuses a layout it does not know with
// ErrCorrupt.
//
// Pebble keeps a record in one block however large it is, and a fresh
// iterator reads (and decompresses) the block its first seek lands in: a
// record of tens of megabytes makes every separate Scan that starts near it
// pay for reading it. ScanSpans reads many small spans in one pass through
// one iterator, so anti-entropy's hundreds of partial-leaf scans per round
// read such a record once, not once per leaf.
//
// # Last-write-wins and versions
//
// Versions are hybrid logical clock timestamps: Wall (ms) and Logical
// order writes, Node breaks ties, so distinct writes never compare equal.
// Apply replaces the stored record only if the incoming version is newer;
// an equal version is a no-op. The merge is commutative, associative and
// idempotent: replicas that receive the same writes in any order, any
// number of times, converge to the same state. Deletes are tombstones that
// win like any write, so an older copy arriving late cannot resurrect a
// deleted key.
//
// # Concurrency
//
// Apply is read-compare-write. It runs under a per-key stripe (one of 1024
// mutexes chosen by the token's top bits), so two writers of a key never
// interleave between read and commit. ApplyBatch sorts its keys by token,
// which visits stripes in ascending order; everything that holds several
// stripes (ApplyBatch, the hint writers, the reclaimer, DropAll,
// DropHints) takes them ascending, so there is no deadlock. A batch is
// one Pebble commit. Reads take no stripe.
//
// # The presence filter
//
// The read of Apply's read-compare-write, and a read of a missing key,
// skip Pebble when an in-memory Bloom filter of the stored keys says the
// key is not there (presence.go): in a store much larger than the row
// cache, a new key's read searches every level to find nothing. Writers
// add their keys after the commit and before they release the stripes,
// and the filter is rebuilt by a scan (after Open, when it is full, after
// DropAll) in an order that never leaves a stored key out of it.
//
// # Expiry and tombstones
//
// An expired record is invisible to readers (Record.Live) at once, and is
// counted out by Count through the index before the reclaimer runs. Every
// ReclaimInterval the reclaimer handles due index entries under their
// stripes: an expired record becomes a tombstone with the SAME version
// (the value is freed, and an older replica copy can never win over it); a
// tombstone whose Version.Wall is older than TombstoneGrace is deleted if
// PurgeAllowed agrees (otherwise asked again later). Its purge entry holds
// its version and when this engine stored it over a record of the key (0
// if it held none), which PurgeAllowed is told: a tombstone that arrives
// late (through repair or hints, or made here by an expiry) has been on
// this node for less time than its version says. A write that
// changes or drops a record's expiry deletes the old expiry entry in its
// own batch, as evictions and DropRange do, so the expiry entries are the
// live records' own. Entries whose record changed since (a tombstone's
// purge entry after a newer write, an expiry entry a store written by an
// earlier build kept) are dropped when due. Reclaim commits do not wait
// for fsync:
// if lost, the index entry is still there and the work is redone.
//
// # Dataset size and eviction
//
// UsedBytes is the live dataset's size: RecordBytes (key, value and a
// fixed per-record overhead, plus the expiry index entry of a record with
// a TTL) summed over the records that are not tombstones. It changes with
// the live counter, under the same rule, and Open recounts it. Sample
// draws random live records (those after random tokens) for eviction
// (engine/evict), SampleExpiring the records with a TTL through the
// expiry index (for the volatile policies, when such keys are rare), and
// Config.OnRead tells it about reads.
//
// An eviction is a tombstone with EvictedAt set, of version
// EvictedVersion(v): the least version newer than the evicted record's
// v, so it beats that record and every older copy, and loses to any
// later write. Its grace period runs from EvictedAt and is
// EvictionGrace (evictions come at the write rate of a full cache). A
// single node evicts with EvictSampled (or EvictLocal) instead: it deletes
// the records outright, and their expiry entries, as no replica needs a
// tombstone. EvictSampled
// takes the records as Sample returned them and reads one back only when
// the write clock (writeclock.go) says its key changed since the sample.
//
// # Hints
//
// A hint is a write this node holds for a replica (the target node) that
// could not take it. Hints are not data: Lookup, Scan, Count and the digest
// never see them. Each target's hints are one contiguous range in (token,
// key) order, so the cluster delivers them with ScanHints pages and drops a
// decommissioned target with one range delete (DropHints). PutHints merges
// last-write-wins per (target, key) like ApplyBatch, keeps the older
// createdMs (the data has been pending since then) and has the same
// durability as a data write, because a hint acknowledges a client write.
// DeleteHints deletes a hint only if it still holds the delivered version,
// so a newer hint that arrived during delivery stays. Hint writes hold the
// keys' stripes; after each commit they update in-memory per-target totals
// (count, bytes, oldest createdMs kept as per-second lists of millisecond
// counts), which Open rebuilds with one scan of the 'h' keyspace, so
// HintQueues and Stats never scan.
//
// # Counts and pages
//
// The live counter (Count) and, with Config.Classify, per-class figures
// (ClassCounts: the server's databases) change with every commit that
// changes a record, so DBSIZE and INFO never scan. ScanPage reads the
// data keyspace in token order in pages that end on steps of
// 1<<PageBits tokens: SCAN's cursor.
//
// # Metadata
//
// PutMeta, GetMeta, DeleteMeta and ScanMeta keep small named values for
// the cluster layer (node identity, ring state, repair progress) under
// 'm' + 'u', apart from the engine's own layout key. Metadata writes are
// rare and must survive power loss, so each one fsyncs the WAL before it
// returns, whatever the fsync mode. DropAll leaves metadata alone.
//
// DropAllAt also raises the flush floor, kept under the engine's own
// 'm' keys: from then on no record or hint older than it is stored, so a
// cluster flush is not undone by a repair or a hint replay that read a
// record before it. RaiseFloor raises it on a replica the flush missed,
// when anti-entropy shows it a fellow replica's, and drops the records
// older than it (floor.go).
//
// # Digest
//
// Anti-entropy compares replicas through a Merkle tree whose 65536 leaves
// (DigestBuckets) are token ranges: the top 16 bits of the token. A leaf is
// the XOR of ElementHash(key, version, expiry, tombstone) over the data
// records in it, tombstones and expired-but-unreclaimed records included.
// XOR is order-independent and self-inverse, so the engine maintains the
// leaves incrementally: every change to a record XORs out the old record's
// hash and XORs in the new one, after the commit, while the key's stripe
// is held. A leaf lies inside one stripe (16 bits refine the stripe's 10),
// so its writers are already serialized and the leaves can be plain atomic
// words that readers load without locks. ApplyBatch gets the old header
// from the read it already does for last-write-wins; the reclaimer hashes
// the expiry (value to tombstone, same version) and the purge; DropAll
// zeroes every leaf; Open rebuilds the leaves during the scan that counts
// live records. Config.NoDigest turns this off to measure its cost.
//
// # Durability
//
// Facts about Pebble v1.1.5 (record/log_writer.go, commit.go): a commit
// copies the batch into the WAL writer's in-memory 32 KiB block and returns.
// The block reaches the OS (write(2)) from a background goroutine, only
// when a block fills or when a synced commit asks for it. So a NoSync
// commit has NOT necessarily reached the OS when it returns. A Sync commit
// waits for write and fsync, and all commits waiting at that moment share
// the fsync (group commit). Pebble also syncs the old WAL when it rotates
// to a new memtable, and on Close.
//
// The engine therefore commits every write with pebble.Sync, in every
// mode, so the log writer hands it to the OS before the commit returns. In
// FsyncEverySec and FsyncNo the WAL file's Sync is deferred (walguard.go):
// it marks the file dirty and returns, and the real fsync runs every second
// (everysec), when Pebble closes the WAL file (rotation, Close), or never
// before that (no).
//
//	mode      ack after                    SIGKILL can lose   power loss can lose
//	always    WAL write + fsync            nothing            nothing acknowledged
//	everysec  WAL write to the OS          nothing            up to ~1 s of writes
//	no        WAL write to the OS          nothing            writes since the last WAL
//	                                                          rotation or Close
//
// Close syncs in every mode.
//
// # Write failures
//
// Pebble treats a failed WAL write as fatal: the commit path calls
// Logger.Fatalf (which exits the process by default), or panics outright,
// in DB.commitWrite and DB.rotateWAL, while holding its commit and DB
// mutexes. The engine makes that an error instead: its Pebble logger
// panics with a typed value from Fatalf, every write recovers and returns
// an error wrapping ErrWrite (and the storage error, e.g. ENOSPC), and the
// engine then refuses writes (reads keep working) until reopened. A wrapper
// around the filesystem sees WAL write errors as they happen, so later
// writes are refused before they can reach Pebble's broken state. If a
// panic did leave Pebble's mutexes held ("wedged"), Close cannot close
// Pebble and says so; the process should exit and reopen the store. What
// was acknowledged before the failure is intact after reopening, per the
// table above. Fatalf raised on Pebble's own goroutines (a MANIFEST write
// failing during a flush) cannot be recovered and still ends the process.
package engine
