// Package stall notices when this process stopped running for a while
// (SIGSTOP, a frozen virtual machine, a machine too overloaded to
// schedule it), and tells how old input read just afterwards may be.
//
// A request that arrives while a node is stopped waits in the kernel's
// socket buffer. When the node runs again it reads the request as if it
// had just arrived: a client command would be coordinated with a fresh
// version, overwriting whatever newer writes the cluster acknowledged
// while the caller, long timed out, had moved on; a replica request would
// be applied although its coordinator gave up on it. Nothing in the bytes
// says how long they waited. What the node can know is that it was not
// running: a Detector's goroutine wakes every Tick and records every gap
// between two wakes longer than MinStall as a stall. Arrival then tells,
// for input read at some moment, the earliest moment it may have arrived:
// the start of a stall the read could have been waiting through, or the
// read itself. The RESP server refuses a command whose possible wait is
// longer than the request timeout, and the replica transport counts a
// request's deadline from that moment, so neither applies work its caller
// has given up on.
//
// The estimate errs on the side of age: a read that returned after the
// process resumed but before the detector noticed the stall counts as
// having waited through it. Such reads happen within a tick of a stall
// longer than MinStall, so the only cost is that a request sent just as a
// stopped node resumed may be refused and must be retried.
//
// ReadArrival narrows that with when the read began waiting: input that
// arrived during a stall is in the socket when the process runs again,
// so the read returns then (or as soon as it begins waiting, if its
// connection was busy). A read that returns more than MinStall after
// both waited for input that came after the stall, such as the next
// command of a connection that was idle through it.
package stall
