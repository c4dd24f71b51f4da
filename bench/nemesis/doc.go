// Package nemesis is ringcache's fault-injection suite: it starts a real
// cluster (5 processes, N=3, R=W=2, hinted handoff on, anti-entropy every
// 10 s), drives a recorded workload through every node, injects one fault,
// heals it, and checks the history of what the clients saw against the
// cluster's final state.
//
// # A scenario
//
// Each scenario runs on a fresh cluster in its own directory (data and one
// log per node):
//
//	warm-up   the workload alone
//	fault     one fault, from its injection to its heal (the "fault phase")
//	after     the workload goes on against the healed cluster
//	final     the workload stops; once every node sees every other alive and
//	          no node holds a hint (both waits bounded), RINGCACHE REPAIR
//	          runs once on every node; then each sampled key's owners are
//	          read with RINGCACHE LOCALGET and every key with a quorum GET
//
// The faults are: none; SIGKILL of one node, restarted on its data; SIGKILL
// of two nodes; SIGSTOP of one node, then SIGCONT; a rolling restart
// (SIGTERM, wait for the exit, restart, wait until every node sees it
// alive, next node); disk loss (SIGKILL, the data directory removed, a
// restart with the same --node-id); and a partition of one node's gossip
// and cluster ports from the others (iptables rules on the loopback
// interface, see partition.go; skipped where iptables cannot be used).
// The membership scenarios (lifecycle.go) make the fault a topology
// operation, run to its end: a join, two joins at once, a join with an
// old replica down, a leave, a removal; or strike in the middle of a
// join's streaming: SIGKILL of a node it streams from, of the joining
// node, of the layout's leader, or a partition of a minority that then
// tries to change the topology.
//
// The evict scenario is kill9-one on nodes that evict: each runs with
// --maxmemory Config.EvictBudget (a third of what the workload adds to
// one node's dataset during the warm-up, so that the dataset outgrows it
// about three times before the fault; some 48 KB per node in the short
// form, 190 KB in the full one) and --maxmemory-policy allkeys-lru. A
// node evicts the keys it is the primary of, by writing a tombstone of
// the version just above the evicted record's to the key's replicas; the
// evictions of keys the killed node owns travel to it as hints. Its
// register writers send no INCRBYFLOAT (the increment of an evicted
// value starts again from 0). Its final phase first stops the eviction
// (CONFIG SET maxmemory 0 on every node) and waits until no eviction is
// under way, so that what the checks read is what the last repair round
// left; it reads the owners of every acknowledged key, not a sample; and
// after the reads it SETs up to 300 of the keys found absent again, with
// a new value, and reads each back through another node.
//
// # The workload
//
// Every client holds one connection to every node and picks the node per
// operation; go-redis retries are off, so each failure is seen once. The
// clients have roles: inserters SET unique keys ("ins:"); register writers
// each own a series of registers ("reg:") and SET each one to 1, 2, 3, ...
// back to back, each write through the next node, then read it back
// through a third node; deleters SET a key ("del:"), DEL it through another
// node and GET it through a third; readers GET acknowledged inserts,
// recent registers and deleted keys through random nodes. Each client is
// paced by its own rate limiter, so the load stays steady and leaves the
// machine's cores to the nodes. The back-to-back writes are what makes two
// coordinators stamp consecutive writes of one key within the same
// millisecond.
//
// Every operation is recorded with its invocation and completion time on
// the checker's monotonic clock, its node, its outcome and its value. A
// write that failed in any way (an error reply, a timeout, a refused
// connection) is indeterminate: it may or may not have taken effect, it
// counts against availability and never as acknowledged.
//
// # The checks
//
// Check is a pure function of the history and the final state (check.go);
// the unit tests feed it synthetic histories that must pass and one that
// must fail for each kind of violation. The kinds are listed on Result.
//
// The evict scenario is checked in the eviction mode (Final.Evict). A
// cache may lose keys, so a read that finds nothing and an acknowledged
// insert or register absent at the end are allowed, and counted apart
// (Result.Evicted, reported, never a failure): absent at the end means
// that its final read found nothing and that none of its owners holds a
// value (a tombstone or nothing on each). Everything else holds as in the
// other scenarios: no read returns a value older than one acknowledged
// before it was invoked (StaleReads), an acknowledged DEL stays deleted
// (UndoneDeletes), no value comes from nowhere (BadValues), the members
// agree on the owners (SplitOwners); a key present at the end is present
// on all its owners with the value of its final read, which is the last
// acknowledged one or a later indeterminate one (NotOnOwners, Lost,
// Discarded: an eviction never deletes a newer version and cannot bring
// back an older one); and an acknowledged insert is on W of its owners
// before the repair, its eviction's tombstone counting for its value. Three
// checks are the mode's own: INFO evicted_keys summed over the nodes
// must not be 0 (else nothing was tested: Incomplete); no owner of a
// checked key may hold a record whose version is later than the wall
// clock once the owners were read (FutureVersions: the nodes share the
// checker's clock, and an eviction only steps one past the version it
// evicts); and each key written again at the end must read back that
// write (RewritesLost: a write after an eviction wins over it).
package nemesis
